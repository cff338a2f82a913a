"""Bunny's images into a llama.cpp context: rows from the S² encoder, decoded as embeddings.

llama.cpp has no S² (bunny-v1.1.md §5), so the prompt is evaluated here: the chat rendered
with Bunny's template, split at ``<image>``; chunk 0 tokenised with BOS, later chunks without;
each image's rows decoded as float embeddings at the next positions, in sub-batches of at most
``n_batch`` (a larger batch aborts the process). ``Llama.generate`` then finds the whole prompt
evaluated and samples from its logits. Placeholder ids stand for the image rows in the
``Llama``'s token record, so llama-cpp-python's own prefix matching could take one image's rows
for another's: the context is kept here instead, by segment (a text chunk's tokens, an image's
content key). A prompt that starts with the segments of the one before (a report redrafted
with another indication, the same image asked about again) keeps their positions and
evaluates only the rest, in the same calls and batches as from the start, so its logits are
the same (on the real-size model this skips the 729 image rows: ~27 s of a 33 s prefill on
2 cores).
"""

from __future__ import annotations

import ctypes
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jradi_desktop.architectures import IMAGE_PLACEHOLDER
from jradi_desktop.architectures.bunny_s2 import BUNNY_CHAT_TEMPLATE
from jradi_desktop.contract import VISION_MANIFEST
from jradi_desktop.inference._backend import ENCODE, PREFILL, Message, Progress
from jradi_desktop.inference._errors import ModelLoadError
from jradi_desktop.inference._images import to_pil

if TYPE_CHECKING:
    from PIL import Image

    from jradi_desktop.architectures.bunny_s2 import S2VisionEncoder

_ROW_ID = 0  # the token id recorded for an image row (never decoded as a token)
_CACHE_IMAGES = 4
Segment = tuple[str, Any]  # ("text", token ids) or ("image", the image's content key)


def is_s2_folder(path: Path | None) -> bool:
    """``path`` is an exported S² vision folder (``manifest.json`` inside)."""
    return path is not None and path.is_dir() and (path / VISION_MANIFEST).is_file()


class S2Prompt:
    """Evaluates Bunny prompts with images into ``llm``; image rows cached by content."""

    def __init__(
        self,
        llm: Any,
        folder: Path,
        threads: int | None,
        template: str | None = None,
        *,
        model: Path | None = None,
    ) -> None:
        """``template``: the chat template (Jinja, HF message format); Bunny's by default.
        ``model``: the GGUF the folder must have been exported with (checked when given)."""
        import llama_cpp

        from jradi_desktop.architectures.bunny_s2 import (
            S2VisionEncoder,
            VisionFilesError,
            check_pair,
        )

        try:
            if model is not None:
                check_pair(folder, model)
            self.encoder: S2VisionEncoder = S2VisionEncoder(folder, threads=threads)
            self.encoder.open_session()  # now, not in the first report's wait
        except VisionFilesError as exc:
            raise _load_error(folder, str(exc)) from exc
        width = llama_cpp.llama_model_n_embd(llm._model.model)
        if self.encoder.manifest.embedding_width != width:
            raise _load_error(
                folder,
                f"{folder / 'manifest.json'}: image rows are "
                f"{self.encoder.manifest.embedding_width} wide, the model's embeddings {width}",
            )
        self._llm = llm
        self._width = width
        self._template = template or BUNNY_CHAT_TEMPLATE
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        # What the context holds, from position 0: (segment, its end position) in order.
        self._held: list[tuple[Segment, int]] = []

    def use_trunk(self, trunk: str, threads: int | None = None) -> None:
        """Encode with another trunk file of the folder from now on (cached rows dropped)."""
        from jradi_desktop.architectures.bunny_s2 import S2VisionEncoder

        self.encoder = S2VisionEncoder(self.encoder.manifest.folder, threads, trunk=trunk)
        self.encoder.open_session()
        self._cache.clear()
        self._held = []

    @staticmethod
    def _key(image: Image.Image) -> str:
        return hashlib.sha256(image.tobytes() + repr((image.mode, image.size)).encode()).hexdigest()

    def rows(
        self,
        image: Image.Image,
        on_crop: Callable[[int, int], None] | None = None,
        key: str | None = None,
    ) -> np.ndarray:
        """The image's rows, encoded once per content (regenerating a report, or a second
        question on the same image, does not encode again). ``key``: the image's
        :meth:`_key`, when the caller has it already."""
        key = key or self._key(image)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        rows = np.ascontiguousarray(self.encoder.encode(image, on_crop), dtype=np.float32)
        self._cache[key] = rows
        while len(self._cache) > _CACHE_IMAGES:
            self._cache.popitem(last=False)
        return rows

    def evaluate(
        self,
        messages: Sequence[Message],
        images: Sequence[Any],
        progress: Progress | None = None,
        *,
        ahead: bool = False,
    ) -> list[int]:
        """Evaluate the prompt for ``messages`` and ``images``; its token record. ``ahead``:
        all but the last text, which a later prompt may change (a read-ahead).
        ``progress(phase, done, total)`` hears each crop encoded (``ENCODE``, over the images
        not cached yet) and each batch of positions evaluated (``PREFILL``, from the first
        position not kept from the prompt before)."""
        llm = self._llm
        report = progress or (lambda phase, done, total: None)
        chunks = self.render(messages).split(IMAGE_PLACEHOLDER)
        if len(chunks) - 1 != len(images):
            raise ValueError(f"{len(chunks) - 1} image placeholders for {len(images)} images")
        pictures = [to_pil(image) for image in images]
        keys = [self._key(p) for p in pictures]
        pieces = [llm.tokenize(c.encode("utf-8"), add_bos=i == 0, special=True)
                  for i, c in enumerate(chunks)]  # fmt: skip
        segments: list[Segment] = [("text", tuple(pieces[0]))]
        for key, piece in zip(keys, pieces[1:], strict=True):
            segments += [("image", key), ("text", tuple(piece))]
        kept = self._kept(segments)
        fresh = [(i, p, k) for i, (p, k) in enumerate(zip(pictures, keys, strict=True))
                 if 2 * i + 1 >= kept]  # fmt: skip
        crops = sum(key not in self._cache for _, _, key in fresh) * self.encoder.crops
        encoded = 0
        rows: dict[int, np.ndarray] = {}
        for i, picture, key in fresh:  # before touching the context
            cached, start = key in self._cache, encoded
            rows[i] = self.rows(picture, lambda d, t, s=start: report(ENCODE, s + d, crops), key)
            encoded += 0 if cached else self.encoder.crops
        n_prompt = sum(len(p) for p in pieces) + sum(
            self.encoder.manifest.tokens if i not in rows else rows[i].shape[0]
            for i in range(len(pictures))
        )
        if n_prompt >= llm.n_ctx():
            raise ValueError(f"the prompt needs {n_prompt} positions, over n_ctx {llm.n_ctx()}")
        held = self._held = self._held[:kept]  # grows by each segment once it is all in
        llm.n_tokens = held[-1][1] if held else 0
        llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)  # what came after: an old reply
        for index, segment in enumerate(segments[kept : len(segments) - ahead], start=kept):
            if segment[0] == "image":
                self._decode_rows(rows[index // 2], lambda: report(PREFILL, llm.n_tokens, n_prompt))
            elif segment[1]:
                llm.eval(segment[1])
            report(PREFILL, llm.n_tokens, n_prompt)
            held.append((segment, llm.n_tokens))
        return llm.input_ids[: llm.n_tokens].tolist()

    def _kept(self, segments: list[Segment]) -> int:
        """How many leading ``segments`` the context still holds, as evaluated before. Never
        the last: its evaluation gives the logits the first token is sampled from (the ones
        held are an old reply's)."""
        kept = 0
        for (segment, end), wanted in zip(self._held, segments[:-1], strict=False):
            if segment != wanted or end > self._llm.n_tokens:
                break
            kept += 1
        return kept

    def render(self, messages: Sequence[Message]) -> str:
        from jinja2 import Environment

        llm = self._llm
        eos_id = llm.token_eos()
        eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
        bos_id = llm.token_bos()
        bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
        template = Environment(autoescape=False).from_string(self._template)
        text = template.render(
            messages=list(messages), add_generation_prompt=True, eos_token=eos, bos_token=bos
        )
        return text.removeprefix(bos) if bos else text  # BOS comes from the tokenizer

    def _decode_rows(self, rows: np.ndarray, after_batch: Callable[[], None]) -> None:
        """Decode ``rows`` as embeddings at the next positions (bunny-v1.1.md §5)."""
        import llama_cpp

        llm = self._llm
        llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
        step = llm.n_batch
        for start in range(0, rows.shape[0], step):
            part = np.ascontiguousarray(rows[start : start + step])
            n = part.shape[0]
            batch = llama_cpp.llama_batch_init(n, self._width, 1)
            try:
                batch.n_tokens = n
                ctypes.memmove(batch.embd, part.ctypes.data, part.nbytes)
                for i in range(n):
                    batch.pos[i] = llm.n_tokens + i
                    batch.n_seq_id[i] = 1
                    batch.seq_id[i][0] = 0
                    batch.logits[i] = 0
                code = llama_cpp.llama_decode(llm._ctx.ctx, batch)
            finally:
                llama_cpp.llama_batch_free(batch)
            if code != 0:
                raise RuntimeError(f"llama_decode returned {code} for {n} image rows")
            llm.input_ids[llm.n_tokens : llm.n_tokens + n] = _ROW_ID
            llm.n_tokens += n
            after_batch()


def _load_error(folder: Path, reason: str) -> ModelLoadError:
    err = ModelLoadError(
        f"画像エンコーダー「{folder}」を読み込めません：{reason}",
        f'Cannot load the vision encoder "{folder}": {reason}',
    )
    err.path = str(folder)
    return err
