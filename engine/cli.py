"""``jradi-engine``: the headless tuning engine's command line.

Jobs are generators of ``Event``; this module is the only place that prints them: as a
progress line on the terminal, or as JSON lines on stdout with ``--events jsonl`` (what the
tuning wizard reads from its child processes).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from engine.errors import EngineError
from engine.events import Event


def _run_events(events: Iterable[Event], mode: str | None) -> dict:
    """Drive a job: print its events as asked and return the data of its result event.

    On the terminal, progress is one redrawn line and a log event whose data says
    ``level: "warning"`` (e.g. skipped data lines) is printed in full on stderr."""
    result: dict = {}
    bar_drawn = False  # a progress line without its newline is on stderr
    for event in events:
        if mode == "jsonl":
            print(event.to_json(), flush=True)
        elif event.kind == "log" and event.data.get("level") == "warning":
            start = "\n" if bar_drawn else ""
            print(f"{start}{event.job}: warning: {event.message}", file=sys.stderr, flush=True)
            bar_drawn = False
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
            bar_drawn = True
        if event.kind == "result":
            result = event.data
            if mode != "jsonl":
                print(file=sys.stderr)
                print(event.message)
    return result


def _cmd_demo_models(args: argparse.Namespace) -> int:
    from engine.demo import iter_build_demo_models

    events = iter_build_demo_models(
        args.out_dir, seed=args.seed, trained=args.trained, vlm=args.vlm
    )
    _run_events(events, args.events)
    return 0


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from engine.demo_data import write_demo_dev_set, write_demo_recipe

    csv = write_demo_dev_set(args.out_dir, n=args.n, seed=args.seed)
    print(f"{args.n} image-report pairs: {csv}")
    if args.models is not None:
        print(f"evolution recipe: {write_demo_recipe(args.out_dir, args.models)}")
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


def _cmd_evolve(args: argparse.Namespace) -> int:
    from engine.evolve import iter_evolve

    events = iter_evolve(
        args.recipe,
        args.workspace,
        n_trials=args.n_trials,
        storage=args.storage,
        study_name=args.study_name,
        export=False if args.no_export else None,
    )
    _run_events(events, args.events)
    return 0


def _cmd_history(args: argparse.Namespace) -> int:
    from engine.evolve import iter_history

    result = _run_events(iter_history(args.workspace, args.storage, args.study_name), args.events)
    if args.events != "jsonl":
        for row in result["trials"]:
            score = "" if row["score"] is None else f"{row['score']:.4f}"
            seconds = "" if row["seconds"] is None else f"{row['seconds']:.1f} s"
            print(f"{row['trial']:>5}  {row['state']:<8}  {score:>7}  {seconds:>9}")
    return 0


def _cmd_devices(args: argparse.Namespace) -> int:
    from engine.devices import iter_devices

    _run_events(iter_devices(), args.events)
    return 0


def _cmd_eval_report(args: argparse.Namespace) -> int:
    from engine.metrics import evaluate_predictions_file

    result = evaluate_predictions_file(
        args.predictions, ref_col=args.ref_col, pred_col=args.pred_col, char_bleu=args.char_bleu
    )
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def _cmd_lora(args: argparse.Namespace) -> int:
    from engine.lora import iter_train, load_lora_config

    config = load_lora_config(args.config)
    if args.strict:
        config = config.model_copy(update={"strict_data": True})
    _run_events(iter_train(config, args.workspace), args.events)
    return 0


def _cmd_eval_qa(args: argparse.Namespace) -> int:
    from engine.lora import iter_eval_qa

    events = iter_eval_qa(
        args.dataset,
        args.model,
        prompt_format=args.prompt_format,
        shots=args.shots,
        out=args.out,
        text_only=None if args.with_images else True,
        n_choices=args.choices,
        max_new_tokens=args.max_new_tokens,
        limit=args.limit,
    )
    metrics = {}
    for event in events:  # stdout carries only the metrics JSON (or, with --events, events)
        if event.kind == "result":
            metrics = event.data
        if args.events == "jsonl" or event.kind != "result":
            _run_events([event], args.events)
    if args.events != "jsonl":
        print(file=sys.stderr)
        print(json.dumps(metrics, ensure_ascii=False, indent=2))
    return 0


def _choice_counts(text: str) -> list[int] | None:
    if text == "all":
        return None
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--choices takes choice counts such as 5 or 5,6 (0: numeric answers) or all; "
            f"got {text!r}"
        ) from None


def _cmd_score_qa(args: argparse.Namespace) -> int:
    from engine.lora import score_predictions

    result = score_predictions(args.dataset, args.predictions)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from engine.demo import DEFAULT_VLM, VLM_LAYOUTS

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
    p.add_argument(
        "--vlm",
        choices=VLM_LAYOUTS,
        default=DEFAULT_VLM,
        help="the vlm's layout: bunny (the default: a tiny Bunny-v1.1, SigLIP at S² scales, "
        "mlp2x_gelu, F16 shards, as JRadiEvo's real VLM; export-gguf writes model.gguf + vision/) "
        "or llava (CLIP + LLaVA projector; export-gguf writes model.gguf + mmproj.gguf)",
    )
    p.set_defaults(run=_cmd_demo_models)

    p = sub.add_parser("demo-data", help="write a synthetic dev set (phantoms + Japanese reports)")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--n", type=int, default=8, help="image-report pairs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--models", type=Path, help="demo models folder: also write evolve.yaml searching them"
    )
    p.set_defaults(run=_cmd_demo_data)

    what = "HF folder -> model.gguf (+ mmproj.gguf for LLaVA, vision/ for Bunny)"
    p = with_events(sub.add_parser("export-gguf", help=what))
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

    p = with_events(
        sub.add_parser(
            "evolve",
            help="search the JRadiEvo merge parameters (Optuna CMA-ES, Japanese ROUGE-L)",
        )
    )
    p.add_argument("recipe", type=Path, help="merge recipe with an evolve: section (YAML)")
    p.add_argument(
        "--workspace", type=Path, required=True, help="the run's folder (study, trials, best)"
    )
    p.add_argument("--n-trials", type=int, help="COMPLETE trials wanted (default: the recipe's)")
    p.add_argument(
        "--storage",
        help="Optuna storage URL (default: sqlite in the workspace; postgresql://... lets "
        "several workers share one study)",
    )
    p.add_argument("--study-name", help="default: the recipe's evolve.study_name")
    p.add_argument(
        "--no-export", action="store_true", help="do not write the best model at the end"
    )
    p.set_defaults(run=_cmd_evolve)

    p = with_events(sub.add_parser("history", help="list the trials of an evolution's study"))
    p.add_argument("--workspace", type=Path, required=True, help="the run's folder")
    p.add_argument("--storage", help="Optuna storage URL (default: sqlite in the workspace)")
    p.add_argument("--study-name", default="jradievo")
    p.set_defaults(run=_cmd_history)

    p = with_events(sub.add_parser("devices", help="the GPUs torch sees, with their memory"))
    p.set_defaults(run=_cmd_devices)

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

    p = with_events(sub.add_parser("lora", help="LoRA / QLoRA instruction tuning (JMedLoRA)"))
    p.add_argument("config", type=Path, help="the run's config (YAML); see engine/lora/_config.py")
    p.add_argument(
        "--workspace",
        type=Path,
        required=True,
        help="folder for checkpoints and outputs; run again with the same one to resume",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first data line that does not load (as strict_data: true in the "
        "config); without it such lines are skipped with a warning naming file and line",
    )
    p.set_defaults(run=_cmd_lora)

    p = with_events(
        sub.add_parser("eval-qa", help="answer IgakuQA-format questions with a model and score")
    )
    p.add_argument("--dataset", type=Path, required=True, help="IgakuQA-format folder or file")
    p.add_argument("--model", type=Path, required=True, help="a GGUF file or a HF model folder")
    p.add_argument("--prompt-format", choices=["alpaca", "medpalm"], default="alpaca")
    p.add_argument("--shots", type=int, default=0, help="solved examples before each question")
    p.add_argument("--out", type=Path, help="write the predictions here (JSONL)")
    p.add_argument(
        "--choices",
        type=_choice_counts,
        default=[5],
        help="keep questions with these choice counts, e.g. 5 or 5,6 (0: numeric) or all",
    )
    p.add_argument(
        "--with-images", action="store_true", help="also questions that refer to an image"
    )
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--limit", type=int, help="only the first N selected questions")
    p.set_defaults(run=_cmd_eval_qa)

    p = sub.add_parser("score-qa", help="score QA predictions (JSONL) against the questions")
    p.add_argument("--dataset", type=Path, required=True, help="IgakuQA-format folder or file")
    p.add_argument("--predictions", type=Path, required=True, help="JSONL: problem_id, response")
    p.set_defaults(run=_cmd_score_qa)

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
