"""The clinician's job end to end, without a window: an X-ray in, a Japanese report out.

Shared by ``jradi report`` and the app, so the command line checks exactly the GUI's path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jradi_desktop.imaging import (
    PlausibilityNote,
    XrayImage,
    open_image,
    plausibility_notes,
    to_model_rgb,
)
from jradi_desktop.inference import (
    Backend,
    GenerationError,
    GenerationParams,
    InferenceWorker,
    Progress,
    build_chat_messages,
    build_choice_messages,
    build_report_messages,
    report_prompt,
    split_report,
)

# What the pipeline runs on: a backend in this process (the CLI's --in-process, tests), or
# one in the worker's child process (the app, jradi report).
Generator = Backend | InferenceWorker


class PhaseClock:
    """Seconds left in the current phase of the work before the first token, from its speed
    so far (a phase's first step gives no estimate). Shared by the app and ``jradi report``."""

    def __init__(self) -> None:
        self._phase: str | None = None
        self._started = 0.0
        self._first_done = 0

    def left(self, phase: str, done: int, total: int, now: float | None = None) -> float | None:
        now = time.perf_counter() if now is None else now
        if phase != self._phase:
            self._phase, self._started, self._first_done = phase, now, done
            return None
        steps = done - self._first_done
        if steps <= 0 or now <= self._started:
            return None
        return (total - done) * (now - self._started) / steps


@dataclass(frozen=True)
class ReportResult:
    """A drafted report. ``warnings`` say why the image may not be a chest radiograph the
    model can read (:func:`~jradi_desktop.imaging.plausibility_notes`); the clinician must
    see them with the text."""

    image: str
    findings: str
    impression: str
    text: str
    prompt: str
    model: str
    seconds: float
    warnings: tuple[PlausibilityNote, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "findings": self.findings,
            "impression": self.impression,
            "text": self.text,
            "prompt": self.prompt,
            "model": self.model,
            "seconds": round(self.seconds, 3),
            "warnings": [note.to_json() for note in self.warnings],
        }


def generate_report(
    generator: Generator,
    image: XrayImage | str | Path,
    *,
    model_name: str,
    indication: str = "",
    params: GenerationParams | None = None,
    on_piece: Callable[[str], None] | None = None,
    on_progress: Progress | None = None,
) -> ReportResult:
    """Render the image as the model expects (JRadiEvo: RGB, 512×512), prompt, stream, split."""
    start = time.perf_counter()
    xray = image if isinstance(image, XrayImage) else open_image(image)
    warnings = tuple(plausibility_notes(xray))
    pieces = []
    for piece in generator.generate(
        build_report_messages(indication),
        [to_model_rgb(xray)],
        params or GenerationParams(),
        on_progress=on_progress,
    ):
        pieces.append(piece)
        if on_piece:
            on_piece(piece)
    text = "".join(pieces)
    if not text.strip() and generator.finish_reason != "cancelled":
        raise GenerationError(
            f"モデル「{model_name}」が空のレポートを返しました（画像 {xray.source}）。モデルの"
            "ファイルが壊れているか、このモデルは画像に対応していません。",
            f'Model "{model_name}" returned an empty report (image {xray.source}): its files '
            "are damaged or it cannot read images.",
        )
    sections = split_report(text)
    return ReportResult(
        image=str(xray.source),
        findings=sections.findings,
        impression=sections.impression,
        text=text,
        prompt=report_prompt(indication),
        model=model_name,
        seconds=time.perf_counter() - start,
        warnings=warnings,
    )


def ask(
    generator: Generator,
    question: str,
    *,
    choices: list[str] | None = None,
    history: list[dict[str, str]] | None = None,
    params: GenerationParams | None = None,
) -> Iterator[str]:
    """Stream the answer to a medical question (free chat, or multiple choice)."""
    if choices:
        messages = build_choice_messages(question, choices)
    else:
        messages = build_chat_messages(history or [], question)
    yield from generator.generate(messages, (), params or GenerationParams(max_new_tokens=512))
