"""``jradi``: the clinician pipeline without a window — reports, questions, rendering, info.

Errors from the project's own checks (``JRadiError``) are printed as their Japanese and
English messages, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from jradi_desktop.errors import JRadiError


def _parse_window(text: str) -> tuple[float, float]:
    try:
        center, width = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--window は CENTER,WIDTH の形で指定してください / expected CENTER,WIDTH, got {text!r}"
        ) from None
    if width <= 0:
        raise argparse.ArgumentTypeError(f"window width must be positive, got {width}")
    return center, width


def _cmd_render(args: argparse.Namespace) -> int:
    from PIL import Image

    from jradi_desktop.imaging import Window, open_image, render

    image = open_image(args.image, frame=args.frame)
    window = None
    if args.window:
        function = image.default_window.function if image.default_window else "LINEAR"
        window = Window(args.window[0], args.window[1], function)
    pixels = render(image, window=window, invert=args.invert)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(out)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from jradi_desktop.imaging import image_info, open_image

    info = image_info(open_image(args.image, frame=args.frame))
    print(json.dumps(info, ensure_ascii=False, indent=2))
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from jradi_desktop.models import ModelRegistry, ModelSpec, check_model

    registry = ModelRegistry()
    if args.action == "list":
        for name in registry.names():
            spec = registry.get(name)
            mark = "*" if name == registry.default else " "
            print(f"{mark} {name}\t{spec.kind}\t{spec.path}\t{spec.mmproj or ''}")
    elif args.action == "add":
        path = Path(args.path)
        spec = ModelSpec(
            name=args.name or path.stem if path.is_file() else args.name or path.name,
            kind="gguf" if path.is_file() else "hf",
            path=path.resolve(),
            mmproj=Path(args.mmproj).resolve() if args.mmproj else None,
            template=args.template,
            context=args.context,
        )
        check = check_model(spec)
        registry.add(spec, make_default=args.default)
        print(
            f"{spec.name}: {check.architecture}, {check.layers} layers, "
            f"memory ≈ {check.memory_text(spec.context)} at context {spec.context}"
        )
    elif args.action == "remove":
        registry.remove(args.name)
    elif args.action == "default":
        registry.set_default(args.name)
    return 0


def _worker_for(args: argparse.Namespace) -> tuple[object, str]:
    from jradi_desktop.inference import InferenceWorker
    from jradi_desktop.models import resolve_model

    spec = resolve_model(args.model, getattr(args, "mmproj", None))
    if args.threads:
        spec.threads = args.threads
    if args.n_gpu_layers is not None:
        spec.n_gpu_layers = args.n_gpu_layers
    return InferenceWorker(spec), spec.name


def _params(args: argparse.Namespace, default_tokens: int) -> object:
    from jradi_desktop.inference import GenerationParams

    return GenerationParams(max_new_tokens=args.max_new_tokens or default_tokens)


def _cmd_report(args: argparse.Namespace) -> int:
    from jradi_desktop.imaging import list_images
    from jradi_desktop.pipeline import generate_report

    paths = list_images(args.paths)
    if not paths:
        print("jradi report: 画像が見つかりません / no images found", file=sys.stderr)
        return 1
    worker, model_name = _worker_for(args)
    failures = 0
    try:
        for path in paths:
            stream = None if args.json else (lambda piece: print(piece, end="", flush=True))
            if not args.json:
                print(f"== {path}", flush=True)
            try:
                result = generate_report(
                    worker, path, model_name=model_name, indication=args.indication,
                    params=_params(args, 256), on_piece=stream,
                )  # fmt: skip
            except JRadiError as exc:
                failures += 1
                if args.json:
                    print(json.dumps({"image": str(path), "error": exc.message_en,
                                      "error_ja": exc.message_ja}, ensure_ascii=False))  # fmt: skip
                else:
                    print(f"\n{exc}", file=sys.stderr)
                continue
            if args.json:
                print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
            else:
                print(f"\n-- {result.seconds:.1f} s", flush=True)
    finally:
        worker.close()
    return 1 if failures else 0


def _cmd_ask(args: argparse.Namespace) -> int:
    from jradi_desktop.inference import parse_choice_answer
    from jradi_desktop.pipeline import ask

    choices = [c.strip() for c in args.choices.split(",")] if args.choices else None
    worker, _ = _worker_for(args)
    pieces = []
    try:
        for piece in ask(worker, args.question, choices=choices, params=_params(args, 512)):
            pieces.append(piece)
            print(piece, end="", flush=True)
    finally:
        worker.close()
    print()
    if choices:
        answer = parse_choice_answer("".join(pieces), len(choices))
        print(f"答え / answer: {','.join(answer.letters) or '?'}")
    return 0


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="a GGUF file, a HF folder or a registered name")
    p.add_argument("--threads", type=int)
    p.add_argument("--n-gpu-layers", type=int)
    p.add_argument("--max-new-tokens", type=int)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jradi", description="JRadi: offline Japanese chest X-ray reports and medical QA."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("render", help="write an image exactly as the viewer shows it")
    p.add_argument("image")
    p.add_argument("out", help="PNG file to write")
    p.add_argument(
        "--window",
        type=_parse_window,
        metavar="CENTER,WIDTH",
        help="window to render at; write --window=-600,1500 for a negative center",
    )
    p.add_argument("--invert", action="store_true")
    p.add_argument("--frame", type=int, default=0)
    p.set_defaults(run=_cmd_render)

    p = sub.add_parser("info", help="image metadata as JSON")
    p.add_argument("image")
    p.add_argument("--frame", type=int, default=0)
    p.set_defaults(run=_cmd_info)

    p = sub.add_parser("models", help="the registered models")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list")
    add = actions.add_parser("add", help="register a GGUF file (+ mmproj) or a HF folder")
    add.add_argument("path")
    add.add_argument("--name")
    add.add_argument("--mmproj")
    add.add_argument("--template", default="auto")
    add.add_argument("--context", type=int, default=4096)
    add.add_argument("--default", action="store_true")
    for action in ("remove", "default"):
        actions.add_parser(action).add_argument("name")
    p.set_defaults(run=_cmd_models)

    p = sub.add_parser("report", help="draft a Japanese report for each image (folders expand)")
    p.add_argument("paths", nargs="+")
    _model_options(p)
    p.add_argument("--mmproj", help="the vision encoder GGUF (default: mmproj*.gguf beside it)")
    p.add_argument("--indication", default="", help="clinical indication (臨床情報)")
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    p.set_defaults(run=_cmd_report)

    p = sub.add_parser("ask", help="ask a Japanese medical question; streams the answer")
    p.add_argument("question")
    _model_options(p)
    p.add_argument("--choices", help='multiple choice: "a,b,c,d,e" texts, comma-separated')
    p.set_defaults(run=_cmd_ask)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except JRadiError as exc:
        print(f"jradi {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
