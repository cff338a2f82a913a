"""The small JSON files the app keeps a list in (the model registry, the PACS list), read
whole: a missing file is an empty list, anything else wrong is named by the caller's error,
and the file is left as it is (it is the user's; they may fix it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from jradi_desktop.errors import JRadiError

T = TypeVar("T")


def read_list_file(
    path: Path,
    key: str,
    parse: Callable[[Any], T],
    error: type[JRadiError],
    what: tuple[str, str],
    shape: str,
) -> tuple[dict[str, Any], list[T]]:
    """The JSON object in ``path`` and its ``key`` list, each item through ``parse``
    (``({}, [])`` when there is no file). Unreadable, not JSON, not the ``shape`` described,
    or an item ``parse`` refuses: ``error`` naming the file, ``what`` it holds (Japanese,
    English) and why."""

    def corrupt(path: Path, why: str) -> JRadiError:
        return error(
            f"{path}: {what[0]}を読めません（{why}）。ファイルを直すか別の場所へ移してください"
            "（移すと一覧は空から始まります）。ファイルは変更していません。",
            f"{path}: {what[1]} cannot be read ({why}); fix the file or move it away (the "
            "list then starts empty). The file was not changed.",
        )

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError) as exc:
        raise corrupt(path, str(exc)) from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise corrupt(path, f"not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get(key, []), list):
        raise corrupt(path, f"expected {shape}")
    items = []
    for n, item in enumerate(data.get(key, [])):
        try:
            items.append(parse(item))
        except (TypeError, KeyError, ValueError, JRadiError) as exc:
            raise corrupt(path, f"{key}[{n}]: {exc}") from exc
    return data, items
