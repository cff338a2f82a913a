"""Answering IgakuQA-format questions with a GGUF or HF model, then scoring the answers.

The model runs through the app's own inference backends (``create_backend``): each prompt
(engine/lora/_prompts.py) is one user message rendered with the model's chat template, decoded
greedily for up to 256 new tokens, and the answer is read after ``### 応答：``. The default
selection is the JMedLoRA harness's: questions that need no image, with five choices.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.data import QADataset, QAQuestion, load_igakuqa
from engine.lora._errors import LoraError
from engine.lora._prompts import check_format, pick_shots, question_prompt, read_answer
from engine.lora._score import score_records
from jradi_desktop.atomic_file import replace_atomically
from jradi_desktop.contract import (
    LORA_PROMPT_FORMAT,
    PROGRESS,
    QA_MAX_NEW_TOKENS,
    RESULT,
    Event,
    QAProgress,
)

JOB = "eval-qa"


def model_spec(model: str | Path) -> Any:
    """The ``ModelSpec`` of MODEL: a ``.gguf`` file (llama.cpp) or a HF folder (transformers)."""
    from jradi_desktop.models import ModelSpec

    path = Path(model).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return ModelSpec(name=path.stem, kind="gguf", path=path.resolve())
    if path.is_dir():
        return ModelSpec(name=path.name, kind="hf", path=path.resolve())
    raise LoraError(
        f"--model {model}: not a GGUF file or a model folder; give model.gguf or a Hugging "
        "Face folder (config.json + safetensors)."
    )


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    replace_atomically(path, lines, private=False)


def _select(
    dataset: str | Path,
    text_only: bool | None,
    n_choices: Collection[int] | None,
    limit: int | None,
) -> tuple[QADataset, tuple[QAQuestion, ...]]:
    """The dataset and its questions that match the selection (at most ``limit``)."""
    data = load_igakuqa(dataset)
    questions: tuple[QAQuestion, ...] = data.select(text_only, n_choices)
    if limit is not None:
        questions = questions[:limit]
    if not questions:
        raise LoraError(
            f"{data.root}: no question matches the selection (text_only={text_only}, "
            f"choices={sorted(n_choices) if n_choices is not None else 'any'}) among "
            f"{len(data)} questions."
        )
    return data, questions


def _answer(
    spec: Any,
    model: str | Path,
    questions: tuple[QAQuestion, ...],
    prompt_format: str,
    shots: int,
    max_new_tokens: int,
) -> Generator[Event, None, list[dict[str, Any]]]:
    """Ask ``spec``'s model (``--model model``) each question, greedily; yields progress,
    returns the records."""
    from jradi_desktop.errors import JRadiError
    from jradi_desktop.inference import GenerationParams, create_backend

    params = GenerationParams(max_new_tokens=max_new_tokens)  # greedy
    started = time.monotonic()
    records: list[dict[str, Any]] = []
    try:
        backend = create_backend(spec)
    except JRadiError as exc:
        raise LoraError(f"--model {model}: {exc.message_en}") from exc
    with backend:
        for i, question in enumerate(questions):
            prompt = question_prompt(question, prompt_format, pick_shots(questions, i, shots))
            try:
                reply = "".join(backend.generate([{"role": "user", "content": prompt}], (), params))
            except JRadiError as exc:
                raise LoraError(f"{question.problem_id}: {exc.message_en}") from exc
            records.append(
                {
                    "problem_id": question.problem_id,
                    "response": read_answer(reply),
                    "full_response": reply,
                    "prompt_format": prompt_format,
                    "shots": shots,
                    "model": str(spec.path),
                }
            )
            elapsed = time.monotonic() - started
            left = elapsed / (i + 1) * (len(questions) - i - 1)
            progress = QAProgress(round(elapsed, 3), round(left, 3))
            yield progress.event(JOB, PROGRESS, question.problem_id, i + 1, len(questions))
    return records


def iter_eval_qa(
    dataset: str | Path,
    model: str | Path,
    *,
    prompt_format: str = LORA_PROMPT_FORMAT,
    shots: int = 0,
    out: str | Path | None = None,
    text_only: bool | None = True,
    n_choices: Collection[int] | None = (5,),
    max_new_tokens: int = QA_MAX_NEW_TOKENS.default,
    limit: int | None = None,
) -> Iterator[Event]:
    """Answer the selected questions of ``dataset`` with ``model``, write the predictions to
    ``out`` (JSONL) when given, and end with a result event holding the metrics."""
    check_format(prompt_format)
    data, questions = _select(dataset, text_only, n_choices, limit)
    pick_shots(questions, 0, shots)  # checks the count before loading the model
    spec = model_spec(model)
    started = time.monotonic()
    records = yield from _answer(spec, model, questions, prompt_format, shots, max_new_tokens)
    if out is not None:
        _write_jsonl(Path(out), records)
    metrics = replace(
        score_records(data, records, data.problems),
        model=str(spec.path),
        backend=spec.kind,
        max_new_tokens=max_new_tokens,
        dataset=str(data.root),
        selection={
            "text_only": text_only,
            "choices": sorted(n_choices) if n_choices is not None else None,
            "limit": limit,
        },
        predictions=str(out) if out is not None else None,
        seconds=round(time.monotonic() - started, 3),
        prompt_format=prompt_format,
        shots=shots,
    )
    n = len(records)
    yield metrics.event(JOB, RESULT, f"{n} questions answered", n, n)
