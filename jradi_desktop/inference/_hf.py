"""Full-precision models through transformers: Bunny, LLaVA-style VLMs and plain causal LMs.

The family comes from the architecture registry (``ModelSpec.architecture``). A family that
names an ``hf_loader`` hook is built natively by it (Bunny: ``_hf_bunny``, transformers' Llama
+ SigLIP, our S² and projector, never its custom code) and generates from ``inputs_embeds``.
A LLaVA folder, or a folder of another family with a processor config, is loaded with
``AutoModelForImageTextToText`` + ``AutoProcessor``, any other with ``AutoModelForCausalLM`` +
``AutoTokenizer``. Only safetensors weights load; custom model code only with
``spec.allow_remote_code``. The chat template is the named one; for ``auto``, the
architecture's (Bunny's: its tokenizer's own template is the base Llama-3's, which Bunny was
not trained with), else the processor's or tokenizer's own.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from jradi_desktop.architectures.stops import end_of_generation_ids
from jradi_desktop.errors import JRadiError
from jradi_desktop.inference._backend import (
    Backend,
    GenerationParams,
    Images,
    Messages,
    StopFilter,
    text_of,
)
from jradi_desktop.inference._devices import best_device, torch_dtype
from jradi_desktop.inference._errors import (
    ModelFileNotFoundError,
    ModelLoadError,
    PromptTooLongError,
)
from jradi_desktop.inference._images import to_pil
from jradi_desktop.inference._templates import template_for
from jradi_desktop.models import folder_problems

if TYPE_CHECKING:
    from jradi_desktop.models import ModelSpec


def _check_folder(path: Path) -> None:
    problems = folder_problems(path)
    if not problems:
        return
    problem = problems[0]
    if problem.kind == "no_folder":
        raise ModelFileNotFoundError.for_path(path, "モデルフォルダー", "Model folder")
    if problem.kind == "no_config":
        raise ModelFileNotFoundError.for_path(
            problem.path, "モデル設定ファイル", "Model config file"
        )
    found_ja = f"（あるのは {problem.found}）" if problem.pickles else ""
    found_en = f" (found {problem.found})" if problem.pickles else ""
    err = ModelLoadError(
        f"「{path}」に safetensors 形式の重みがありません{found_ja}。安全のため pickle 形式"
        "の重みは読み込みません。safetensors に変換してください。",
        f'"{path}" has no safetensors weights{found_en}. Pickle checkpoints are not loaded, '
        "for safety; convert the weights to safetensors.",
    )
    err.path = str(path)
    raise err


def _with_images(messages: Messages, images: Sequence[Any]) -> list[dict[str, Any]]:
    """Messages for a processor's chat template: each image part carries its PIL image."""
    pending = iter([to_pil(image) for image in images])
    out: list[dict[str, Any]] = []
    for message in messages:
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            content = [
                {"type": "image", "image": next(pending)} if part.get("type") == "image" else part
                for part in content
            ]
        out.append({"role": message["role"], "content": content or ""})
    return out


@functools.cache
def _streamer_class() -> type:
    from transformers import TextIteratorStreamer

    class PieceStreamer(TextIteratorStreamer):
        """Streams every complete character at once. transformers' streamer holds symbols
        until a space, and Japanese has none: "。" or an incomplete character would wait for
        the next kanji. Only trailing U+FFFD (a character whose bytes are still arriving) is
        held back here."""

        def put(self, value: Any) -> None:
            if value.dim() > 1:
                value = value[0]
            if self.skip_prompt and self.next_tokens_are_prompt:
                self.next_tokens_are_prompt = False
                return
            self.token_cache.extend(value.tolist())
            text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
            end = len(text.rstrip("\ufffd"))
            printable = text[self.print_len : end]
            self.print_len = max(self.print_len, end)
            if text.endswith("\n"):  # keep decoding cheap: restart after each line
                self.token_cache = self.token_cache[-1:]
                self.print_len = len(self.tokenizer.decode(self.token_cache, **self.decode_kwargs))
            self.on_finalized_text(printable)

    return PieceStreamer


class HFBackend(Backend):
    """transformers on CUDA when available (bf16, or fp16 without bf16 support), else CPU
    (fp32). Generation runs in a thread and streams through ``TextIteratorStreamer``."""

    name: ClassVar[str] = "hf"
    requires: ClassVar[tuple[str, ...]] = ("torch", "transformers")
    install_hint: ClassVar[str] = "pip install 'jradi-desktop[hf]'"

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        path = Path(spec.path)
        _check_folder(path)
        arch = spec.architecture
        self._template = template_for(spec.template)
        if self._template is None and arch is not None and arch.template is not None:
            self._template = template_for(arch.template)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self._device = best_device()
        self.device = self._device
        dtype = torch_dtype("auto", self._device)
        self._vision = spec.has_vision
        self._bunny = None
        try:
            if arch is not None and "hf_loader" in arch.hooks:  # a family Auto cannot load
                self._bunny = arch.hook("hf_loader")(path, dtype, self._device)
                self._processor, self._tokenizer = None, self._bunny.tokenizer
                self._model = self._bunny.model.language
            else:
                self._load_auto(path, dtype)
        except ModelLoadError:
            raise
        except Exception as exc:  # corrupt weights, unknown architecture, out of memory, ...
            err = ModelLoadError(
                f"「{path}」を読み込めませんでした：{exc}",
                f'Could not load "{path}": {exc}',
            )
            err.path = str(path)
            raise err from exc
        # One stop set with the GGUF backend (architectures/stops.py), not only the config's.
        self._stop_ids = end_of_generation_ids(
            self._tokenizer.get_vocab(), self._model.generation_config.eos_token_id
        )
        self._stop_flag = threading.Event()

    def _load_auto(self, path: Path, dtype: Any) -> None:
        """Model and processor (or tokenizer) through transformers' Auto classes."""
        import transformers

        common = {"local_files_only": True, "trust_remote_code": self.spec.allow_remote_code}
        if self._vision:
            self._processor = transformers.AutoProcessor.from_pretrained(path, **common)
            self._tokenizer = self._processor.tokenizer
            model_cls = transformers.AutoModelForImageTextToText
        else:
            self._processor = None
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(path, **common)
            model_cls = transformers.AutoModelForCausalLM
        # On CUDA, weights go straight to the GPU (accelerate), not through host memory.
        placement = {"device_map": self._device} if self._device == "cuda" else {}
        model = model_cls.from_pretrained(
            path, dtype=dtype, use_safetensors=True, **placement, **common
        )
        self._model = model.to(self._device).eval()

    @property
    def has_vision(self) -> bool:
        return self._vision

    def _inputs(self, messages: Messages, images: Sequence[Any]) -> Any:
        if self._bunny is not None:
            ids = self._bunny.prompt_ids(messages, self._template)
            self._check_length(self._bunny.prompt_length(ids))  # before the images are encoded
            return self._bunny.inputs(ids, images)
        kwargs: dict[str, Any] = {
            "add_generation_prompt": True,
            "tokenize": True,
            "return_dict": True,
            "return_tensors": "pt",
        }
        if self._template is not None:
            kwargs["chat_template"] = self._template
        if self._processor is not None:
            inputs = self._processor.apply_chat_template(_with_images(messages, images), **kwargs)
        else:
            flat = [{"role": m["role"], "content": text_of(m.get("content"))} for m in messages]
            inputs = self._tokenizer.apply_chat_template(flat, **kwargs)
            bos = self._tokenizer.bos_token_id
            if bos is not None and int(inputs["input_ids"][0, 0]) != bos:
                # A template without BOS (Bunny's): add it, as the processor and llama.cpp do.
                import torch

                for key, value in (("input_ids", bos), ("attention_mask", 1)):
                    column = torch.full((1, 1), value, dtype=inputs[key].dtype)
                    inputs[key] = torch.cat([column, inputs[key]], dim=1)
        return inputs.to(self._device)

    def _generate(
        self, messages: Messages, images: Images, params: GenerationParams
    ) -> Iterator[str]:
        thread = None
        try:
            thread, streamer, outcome = self._start(messages, images, params)
            stops = StopFilter(params.stop)
            for piece in streamer:
                if self._cancel.is_set():
                    break
                text = stops.push(piece)
                if text:
                    yield text
                if stops.stopped:
                    break
            else:
                if text := stops.flush():
                    yield text
            self._stop_flag.set()
            thread.join()
            if "error" in outcome:
                raise outcome["error"]
            self.generated_tokens = outcome.get("n_new", 0)
            if self._cancel.is_set():
                self.finish_reason = "cancelled"
            elif stops.stopped or outcome.get("n_new", 0) < params.max_new_tokens:
                self.finish_reason = "stop"
            else:
                self.finish_reason = "length"
        finally:
            self._stop_flag.set()
            if thread is not None:
                thread.join()

    def _start(
        self, messages: Messages, images: Sequence[Any], params: GenerationParams
    ) -> tuple[threading.Thread, Any, dict[str, Any]]:
        import torch
        from transformers import (
            LogitsProcessor,
            LogitsProcessorList,
            StoppingCriteria,
            StoppingCriteriaList,
        )

        inputs = self._inputs(messages, images)
        # generate returns the prompt ids before the new ones; from inputs_embeds, only the new
        n_prompt = inputs["input_ids"].shape[1] if "input_ids" in inputs else 0
        self._check_length(n_prompt or inputs["inputs_embeds"].shape[1])
        flag, cancel = self._stop_flag, self._cancel
        flag.clear()

        class _Stop(StoppingCriteria):
            """Checked after every token: stop once cancelled or the consumer is done."""

            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                stop = flag.is_set() or cancel.is_set()
                return torch.full((input_ids.shape[0],), stop, device=input_ids.device)

        class _Finite(LogitsProcessor):
            """Stops with a clear error when a step's logits are not finite."""

            def __call__(inner, input_ids: Any, scores: Any) -> Any:
                self.check_logits(bool(torch.isfinite(scores).all()))  # no copy off the GPU
                return scores

        streamer = _streamer_class()(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        sampling = (
            {
                "do_sample": True,
                "temperature": params.temperature,
                "top_p": params.top_p,
                "top_k": 0,
            }
            if not params.greedy
            else {"do_sample": False}
        )
        pad = self._tokenizer.pad_token_id
        gen_kwargs = {
            **inputs,
            **sampling,
            "max_new_tokens": params.max_new_tokens,
            "repetition_penalty": params.repeat_penalty,
            "streamer": streamer,
            "stopping_criteria": StoppingCriteriaList([_Stop()]),
            "logits_processor": LogitsProcessorList([_Finite()]),
            "pad_token_id": pad if pad is not None else self._tokenizer.eos_token_id,
            "eos_token_id": self._stop_ids,
        }
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                if not params.greedy:
                    torch.manual_seed(params.seed)
                with torch.inference_mode():
                    out = self._model.generate(**gen_kwargs)
                outcome["n_new"] = int(out.shape[1]) - n_prompt
            except JRadiError as exc:  # already says what to do (non-finite logits)
                outcome["error"] = exc
                streamer.end()
            except Exception as exc:  # reported to the consumer, never lost in the thread
                outcome["error"] = self._generation_error(exc)
                streamer.end()

        thread = threading.Thread(target=run, name="jradi-hf-generate", daemon=True)
        thread.start()
        return thread, streamer, outcome

    def _check_length(self, n_prompt: int) -> None:
        """:class:`PromptTooLongError` unless the prompt and one new token fit the context."""
        limit = getattr(self._model.config.get_text_config(), "max_position_embeddings", None)
        context = min(limit, self.spec.context) if limit else self.spec.context
        if n_prompt + 1 > context:
            raise PromptTooLongError(
                f"入力（{n_prompt} トークン）がコンテキスト長 {context} に収まりません。"
                "会話を短くしてください。",
                f"The input ({n_prompt} tokens) does not fit the context of {context} tokens; "
                "shorten the conversation.",
            )

    def close(self) -> None:
        if self._closed:
            return
        if hasattr(self, "_stop_flag"):
            self._stop_flag.set()
        self._cancel_and_wait()
        self._model = None
        self._processor = None
        self._tokenizer = None
        if getattr(self, "_bunny", None) is not None:
            self._bunny.close()
            self._bunny = None
        import gc

        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
