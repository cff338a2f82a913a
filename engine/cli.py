"""``jradi-engine``: the headless tuning engine's command line.

Jobs are generators of ``Event``; this module is the only place that prints them: as a
progress line on the terminal, or as JSON lines on stdout with ``--events jsonl`` (what the
tuning wizard reads from its child processes).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from engine.errors import EngineError
from engine.events import Event

NOT_YET = {
    "evolve": "issue #5 (evolutionary merge search)",
    "lora": "issue #6 (LoRA instruction tuning)",
    "eval-qa": "issue #6 (Japanese medical QA evaluation)",
    "score-qa": "issue #6 (Japanese medical QA scoring)",
}


def _run_events(events: Iterable[Event], mode: str | None) -> dict:
    """Drive a job: print its events as asked and return the data of its result event."""
    result: dict = {}
    for event in events:
        if mode == "jsonl":
            print(event.to_json(), flush=True)
        elif event.kind == "progress":
            width = 24
            done = int(width * event.step / max(event.total, 1))
            bar = "█" * done + "·" * (width - done)
            print(
                f"\r[{bar}] {event.step}/{event.total} {event.message:<40}",
                end="",
                file=sys.stderr,
                flush=True,
            )
        if event.kind == "result":
            result = event.data
            if mode != "jsonl":
                print(file=sys.stderr)
                print(event.message)
    return result


def _cmd_demo_models(args: argparse.Namespace) -> int:
    from engine.demo import iter_build_demo_models

    _run_events(
        iter_build_demo_models(args.out_dir, seed=args.seed, trained=args.trained), args.events
    )
    return 0


def _cmd_export_gguf(args: argparse.Namespace) -> int:
    from engine.export import iter_export_gguf

    _run_events(
        iter_export_gguf(args.model_dir, args.out_dir, args.outtype, args.quantize), args.events
    )
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from engine.merge import iter_merge

    _run_events(iter_merge(args.recipe, args.out), args.events)
    return 0


def _cmd_eval_report(args: argparse.Namespace) -> int:
    from engine.metrics import evaluate_predictions_file

    result = evaluate_predictions_file(
        args.predictions, ref_col=args.ref_col, pred_col=args.pred_col, char_bleu=args.char_bleu
    )
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def _not_yet(name: str) -> Callable[[argparse.Namespace], int]:
    def run(_: argparse.Namespace) -> int:
        print(
            f"jradi-engine {name}: not available yet; it arrives with {NOT_YET[name]}.",
            file=sys.stderr,
        )
        return 2

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jradi-engine",
        description="Build JRadi's models offline: demo models, GGUF export, merging, "
        "evolution, LoRA and evaluation.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def with_events(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--events", choices=["jsonl"], help="write progress events as JSON lines")
        return p

    p = with_events(sub.add_parser("demo-models", help="write the tiny deterministic demo models"))
    p.add_argument("out_dir", type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--trained",
        action="store_true",
        help="train briefly on the built-in corpus so the demo writes readable reports (~1 min)",
    )
    p.set_defaults(run=_cmd_demo_models)

    p = with_events(sub.add_parser("export-gguf", help="HF folder -> model.gguf (+ mmproj.gguf)"))
    p.add_argument("model_dir", type=Path)
    p.add_argument("out_dir", type=Path)
    p.add_argument("--outtype", choices=["f32", "f16"], default="f16")
    p.add_argument("--quantize", choices=["Q8_0", "Q4_K_M"])
    p.set_defaults(run=_cmd_export_gguf)

    p = with_events(
        sub.add_parser(
            "merge",
            help="merge models as a YAML recipe says (JRadiEvo DARE + TIES, or mergekit)",
        )
    )
    p.add_argument("recipe", type=Path, help="the recipe (YAML); see engine/merge/_recipe.py")
    p.add_argument("--out", type=Path, required=True, help="a new folder for the merged model")
    p.set_defaults(run=_cmd_merge)

    p = sub.add_parser("eval-report", help="score generated reports: ROUGE-L, BLEU, METEOR")
    p.add_argument("--predictions", type=Path, required=True, help="CSV or JSONL")
    p.add_argument("--ref-col", default="ja_text")
    p.add_argument("--pred-col", default="preds")
    p.add_argument(
        "--char-bleu",
        action="store_true",
        help="also report the character-level BLEU of the paper's code",
    )
    p.set_defaults(run=_cmd_eval_report)

    for name in NOT_YET:
        p = sub.add_parser(name, help=f"(not available yet: {NOT_YET[name]})")
        p.add_argument("args", nargs=argparse.REMAINDER)
        p.set_defaults(run=_not_yet(name))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (EngineError, ValueError) as exc:
        print(f"jradi-engine {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"jradi-engine {args.command}: cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
