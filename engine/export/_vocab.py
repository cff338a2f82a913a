"""The tokenizer of a Hugging Face folder, written into a GGUF file for llama.cpp.

Only byte-level BPE tokenizers with Llama 3's pre-tokenizer split are accepted: llama.cpp
knows that split as pre-type ``llama-bpe`` and then tokenises exactly as ``tokenizers`` does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gguf

from engine.errors import ExportError

_LLAMA3_SPLIT_MARK = r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path}: cannot read tokenizer file ({exc}).") from exc


def chat_template_of(folder: Path, tokenizer_config: dict[str, Any]) -> str | None:
    """The chat template as transformers 5 saves it (``chat_template.jinja``) or older ones."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    template = tokenizer_config.get("chat_template")
    if isinstance(template, list):  # named templates: take the default one
        template = next((t["template"] for t in template if t.get("name") == "default"), None)
    return template


def add_tokenizer(writer: gguf.GGUFWriter, folder: Path, n_vocab: int) -> None:
    """Write tokens, types, merges, special ids and chat template of ``folder``'s tokenizer."""
    tok_path = folder / "tokenizer.json"
    if not tok_path.is_file():
        raise ExportError(f"{folder}: tokenizer.json is missing (a fast tokenizer is required).")
    spec = _read_json(tok_path)
    config_path = folder / "tokenizer_config.json"
    config = _read_json(config_path) if config_path.is_file() else {}
    model = spec.get("model", {})
    if model.get("type") != "BPE":
        raise ExportError(
            f"{tok_path}: tokenizer type {model.get('type')!r} is not supported; "
            "supported: byte-level BPE with the Llama 3 pre-tokenizer."
        )
    if _LLAMA3_SPLIT_MARK not in json.dumps(spec.get("pre_tokenizer"), ensure_ascii=False).replace(
        "\\\\", "\\"
    ):
        raise ExportError(
            f"{tok_path}: the pre-tokenizer is not Llama 3's split; llama.cpp would tokenise "
            "differently. Supported: byte-level BPE with the Llama 3 pre-tokenizer."
        )

    id_to_token: dict[int, str] = {i: t for t, i in model["vocab"].items()}
    special_ids: set[int] = set()
    user_ids: set[int] = set()
    for added in spec.get("added_tokens", []):
        id_to_token[added["id"]] = added["content"]
        (special_ids if added.get("special") else user_ids).add(added["id"])
    if max(id_to_token) >= n_vocab:
        raise ExportError(
            f"{tok_path}: token id {max(id_to_token)} does not fit the model's vocabulary of "
            f"{n_vocab}."
        )

    tokens: list[str] = []
    types: list[int] = []
    for i in range(n_vocab):
        if i not in id_to_token:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        else:
            tokens.append(id_to_token[i])
            types.append(
                gguf.TokenType.CONTROL
                if i in special_ids
                else gguf.TokenType.USER_DEFINED
                if i in user_ids
                else gguf.TokenType.NORMAL
            )
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]

    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("llama-bpe")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)

    token_to_id = {t: i for i, t in id_to_token.items()}

    def special(key: str) -> int | None:
        value = config.get(key)
        if isinstance(value, dict):
            value = value.get("content")
        return token_to_id.get(value) if isinstance(value, str) else None

    if (bos := special("bos_token")) is not None:
        writer.add_bos_token_id(bos)
    if (eos := special("eos_token")) is not None:
        writer.add_eos_token_id(eos)
    if (pad := special("pad_token")) is not None:
        writer.add_pad_token_id(pad)
    adds_bos = config.get("add_bos_token")
    if adds_bos is None:
        # tokenizers adds BOS through its post-processor template (Llama 3 does).
        post = json.dumps(spec.get("post_processor"), ensure_ascii=False)
        adds_bos = bos is not None and json.dumps(id_to_token[bos], ensure_ascii=False) in post
    writer.add_add_bos_token(bool(adds_bos))
    writer.add_add_eos_token(bool(config.get("add_eos_token", False)))
    if template := chat_template_of(folder, config):
        writer.add_chat_template(template)
