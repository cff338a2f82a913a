"""Progress events: how engine jobs report without printing, and what the wizard reads.

A job is a generator of ``Event``; the CLI turns them into a progress bar, the tuning wizard
reads them as JSON lines from a child process (``--events jsonl``). ``Event.data`` is built
from a payload class and read back through the same class, so a field is named once.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Self

PROGRESS, LOG, RESULT, ERROR = "progress", "log", "result", "error"
KINDS = (PROGRESS, LOG, RESULT, ERROR)
WARNING = "warning"  # ``data["level"]`` of a log event the terminal shows in full


@dataclass(frozen=True)
class Event:
    """One step of a long job.

    ``kind`` is ``PROGRESS`` for a step, ``LOG`` for a message, ``RESULT`` for the final
    outcome and ``ERROR`` for a failure; ``data`` holds job-specific JSON-serialisable values.
    """

    job: str
    kind: str
    message: str = ""
    step: int = 0
    total: int = 0
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> Event:
        return cls(**json.loads(line))

    @property
    def is_warning(self) -> bool:
        """A log event the user should read in full (e.g. skipped data lines)."""
        return self.kind == LOG and self.data.get("level") == WARNING

    @property
    def remaining_s(self) -> float | None:
        """The job's own estimate of the seconds left, when it gives one."""
        value = self.data.get("remaining_s")
        return None if value is None else float(value)


def parse_event(line: str) -> Event | None:
    """The event on one line of a job's stdout; None for anything else (a library printing)."""
    try:
        raw = json.loads(line)
    except ValueError:
        return None
    if not isinstance(raw, dict) or "kind" not in raw:
        return None
    names = {f.name for f in dataclasses.fields(Event)}
    values = {k: v for k, v in raw.items() if k in names}
    values.setdefault("job", "")
    if not isinstance(values.get("data"), dict):
        values["data"] = {}
    values["message"] = str(values.get("message") or "")
    return Event(**values)


@dataclass(frozen=True)
class Payload:
    """The typed ``data`` of one kind of event; ``TAG`` is its ``data["event"]`` (or none).

    Every ``data`` a job writes is one of these: a new field is added with a default, so
    that lines written by an older engine still read (``from_data`` ignores unknown keys).
    """

    TAG: ClassVar[str] = ""

    def to_data(self) -> dict[str, Any]:
        data = asdict(self)
        return {"event": self.TAG, **data} if self.TAG else data

    def event(self, job: str, kind: str, message: str, step: int = 0, total: int = 0) -> Event:
        return Event(job, kind, message, step, total, self.to_data())

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self | None:
        """The payload in ``data``; None when ``data`` is another kind's."""
        if cls.TAG and data.get("event") != cls.TAG:
            return None
        fields = dataclasses.fields(cls)
        missing = dataclasses.MISSING  # a field with a default or a default factory may be left out
        required = [f.name for f in fields if f.default is missing and f.default_factory is missing]
        if any(name not in data for name in required):
            return None
        return cls(**{f.name: data[f.name] for f in fields if f.name in data})

    @classmethod
    def from_event(cls, event: Event, kind: str | None = None) -> Self | None:
        """The payload of ``event`` (of ``kind`` when given); None when it carries another."""
        if kind is not None and event.kind != kind:
            return None
        return cls.from_data(event.data)


# -- evolve -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrialStarted(Payload):
    TAG: ClassVar[str] = "trial-started"
    trial: int
    params: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialFinished(Payload):
    TAG: ClassVar[str] = "trial-finished"
    trial: int
    state: str
    score: float | None = None
    best_score: float | None = None
    best_trial: int | None = None
    seconds: float | None = None
    elapsed_s: float | None = None
    remaining_s: float | None = None
    images_encoded: int = 0  # constant for a Bunny: the dev images' rows are reused


@dataclass(frozen=True)
class BatchDone(Payload):
    TAG: ClassVar[str] = "batch"
    trial: int
    batch: int
    batches: int


@dataclass(frozen=True)
class DevSetRead(Payload):
    """The dev set the evolution scores on: the pairs read and those skipped."""

    TAG: ClassVar[str] = "dev-set"
    pairs: int
    skipped: int


@dataclass(frozen=True)
class StudyOpened(Payload):
    """The study created or resumed; ``failed_stale``: dead workers' trials marked FAIL."""

    TAG: ClassVar[str] = "study"
    complete: int
    running: int
    failed_stale: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class ImageRows(Payload):
    """The VLM's dev images through its vision tower and projector (every trial reuses them)."""

    TAG: ClassVar[str] = "image-rows"
    family: str
    images_encoded: int


@dataclass(frozen=True)
class WaitingForWorkers(Payload):
    """Other workers' running trials would finish the study; the event's step counts the
    complete trials."""

    TAG: ClassVar[str] = "waiting"


@dataclass(frozen=True)
class StaleExports(Payload):
    """Unfinished exports of a killed run, removed."""

    TAG: ClassVar[str] = "stale-exports"
    removed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EvolveResult(Payload):
    """The outcome of ``jradi-engine evolve``: the best trial and what was written."""

    workspace: str
    study: str
    storage: str
    complete: int
    best_trial: int
    best_score: float
    best_params: dict[str, float]
    ran: list[int]
    failed_stale: list[int]
    images_encoded: int
    summary: dict[str, str]
    model_dir: str | None = None  # the exported best model (BestFiles), when exported
    gguf: str | None = None
    mmproj: str | None = None


@dataclass(frozen=True)
class TrialRow(Payload):
    """One trial of a study's history (``jradi-engine history``)."""

    trial: int
    state: str
    score: float | None = None
    seconds: float | None = None
    params: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class History(Payload):
    trials: list[TrialRow] = field(default_factory=list)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self | None:
        rows = data.get("trials")
        if not isinstance(rows, list):
            return None
        return cls([r for r in map(TrialRow.from_data, rows) if r is not None])


# -- LoRA -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainProgress(Payload):
    loss: float
    lr: float
    elapsed_s: float
    remaining_s: float
    epoch: float


@dataclass(frozen=True)
class DataProblems(Payload):
    """Lines of the training data that did not load (the first 20 named); a warning."""

    TAG: ClassVar[str] = "data_problems"
    count: int
    problems: list[str] = field(default_factory=list)
    level: str = WARNING


@dataclass(frozen=True)
class TrainStarted(Payload):
    TAG: ClassVar[str] = "start"
    examples: int
    steps: int
    device: str
    world_size: int
    trainable_parameters: int
    parameters: int
    truncated_examples: int


@dataclass(frozen=True)
class CheckpointSaved(Payload):
    TAG: ClassVar[str] = "checkpoint"
    step: int
    path: str


@dataclass(frozen=True)
class MergingAdapter(Payload):
    TAG: ClassVar[str] = "merge"


@dataclass(frozen=True)
class ExportingGguf(Payload):
    TAG: ClassVar[str] = "gguf"


@dataclass(frozen=True)
class TrainResumed(Payload):
    TAG: ClassVar[str] = "resume"
    step: int
    checkpoint: str = ""
    rng_restored: bool = False


@dataclass(frozen=True)
class TrainResult(Payload):
    """The run's outcome; ``result.json`` holds all of it but the losses."""

    adapter: str
    merged: str | None
    gguf: str | None
    steps: int
    resumed_from: int | None
    first_loss: float | None
    last_loss: float | None
    world_size: int
    prompt_format: str
    template: str | None
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """What ``result.json`` holds: everything but the losses."""
        data = self.to_data()
        del data["losses"]
        return data


# -- other jobs -------------------------------------------------------------------------------
@dataclass(frozen=True)
class QAProgress(Payload):
    elapsed_s: float
    remaining_s: float


@dataclass(frozen=True)
class QAScores(Payload):
    """Means over a set of questions: Gestalt-argmax accuracy, exact match, mean Gestalt,
    the official IgakuQA accuracy and points."""

    accuracy: float
    exact_match: float
    gestalt: float
    igakuqa_accuracy: float
    igakuqa_points: int
    igakuqa_points_total: int
    n: int


@dataclass(frozen=True)
class QAMetrics(QAScores):
    """The result of ``eval-qa`` / ``score-qa``: the scores overall, by exam year ("2022")
    and by block ("116-A"), and what was scored; the run's fields are None for ``score-qa``."""

    by_year: dict[str, QAScores] = field(default_factory=dict)
    by_block: dict[str, QAScores] = field(default_factory=dict)
    unanswered: int = 0
    prompt_format: str | None = None
    shots: int | None = None
    problems: list[str] = field(default_factory=list)
    dataset: str | None = None
    predictions: str | None = None
    model: str | None = None
    backend: str | None = None
    max_new_tokens: int | None = None
    selection: dict[str, Any] | None = None
    seconds: float | None = None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self | None:
        groups = {
            key: {k: QAScores.from_data(v) for k, v in (data.get(key) or {}).items()}
            for key in ("by_year", "by_block")
        }
        if any(None in g.values() for g in groups.values()):
            return None
        return super().from_data({**data, **groups})


@dataclass(frozen=True)
class Devices(Payload):
    """The GPUs torch sees (name, total and free bytes), and why none when there are none."""

    gpus: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""


@dataclass(frozen=True)
class GgufExported(Payload):
    """What the wizard reads of an ``export-gguf`` result: the model and its vision part."""

    model: str
    mmproj: str | None = None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self | None:
        model = data.get("model")
        return None if not model else cls(str(model), data.get("mmproj"))
