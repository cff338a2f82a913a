"""``jradi``: the clinician pipeline without a window — reports, questions, rendering, info.

Errors from the project's own checks (``JRadiError``) are printed as their Japanese and
English messages, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import ClassVar

from jradi_desktop.cli._pacs import pacs_parser
from jradi_desktop.errors import JRadiError

_FRAME_HELP = "frame of a multi-frame DICOM, counted from 0 (default: 0)"
_PDF_TIMEOUT_S = 120  # drawing one report's PDF takes about a second


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


def _add_demo(args: argparse.Namespace, registry: object) -> tuple[object, object]:
    """``models add --demo``: the shipped demo under ``demo`` (or ``--name``), replacing it."""
    from jradi_desktop.models import DEMO_CLI_NAME, ModelCheckError, bundled_demo

    spec = bundled_demo(args.name or DEMO_CLI_NAME)
    if spec is None:
        raise ModelCheckError(
            "同梱のデモモデル（resources/demo-model/model.gguf + vision/）が見つかりません。"
            "tools/make_demo_model.py で作成してください。",
            "the bundled demo model (resources/demo-model/model.gguf + vision/) is missing; "
            "write it with tools/make_demo_model.py",
        )
    spec.template, spec.context = args.template, args.context
    return spec, registry.add(spec, make_default=args.default, replace=True)


def _add_path(args: argparse.Namespace, registry: object) -> tuple[object, object]:
    from jradi_desktop.models import ModelSpec, default_model_name, find_mmproj

    path = Path(args.path).expanduser().resolve()
    kind = "hf" if path.is_dir() else "gguf"
    if args.mmproj:
        mmproj = Path(args.mmproj).expanduser().resolve()
    else:  # the exporter writes mmproj.gguf or vision/ beside model.gguf, as `report` finds it
        mmproj = find_mmproj(path) if kind == "gguf" else None
    spec = ModelSpec(
        name=args.name or default_model_name(path),
        kind=kind,
        path=path,
        mmproj=mmproj,
        template=args.template,
        context=args.context,
    )
    return spec, registry.add(spec, make_default=args.default, replace=args.replace)


def _cmd_models(args: argparse.Namespace) -> int:
    from jradi_desktop.models import ModelRegistry, shown_name

    registry = ModelRegistry()
    if args.action == "list":
        for name in registry.names():
            spec = registry.get(name)
            mark = "*" if name == registry.default else " "
            print(f"{mark} {shown_name(spec)}\t{spec.kind}\t{spec.path}\t{spec.mmproj or ''}")
    elif args.action == "add":
        if args.demo == (args.path is not None):
            print("jradi models add: give a model PATH or --demo (one of them)", file=sys.stderr)
            return 2
        spec, check = (_add_demo if args.demo else _add_path)(args, registry)
        if spec.mmproj is not None and not args.mmproj:  # found beside model.gguf
            print(f"{'vision' if spec.mmproj.is_dir() else 'mmproj'}: {spec.mmproj}")
        print(
            f"{shown_name(spec)}: {check.architecture}, {check.layers} layers, "
            f"memory ≈ {check.memory_text(spec.context)} at context {spec.context}"
        )
        for warning in check.warnings:
            print(f"警告 / warning: {warning}", file=sys.stderr)
    elif args.action == "remove":
        registry.remove(args.name)
    elif args.action == "default":
        registry.set_default(args.name)
    return 0


def _worker_for(args: argparse.Namespace) -> tuple[object, str]:
    from jradi_desktop.inference import InferenceWorker
    from jradi_desktop.models import is_demo, resolve_model, shown_name

    spec = resolve_model(args.model, getattr(args, "mmproj", None))
    if is_demo(spec):  # stderr: --json lines on stdout stay as they are
        print(f"【注意】{shown_name(spec)}: ランダム重みのデモモデルです / a random-weights demo "
              "model, not for clinical use", file=sys.stderr, flush=True)  # fmt: skip
    if args.threads:
        spec.threads = args.threads
    if args.n_gpu_layers is not None:
        spec.n_gpu_layers = args.n_gpu_layers
    return InferenceWorker(spec), spec.name


def _params(args: argparse.Namespace, default_tokens: int) -> object:
    from jradi_desktop.inference import GenerationParams

    return GenerationParams(max_new_tokens=args.max_new_tokens or default_tokens)


class _ProgressLine:
    """The work before a report's first token on stderr: one line rewritten in place (a
    terminal), or one JSON event per step with ``--json`` (stdout keeps one line per image)."""

    PHASES: ClassVar[dict[str, tuple[str, str]]] = {
        "encode": ("画像を解析中", "encoding the image"),
        "prefill": ("入力を読み込み中", "reading the input"),
    }

    def __init__(self, image: str, *, json_lines: bool) -> None:
        from jradi_desktop.pipeline import PhaseClock

        self.image, self.json_lines, self.clock, self.shown = image, json_lines, PhaseClock(), False

    def __call__(self, phase: str, done: int, total: int) -> None:
        left = self.clock.left(phase, done, total)
        if self.json_lines:
            event = {
                "event": "progress",
                "image": self.image,
                "phase": phase,
                "done": done,
                "total": total,
                "seconds_left": None if left is None else round(left, 1),
            }
            print(json.dumps(event, ensure_ascii=False), file=sys.stderr, flush=True)
            return
        ja, en = self.PHASES.get(phase, (phase, phase))
        eta = ""
        if left is not None:
            eta = f"（残り約 {max(1, round(left))} 秒 / about {left:.0f} s left）"
        print(f"\r{ja} / {en} {done}/{total}{eta}\033[K", end="", file=sys.stderr, flush=True)
        self.shown = True

    def end(self) -> None:
        """Clear the line before the report's text (once)."""
        if self.shown:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
            self.shown = False


def _render_pdf(document: object, pdf: Path) -> Path:
    """``--send-pdf``: the report's PDF, drawn by the app's PDF writer in a child process
    (``python -m jradi_desktop.ui.pdf_export OUT.pdf``, the document as JSON on stdin): Qt
    stays out of this process, as only ``jradi_desktop.ui`` may import it. Raises
    ``ReportExportError`` with the child's reason."""
    import subprocess

    from jradi_desktop.reports import ReportExportError

    command = [sys.executable, "-m", "jradi_desktop.ui.pdf_export", str(pdf)]
    data = json.dumps(document.to_json(), ensure_ascii=False).encode("utf-8")
    try:
        done = subprocess.run(command, input=data, capture_output=True, timeout=_PDF_TIMEOUT_S)
        if done.returncode == 0:
            return pdf
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["-"])[-1]
        reason = json.loads(last) if last.startswith("{") else {}  # else: it died before
        detail = f"exit status {done.returncode}: {last[:200]}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason, detail = {}, str(exc)
    raise ReportExportError(
        reason.get("ja", f"PDF を作成できません（{detail}）"),
        reason.get("en", f"the PDF could not be drawn ({detail})"),
    )


def _send_sr(entry: object, image: object, result: object, args: argparse.Namespace) -> str:
    """``--send-sr``: the report's DICOM SR (and with ``--send-pdf`` its PDF as Encapsulated
    PDF), written to a temporary folder, C-STOREd to the PACS entry into the image's study;
    the line to print (raises ``PacsError`` or ``ReportExportError``)."""
    import tempfile
    from datetime import datetime

    from jradi_desktop.pacs import send_report
    from jradi_desktop.reports import ReportDocument

    document = ReportDocument.from_image(
        image, findings=result.findings, impression=result.impression,
        indication=args.indication, model_name=result.model, generated_at=datetime.now(),
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="jradi-sr-") as folder:
        pdf = None
        if args.send_pdf and document.has_source_instance:  # else send_report says why not
            pdf = _render_pdf(document, Path(folder) / "report.pdf")
        sent = send_report(entry, document, folder, pdf)
    what_ja, what_en = ("SR と PDF", "SR and PDF") if pdf else ("SR", "SR")
    status = ", ".join(f"0x{r.status:04X}" for r in sent)
    return (f"{image.source}: {what_ja} を PACS {entry.name} へ送信しました / {what_en} sent "
            f"to PACS {entry.name} (status {status})")  # fmt: skip


def _cmd_report(args: argparse.Namespace) -> int:
    from jradi_desktop.imaging import open_image, plausibility_notes, scan_images
    from jradi_desktop.inference import (
        BackendUnavailableError,
        ModelFileNotFoundError,
        ModelLoadError,
        UnknownBackendError,
        VisionNotSupportedError,
    )
    from jradi_desktop.pipeline import generate_report

    # Failures of the model, not of the image: every later image would fail the same way.
    model_errors = (BackendUnavailableError, ModelFileNotFoundError, ModelLoadError,
                    UnknownBackendError, VisionNotSupportedError)  # fmt: skip

    def error_line(key: str, value: object, exc: JRadiError) -> str:
        line = {key: str(value), "error": exc.message_en, "error_ja": exc.message_ja}
        return json.dumps(line, ensure_ascii=False)

    def image_failed(path: object, exc: JRadiError, newline: str = "") -> None:
        if args.json:
            print(error_line("image", path, exc), flush=True)
        else:
            print(f"{newline}{exc}", file=sys.stderr, flush=True)

    def model_failed(exc: JRadiError, left: int) -> int:
        if args.json:
            print(error_line("model", model_name, exc), flush=True)
        print(f"jradi report: {exc}\njradi report: モデルを使えないため、残りの画像 {left} 枚は"
              f"処理していません / the model cannot be used, so the remaining {left} image(s) "
              "were not processed", file=sys.stderr)  # fmt: skip
        return 1

    send_to = None
    if args.send_sr:  # a name that is not registered fails before the model loads
        from jradi_desktop.pacs import PacsRegistry

        try:
            send_to = PacsRegistry().get(args.send_sr)
        except JRadiError as exc:
            print(f"jradi report: {exc.message_ja} / {exc.message_en}", file=sys.stderr)
            return 1
    scan = scan_images(args.paths)  # stats every entry; opens only regular files
    for skipped in scan.skipped:  # FIFOs, sockets, broken links, link loops: never opened
        image_failed(skipped.path, skipped)
    if not scan.files:
        if not scan.skipped:
            print("jradi report: 画像が見つかりません / no images found", file=sys.stderr)
        return 1
    worker, model_name = _worker_for(args)
    failures = len(scan.skipped)
    try:
        for done, path in enumerate(scan.files):
            if not args.json:
                print(f"== {path}", flush=True)
            try:
                image = open_image(path)
            except JRadiError as exc:
                failures += 1
                image_failed(path, exc)
                continue
            if not args.json:  # --json carries them in the result
                for note in plausibility_notes(image):
                    print(f"【注意】{note.ja}\nWarning: {note.en}", flush=True)
            try:
                worker.wait_ready()  # loads the model once (again only after a crash)
            except JRadiError as exc:  # loading failed: it would fail for every image
                return model_failed(exc, len(scan.files) - done)
            progress = _ProgressLine(str(path), json_lines=args.json)

            def stream(piece: str, progress: _ProgressLine = progress) -> None:
                progress.end()
                if not args.json:
                    print(piece, end="", flush=True)

            try:
                result = generate_report(
                    worker, image, model_name=model_name, indication=args.indication,
                    params=_params(args, 256), on_piece=stream, on_progress=progress,
                )  # fmt: skip
            except model_errors as exc:
                return model_failed(exc, len(scan.files) - done)
            except JRadiError as exc:
                failures += 1
                image_failed(path, exc, newline="\n")
                continue
            finally:
                progress.end()
            if args.json:
                print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
            else:
                print(f"\n-- {result.seconds:.1f} s", flush=True)
            if send_to is not None:
                try:
                    print(_send_sr(send_to, image, result, args), file=sys.stderr, flush=True)
                except JRadiError as exc:
                    failures += 1
                    print(f"jradi report: {exc.message_ja} / {exc.message_en}",
                          file=sys.stderr, flush=True)  # fmt: skip
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
    p.add_argument(
        "--model",
        required=True,
        help="a registered name (jradi models list), a .gguf file or a HF folder; a registered "
        "name wins over a same-named file or folder here: write ./NAME for the path (anything "
        "with a path separator, starting with . or ~, absolute or ending in .gguf is a path)",
    )
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
    p.add_argument("--frame", type=int, default=0, metavar="N", help=_FRAME_HELP)
    p.set_defaults(run=_cmd_render)

    p = sub.add_parser("info", help="image metadata as JSON")
    p.add_argument("image")
    p.add_argument("--frame", type=int, default=0, metavar="N", help=_FRAME_HELP)
    p.set_defaults(run=_cmd_info)

    p = sub.add_parser("models", help="the registered models")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list")
    add = actions.add_parser(
        "add", help="register a GGUF file (+ mmproj or vision/), a HF folder, or --demo"
    )
    add.add_argument("path", nargs="?", help="model.gguf or a Hugging Face folder")
    add.add_argument(
        "--demo",
        action="store_true",
        help="register the bundled demo model (a tiny Bunny, 臨床使用不可) as 'demo', "
        "replacing an entry of that name",
    )
    add.add_argument("--name", help="default: the GGUF's file stem or the folder's name")
    add.add_argument("--mmproj", help="the vision encoder GGUF (default: mmproj*.gguf beside it)")
    add.add_argument("--template", default="auto")
    add.add_argument("--context", type=int, default=4096)
    add.add_argument("--default", action="store_true")
    add.add_argument(
        "--replace", action="store_true", help="replace a model already registered under the name"
    )
    for action in ("remove", "default"):
        actions.add_parser(action).add_argument("name")
    p.set_defaults(run=_cmd_models)

    p = sub.add_parser("report", help="draft a Japanese report for each image (folders expand)")
    p.add_argument("paths", nargs="+")
    _model_options(p)
    p.add_argument("--mmproj", help="the vision encoder GGUF (default: mmproj*.gguf beside it)")
    p.add_argument("--indication", default="", help="clinical indication (臨床情報)")
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    p.add_argument("--send-sr", metavar="PACS",
                   help="C-STORE each report's DICOM SR to this PACS entry (jradi pacs list), "
                   "into the image's study (DICOM images only)")  # fmt: skip
    p.add_argument("--send-pdf", action="store_true",
                   help="with --send-sr: also send each report's PDF, as DICOM Encapsulated PDF "
                   "in the same study")  # fmt: skip
    p.set_defaults(run=_cmd_report)

    p = sub.add_parser("ask", help="ask a Japanese medical question; streams the answer")
    p.add_argument("question")
    _model_options(p)
    p.add_argument("--choices", help='multiple choice: "a,b,c,d,e" texts, comma-separated')
    p.set_defaults(run=_cmd_ask)

    pacs_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "send_pdf", False) and not args.send_sr:
        parser.error("--send-pdf は --send-sr PACS と一緒に指定してください / --send-pdf "
                     "needs --send-sr PACS: the PDF goes with the report's SR")  # fmt: skip
    try:
        return args.run(args)
    except JRadiError as exc:
        print(f"jradi {args.command}: {exc}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, KeyError, OSError, ArithmeticError) as exc:
        # A check we do not have yet (a file that lies in a new way): say what failed in one
        # line, never a traceback; JRADI_DEBUG=1 shows it for a bug report.
        if os.environ.get("JRADI_DEBUG"):
            raise
        print(f"jradi {args.command}: 予期しないエラー / unexpected error: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr)  # fmt: skip
        return 1
