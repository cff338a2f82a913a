"""``jradi-engine``: the headless tuning engine's command line.

Jobs are generators of ``Event``; this module is the only place that prints them: as a
progress line on the terminal, or as JSON lines on stdout with ``--events jsonl`` (what the
tuning wizard reads from its child processes).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import EngineError
from jradi_desktop.contract import (
    LORA_PROMPT_FORMAT,
    OUT_TYPES,
    PROGRESS,
    PROMPT_FORMATS,
    QA_MAX_NEW_TOKENS,
    QUANT_TYPES,
    RESULT,
    STUDY_NAME,
    Event,
    History,
)


def _run_events(events: Iterable[Event], mode: str | None) -> dict:
    """Drive a job: print its events as asked and return the data of its result event.

    On the terminal, progress is one redrawn line and a log event whose data says
    ``level: "warning"`` (e.g. skipped data lines) is printed in full on stderr."""
    result: dict = {}
    bar_drawn = False  # a progress line without its newline is on stderr
    for event in events:
        if mode == "jsonl":
            print(event.to_json(), flush=True)
        elif event.is_warning:
            start = "\n" if bar_drawn else ""
            print(f"{start}{event.job}: warning: {event.message}", file=sys.stderr, flush=True)
            bar_drawn = False
        elif event.kind == PROGRESS:
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
        if event.kind == RESULT:
            result = event.data
            if mode != "jsonl":
                print(file=sys.stderr)
                print(event.message)
    return result


Job = Callable[[argparse.Namespace], Iterable[Event]]


def _job(events: Job) -> Callable[[argparse.Namespace], int]:
    """A command that runs one job and prints its events."""

    def run(args: argparse.Namespace) -> int:
        _run_events(events(args), args.events)
        return 0

    return run


def _demo_models(args: argparse.Namespace) -> Iterable[Event]:
    from engine.demo import iter_build_demo_models

    return iter_build_demo_models(args.out_dir, seed=args.seed, trained=args.trained, vlm=args.vlm)


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from engine.demo_data import write_demo_dev_set, write_demo_recipe

    csv = write_demo_dev_set(args.out_dir, n=args.n, seed=args.seed)
    print(f"{args.n} image-report pairs: {csv}")
    if args.models is not None:
        print(f"evolution recipe: {write_demo_recipe(args.out_dir, args.models)}")
    return 0


def _export_gguf(args: argparse.Namespace) -> Iterable[Event]:
    from engine.export import iter_export_gguf

    images: list[Path] = []
    if args.int8_check:
        from jradi_desktop.imaging import scan_images

        images = list(scan_images([str(args.int8_check)]).files)
    return iter_export_gguf(args.model_dir, args.out_dir, args.outtype, args.quantize, images)


def _merge(args: argparse.Namespace) -> Iterable[Event]:
    from engine.merge import iter_merge

    return iter_merge(args.recipe, args.out)


def _evolve(args: argparse.Namespace) -> Iterable[Event]:
    from engine.evolve import iter_evolve

    options = {name: getattr(args, name) for name in ("n_trials", "storage", "study_name")}
    export = False if args.no_export else None
    return iter_evolve(args.recipe, args.workspace, export=export, **options)


def _cmd_history(args: argparse.Namespace) -> int:
    from engine.evolve import iter_history

    result = _run_events(iter_history(args.workspace, args.storage, args.study_name), args.events)
    history = History.from_data(result)
    if args.events != "jsonl" and history is not None:
        for row in history.trials:
            score = "" if row.score is None else f"{row.score:.4f}"
            seconds = "" if row.seconds is None else f"{row.seconds:.1f} s"
            print(f"{row.trial:>5}  {row.state:<8}  {score:>7}  {seconds:>9}")
    return 0


def _devices(args: argparse.Namespace) -> Iterable[Event]:
    from engine.devices import iter_devices

    return iter_devices()


def _cmd_eval_report(args: argparse.Namespace) -> int:
    from engine.metrics import evaluate_predictions_file

    result = evaluate_predictions_file(
        args.predictions, ref_col=args.ref_col, pred_col=args.pred_col, char_bleu=args.char_bleu
    )
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def _lora(args: argparse.Namespace) -> Iterable[Event]:
    from engine.lora import iter_train, load_lora_config

    config = load_lora_config(args.config)
    if args.strict:
        config = config.model_copy(update={"strict_data": True})
    return iter_train(config, args.workspace)


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
        if event.kind == RESULT:
            metrics = event.data
        if args.events == "jsonl" or event.kind != RESULT:
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
    print(json.dumps(result.to_data(), ensure_ascii=False, indent=2))
    return 0


Argument = tuple[tuple[str, ...], dict[str, Any]]


def _arg(*flags: str, **options: Any) -> Argument:
    """One ``add_argument`` call of a command, as data."""
    return flags, options


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, help, what runs it, its arguments, and whether it takes
    ``--events jsonl``."""

    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: tuple[Argument, ...] = ()
    events: bool = True


def commands() -> tuple[Command, ...]:
    """Every subcommand, in ``--help`` order (built on demand: ``engine.demo`` is imported
    only when a parser is)."""
    from engine.demo import DEFAULT_VLM, VLM_LAYOUTS

    dataset = _arg("--dataset", type=Path, required=True, help="IgakuQA-format folder or file")
    return (
        Command("demo-models", "write the tiny deterministic demo models", _job(_demo_models), (
            _arg("out_dir", type=Path),
            _arg("--seed", type=int, default=0),
            _arg("--trained", action="store_true", help="train briefly on the built-in corpus "
                 "so the demo writes readable reports (~1 min)"),
            _arg("--vlm", choices=VLM_LAYOUTS, default=DEFAULT_VLM, help="the vlm's layout: "
                 "bunny (the default: a tiny Bunny-v1.1, SigLIP at S² scales, mlp2x_gelu, F16 "
                 "shards, as JRadiEvo's real VLM; export-gguf writes model.gguf + vision/) or "
                 "llava (CLIP + LLaVA projector; export-gguf writes model.gguf + mmproj.gguf)"),
        )),
        Command("demo-data", "write a synthetic dev set (phantoms + Japanese reports)",
                _cmd_demo_data, (
            _arg("out_dir", type=Path),
            _arg("--n", type=int, default=8, help="image-report pairs"),
            _arg("--seed", type=int, default=0),
            _arg("--models", type=Path,
                 help="demo models folder: also write evolve.yaml searching them"),
        ), events=False),
        Command("export-gguf",
                "HF folder -> model.gguf (+ mmproj.gguf for LLaVA, vision/ for Bunny)",
                _job(_export_gguf), (
            _arg("model_dir", type=Path),
            _arg("out_dir", type=Path),
            _arg("--outtype", choices=OUT_TYPES, default="f16"),
            _arg("--quantize", choices=QUANT_TYPES),
            _arg("--int8-check", type=Path, metavar="IMAGES",
                 help="Bunny: also an int8 vision trunk, measured against fp32 on these images "
                      "(the dev set's); the app uses it only if every report is identical"),
        )),
        Command("merge", "merge models as a YAML recipe says (JRadiEvo DARE + TIES, or mergekit)",
                _job(_merge), (
            _arg("recipe", type=Path, help="the recipe (YAML); see engine/merge/_recipe.py"),
            _arg("--out", type=Path, required=True, help="a new folder for the merged model"),
        )),
        Command("evolve",
                "search the JRadiEvo merge parameters (Optuna CMA-ES, Japanese ROUGE-L)",
                _job(_evolve), (
            _arg("recipe", type=Path, help="merge recipe with an evolve: section (YAML)"),
            _arg("--workspace", type=Path, required=True,
                 help="the run's folder (study, trials, best)"),
            _arg("--n-trials", type=int, help="COMPLETE trials wanted (default: the recipe's)"),
            _arg("--storage", help="Optuna storage URL (default: sqlite in the workspace; "
                 "postgresql://... lets several workers share one study)"),
            _arg("--study-name", help="default: the recipe's evolve.study_name"),
            _arg("--no-export", action="store_true",
                 help="do not write the best model at the end"),
        )),
        Command("history", "list the trials of an evolution's study", _cmd_history, (
            _arg("--workspace", type=Path, required=True, help="the run's folder"),
            _arg("--storage", help="Optuna storage URL (default: sqlite in the workspace)"),
            _arg("--study-name", default=STUDY_NAME),
        )),
        Command("devices", "the GPUs torch sees, with their memory", _job(_devices)),
        Command("eval-report", "score generated reports: ROUGE-L, BLEU, METEOR",
                _cmd_eval_report, (
            _arg("--predictions", type=Path, required=True, help="CSV or JSONL"),
            _arg("--ref-col", default="ja_text"),
            _arg("--pred-col", default="preds"),
            _arg("--char-bleu", action="store_true",
                 help="also report the character-level BLEU of the paper's code"),
        ), events=False),
        Command("lora", "LoRA / QLoRA instruction tuning (JMedLoRA)", _job(_lora), (
            _arg("config", type=Path,
                 help="the run's config (YAML); see engine/lora/_config.py"),
            _arg("--workspace", type=Path, required=True, help="folder for checkpoints and "
                 "outputs; run again with the same one to resume"),
            _arg("--strict", action="store_true", help="stop at the first data line that does "
                 "not load (as strict_data: true in the config); without it such lines are "
                 "skipped with a warning naming file and line"),
        )),
        Command("eval-qa", "answer IgakuQA-format questions with a model and score",
                _cmd_eval_qa, (
            dataset,
            _arg("--model", type=Path, required=True,
                 help="a GGUF file or a HF model folder"),
            _arg("--prompt-format", choices=PROMPT_FORMATS, default=LORA_PROMPT_FORMAT),
            _arg("--shots", type=int, default=0, help="solved examples before each question"),
            _arg("--out", type=Path, help="write the predictions here (JSONL)"),
            _arg("--choices", type=_choice_counts, default=[5], help="keep questions with "
                 "these choice counts, e.g. 5 or 5,6 (0: numeric) or all"),
            _arg("--with-images", action="store_true",
                 help="also questions that refer to an image"),
            _arg("--max-new-tokens", type=int, default=QA_MAX_NEW_TOKENS.default),
            _arg("--limit", type=int, help="only the first N selected questions"),
        )),
        Command("score-qa", "score QA predictions (JSONL) against the questions",
                _cmd_score_qa, (
            dataset,
            _arg("--predictions", type=Path, required=True,
                 help="JSONL: problem_id, response"),
        ), events=False),
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """``jradi-engine``'s parser, one subparser per entry of :func:`commands`."""
    parser = argparse.ArgumentParser(
        prog="jradi-engine",
        description="Build JRadi's models offline: demo models, GGUF export, merging, "
        "evolution, LoRA and evaluation.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in commands():
        p = sub.add_parser(command.name, help=command.help)
        if command.events:
            p.add_argument(
                "--events", choices=["jsonl"], help="write progress events as JSON lines"
            )
        for flags, options in command.arguments:
            p.add_argument(*flags, **options)
        p.set_defaults(run=command.run)
    return parser


def _hear_ctrl_c() -> None:
    """Let SIGINT (Ctrl-C, and the tuning wizard's Stop) cancel the job even when whoever
    started this process ignored it: a shell's background job inherits SIGINT ignored, and
    Python then keeps ignoring it, so Stop would be lost and the run go on to its end."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    _hear_ctrl_c()
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
