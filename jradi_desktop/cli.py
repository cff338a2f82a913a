"""``jradi``: the headless clinician pipeline (reports, questions, rendering, image info)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

NOT_YET = {
    "report": "issue #3 (report generation from the command line)",
    "ask": "issue #3 (medical QA from the command line)",
    "render": "issue #3 (rendering an image as the viewer shows it)",
    "info": "issue #3 (image metadata as JSON)",
    "models": "issue #3 (the model registry)",
}


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
    for name, what in NOT_YET.items():
        p = sub.add_parser(name, help=f"(not available yet: {what})")
        p.add_argument("args", nargs=argparse.REMAINDER)
        p.set_defaults(run=_not_yet(name))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
