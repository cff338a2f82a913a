"""The study's summary: a table of trials (CSV and Markdown), best.json and a score plot.

Written from the storage alone, so any worker (or a later ``jradi-engine evolve`` with no
trials left to run) can write it. Every file is written atomically.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jradi_desktop.atomic_file import replace_atomically

if TYPE_CHECKING:
    import optuna

SUMMARY_DIR = "summary"


def trial_rows(trials: Sequence[optuna.trial.FrozenTrial], names: Sequence[str]) -> list[dict]:
    """One flat row per trial: number, state, score, seconds, worker, then the parameters."""
    rows = []
    for t in sorted(trials, key=lambda t: t.number):
        row: dict[str, Any] = {
            "trial": t.number,
            "state": t.state.name,
            "score": t.value if t.value is not None else "",
            "seconds": round(t.user_attrs.get("seconds", 0.0), 3) or "",
            "worker": t.user_attrs.get("worker", ""),
        }
        row.update({n: round(t.params[n], 6) if n in t.params else "" for n in names})
        rows.append(row)
    return rows


def _csv(rows: list[dict]) -> str:
    if not rows:
        return ""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _markdown(rows: list[dict], best: int | None) -> str:
    if not rows:
        return "No trials yet.\n"
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in row.values()]
        mark = " **best**" if row["trial"] == best else ""
        lines.append("| " + " | ".join(cells) + mark + " |")
    return "\n".join(lines) + "\n"


def plot_scores(trials: Sequence[optuna.trial.FrozenTrial], path: Path, title: str) -> Path:
    """PNG: ROUGE-L per complete trial, pruned trials' partial scores, best-so-far line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from optuna.trial import TrialState

    done = sorted((t for t in trials if t.state == TrialState.COMPLETE), key=lambda t: t.number)
    pruned = [t for t in trials if t.state == TrialState.PRUNED and t.intermediate_values]
    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter([t.number for t in done], [t.value for t in done], s=14, label="trial score")
    if pruned:
        ax.scatter(
            [t.number for t in pruned],
            [next(iter(t.intermediate_values.values())) for t in pruned],
            s=14,
            marker="x",
            color="0.6",
            label="pruned (partial score)",
        )
    best, running = [], float("-inf")
    for t in done:
        running = max(running, float(t.value or 0.0))
        best.append(running)
    if done:
        ax.step([t.number for t in done], best, where="post", color="C3", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("mean ROUGE-L F1 (dev findings)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return replace_atomically(path, buffer.getvalue(), private=False)


def write_summary(
    study: optuna.Study, names: Sequence[str], out_dir: Path, extra: dict[str, Any]
) -> dict[str, str]:
    """Write trials.csv, trials.md, best.json and scores.png under ``out_dir``; return paths."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    best = max(done, key=lambda t: (t.value, -t.number)) if done else None
    rows = trial_rows(trials, names)
    counts = {s.name: sum(t.state == s for t in trials) for s in TrialState}
    info = {
        "study": study.study_name,
        "trials": {k: v for k, v in counts.items() if v},
        "best_trial": best.number if best else None,
        "best_score": best.value if best else None,
        "best_params": {n: best.params[n] for n in names} if best else None,
        **extra,
    }
    title = (
        f"# {study.study_name}\n\nBest: trial {info['best_trial']}, ROUGE-L {info['best_score']}"
    )
    texts = {
        "csv": ("trials.csv", _csv(rows)),
        "markdown": ("trials.md", f"{title}\n\n" + _markdown(rows, info["best_trial"])),
        "best": ("best.json", json.dumps(info, ensure_ascii=False, indent=2) + "\n"),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        **{
            k: replace_atomically(out_dir / name, text, private=False)
            for k, (name, text) in texts.items()
        },
        "plot": plot_scores(trials, out_dir / "scores.png", f"JRadiEvo search: {study.study_name}"),
    }
    return {k: str(v) for k, v in paths.items()}
