"""``jradi``: the clinician pipeline without a window — reports, questions, rendering, info.

Errors from the project's own checks (``JRadiError``) are printed as their Japanese and
English messages, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from jradi_desktop.errors import JRadiError

NOT_YET = {
    "report": "issue #3 (report generation from the command line)",
    "ask": "issue #3 (medical QA from the command line)",
}


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


def _not_yet(name: str) -> Callable[[argparse.Namespace], int]:
    def run(_: argparse.Namespace) -> int:
        print(
            f"jradi {name}: まだ利用できません / not available yet; it arrives with "
            f"{NOT_YET[name]}.",
            file=sys.stderr,
        )
        return 2

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jradi", description="JRadi: offline Japanese chest X-ray reports and medical QA."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("render", help="write an image exactly as the viewer shows it")
    p.add_argument("image")
    p.add_argument("out", help="PNG file to write")
    p.add_argument("--window", type=_parse_window, metavar="CENTER,WIDTH")
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

    for name, what in NOT_YET.items():
        p = sub.add_parser(name, help=f"(not available yet: {what})")
        p.add_argument("args", nargs=argparse.REMAINDER)
        p.set_defaults(run=_not_yet(name))
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
