"""Look at the QA chat panel and the model manager, and time a transcript redraw.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/show_chat.py [--demo] [--out /tmp]

Saves ``QWidget.grab()`` screenshots under OUT: ``chat_panel.png`` (a short conversation),
``chat_choice.png`` (multiple-choice mode and a parsed answer), ``chat_error.png`` (a failed
turn: the error inline, the question back in the box), ``model_manager.png`` and
``first_start.png``. With ``--demo`` the tiny demo models are built (needs the engine extra)
and the first question is really answered by the demo base GGUF through the worker process;
without it the turns are canned. Then times ``ChatPanel.render`` (the redraw done at most
every 40 ms while an answer streams) on a 40-turn conversation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from jradi_desktop.models import ModelRegistry, ModelSpec
from jradi_desktop.store import Database, History
from jradi_desktop.ui.chat_panel import ChatPanel
from jradi_desktop.ui.chat_text import format_question
from jradi_desktop.ui.first_start import FirstStartPage
from jradi_desktop.ui.generation import GenerationController
from jradi_desktop.ui.model_manager import ModelManagerDialog

ANSWER = (
    "市中肺炎の典型的な症状は次のとおりです。\n"
    "- **発熱**、悪寒\n- 咳嗽（湿性のことが多い）、膿性痰\n- 胸膜痛、呼吸困難\n\n"
    "高齢者では発熱や咳が目立たず、`食欲低下` や意識障害だけのこともあります。"
    "胸部 X 線で浸潤影を確認し、重症度は A-DROP で評価します。<script>は表示されません</script>"
)
CHOICE_ANSWER = "答え：b, c\n理由：胸水の貯留では患側の打診で濁音となり、呼吸音は減弱する。"


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def build_demo(folder: Path) -> dict[str, Path]:
    from engine.demo import build_demo_models
    from engine.export import export_gguf

    demo = build_demo_models(folder / "demo", seed=0, vlm="llava")  # the mmproj path
    base = export_gguf(demo / "base", folder / "gguf" / "base", "f32")
    vlm = export_gguf(demo / "vlm", folder / "gguf" / "vlm", "f32")
    return {"base": base.model, "vlm": vlm.model, "mmproj": vlm.mmproj}


def canned_history(history: History) -> None:
    old = history.new_chat("心不全の BNP の解釈", "demo")
    history.add_message(old, "user", "心不全の BNP の解釈")
    history.add_message(old, "assistant", "BNP 100 pg/mL 以上で心不全を疑います。")
    chat = history.new_chat("胸水の身体所見", "demo")
    choices = ["打診で鼓音", "打診で濁音", "呼吸音の減弱", "声音振盪の増強"]
    question = format_question("胸水の身体所見として正しいものを選べ。", choices)
    history.add_message(chat, "user", question)
    history.add_message(chat, "assistant", CHOICE_ANSWER)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="build and run the demo models")
    parser.add_argument("--out", type=Path, default=Path("/tmp"))
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    work = Path(tempfile.mkdtemp(prefix="jradi-show-chat-"))
    history = History(Database(work / "h.sqlite3"))
    canned_history(history)
    gguf = build_demo(work) if args.demo else None

    controller = GenerationController()
    if gguf:
        controller.set_model(ModelSpec("demo", "gguf", gguf["base"]))
    panel = ChatPanel(controller, history)
    panel.resize(1100, 720)
    panel.show()
    panel.new_chat()
    panel.input.setPlainText("肺炎の症状は？")
    if gguf:
        done: list[object] = []
        panel.send()
        panel.job.finished.connect(done.append)
        while not done:
            wait(20)
    else:  # canned: what the panel stores after a finished turn
        chat = history.new_chat("肺炎の症状は？", "demo")
        history.add_message(chat, "user", "肺炎の症状は？")
        history.add_message(chat, "assistant", ANSWER)
        panel.input.clear()
        panel.open_chat(chat)
    panel.input.setPlainText("高齢者で注意する点は？")
    wait(50)
    panel.grab().save(str(args.out / "chat_panel.png"))

    panel.open_chat(next(i for i, t, _ in history.chats() if t == "胸水の身体所見"))
    panel.choice_mode.setChecked(True)
    panel.choices.setPlainText("肺炎\n気胸\n胸水")
    panel.input.setPlainText("発熱と湿性咳嗽で考えるべきものは？")
    wait(50)
    panel.grab().save(str(args.out / "chat_choice.png"))

    failing = GenerationController()
    failing.set_model(ModelSpec("missing", "gguf", work / "届いていないモデル.gguf"))
    broken = ChatPanel(failing, History(Database(work / "h2.sqlite3")))
    broken.resize(1100, 560)
    broken.show()
    broken.input.setPlainText("心不全の治療は？")
    failed: list[object] = []
    broken.send()
    broken.job.failed.connect(failed.append)
    while not failed:
        wait(20)
    wait(50)
    broken.grab().save(str(args.out / "chat_error.png"))

    registry = ModelRegistry(work / "models.json")
    dialog = ModelManagerDialog(registry)
    if gguf:
        dialog.add_model(gguf["base"], name="demo-base")
        dialog.add_model(gguf["vlm"], gguf["mmproj"], name="JRadiEvo デモ VLM")
    dialog.add_model(work / "届いていない" / "model.gguf")
    dialog.show()
    wait(50)
    dialog.grab().save(str(args.out / "model_manager.png"))
    page = FirstStartPage()
    page.resize(900, 560)
    page.show()
    wait(50)
    page.grab().save(str(args.out / "first_start.png"))

    # Redraw cost on a long conversation (40 turns of ~900 characters).
    chat = history.new_chat("長い会話", "demo")
    for i in range(20):
        history.add_message(chat, "user", f"質問 {i}：" + "肺炎の鑑別について。" * 10)
        history.add_message(chat, "assistant", ANSWER * 3)
    panel.open_chat(chat)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        panel.render()
        times.append((time.perf_counter() - start) * 1000)
    print(f"render, 40 turns ({len(panel.transcript.toPlainText())} chars): "
          f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms")  # fmt: skip
    print("screenshots:", *(str(args.out / n) for n in (
        "chat_panel.png", "chat_choice.png", "chat_error.png", "model_manager.png",
        "first_start.png")))  # fmt: skip
    controller.shutdown()
    failing.shutdown()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
