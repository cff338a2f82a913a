"""Progress events: how long engine jobs report without printing.

A job is a generator of ``Event``; the CLI turns them into a progress bar, the tuning wizard
reads them as JSON lines from a child process (``--events jsonl``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """One step of a long job.

    ``kind`` is ``"progress"`` for a step, ``"log"`` for a message, ``"result"`` for the final
    outcome and ``"error"`` for a failure; ``data`` holds job-specific JSON-serialisable values.
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
