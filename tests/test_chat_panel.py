"""The QA chat panel driven offscreen with the real worker on the demo base GGUF: streaming,
storing, regenerate, stop, multiple choice, conversations, export, failures."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from jradi_desktop.inference import GenerationParams
from jradi_desktop.models import ModelSpec
from jradi_desktop.store import Database, History
from jradi_desktop.ui import chat_panel as chat_module
from jradi_desktop.ui.chat_panel import DRAFT_KEY, ChatPanel
from jradi_desktop.ui.chat_text import format_question, markdownish, split_question
from jradi_desktop.ui.generation import GenerationController, JobOutcome

pytestmark = pytest.mark.gui
CTRL = Qt.KeyboardModifier.ControlModifier
LONG_QUESTION = "こんにちは"  # the demo base model writes to the token limit on this


def visible(text: str) -> str:
    """Text as compared with the transcript: no whitespace, controls or Markdown marks."""
    return "".join(c for c in text if c.isprintable() and not c.isspace() and c not in "*`#-・•")


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(Database(tmp_path / "h.sqlite3"))


@pytest.fixture
def make_controller(qapp) -> Iterator:
    made: list[GenerationController] = []

    def make(spec: ModelSpec | None) -> GenerationController:
        controller = GenerationController()
        if spec is not None:
            controller.set_model(spec)
        made.append(controller)
        return controller

    yield make
    for controller in made:
        controller.shutdown()


@pytest.fixture
def panel(qtbot, history: History, make_controller, demo_gguf) -> ChatPanel:
    controller = make_controller(ModelSpec("demo", "gguf", demo_gguf["base"]))
    widget = ChatPanel(controller, history)
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    return widget


def ask(qtbot, panel: ChatPanel, question: str, choices: list[str] | None = None) -> JobOutcome:
    panel.choice_mode.setChecked(choices is not None)
    panel.choices.setPlainText("\n".join(choices or []))
    panel.input.setPlainText(question)
    assert panel.send()
    with qtbot.waitSignal(panel.job.finished, timeout=30000) as done:
        pass
    return done.args[0]


# -- no model needed ------------------------------------------------------------------------


def test_markdownish_escapes_html_and_draws_markup():
    shown = markdownish("<script>alert(1)</script> **重要** `x<y`\n# 見出し\n- 項目\n```\n<b>\n```")
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert "<b>重要</b>" in shown and "<code>x&lt;y</code>" in shown
    assert "見出し</b>" in shown and "<ul><li>項目</li></ul>" in shown
    assert "<pre>&lt;b&gt;</pre>" in shown


def test_choice_questions_are_stored_and_read_back():
    stored = format_question("正しいのは？", ["肺炎", "気胸", "胸水"])
    assert stored.endswith("a. 肺炎\nb. 気胸\nc. 胸水")
    assert split_question(stored) == ("正しいのは？", ["肺炎", "気胸", "胸水"])
    assert split_question("普通の質問") == ("普通の質問", None)


def test_export_markdown_writes_the_turns(qtbot, history: History, make_controller, tmp_path):
    chat = history.new_chat("発熱の鑑別")
    history.add_message(chat, "user", "発熱の鑑別は？")
    history.add_message(chat, "assistant", "感染症、膠原病、悪性腫瘍などです。")
    history.add_message(chat, "user", format_question("正しいのは？", ["肺炎", "気胸"]))
    history.add_message(chat, "assistant", "答え：a\n理由：発熱を伴うため。")
    widget = ChatPanel(make_controller(None), history)
    qtbot.addWidget(widget)
    path = widget.export_markdown(chat, tmp_path / "会話.md")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# 発熱の鑑別\n")
    assert "医療上の判断は必ず医師が行ってください。" in text
    assert text.count("## 質問") == 2 and text.count("## 回答") == 2
    assert "発熱の鑑別は？" in text and "感染症、膠原病、悪性腫瘍などです。" in text
    assert "- a. 肺炎\n- b. 気胸" in text and "答え：a" in text
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".part"] == []


def test_without_a_model_the_question_stays(qtbot, history: History, make_controller):
    widget = ChatPanel(make_controller(None), history)
    qtbot.addWidget(widget)
    widget.input.setPlainText("胸水の原因は？")
    assert not widget.send()
    assert widget.input.toPlainText() == "胸水の原因は？"
    assert "モデルが読み込まれていません" in widget.status.text()
    assert history.chats() == []


def test_choice_count_is_checked_before_sending(qtbot, history: History, make_controller):
    widget = ChatPanel(make_controller(None), history)
    qtbot.addWidget(widget)
    widget.choice_mode.setChecked(True)
    widget.choices.setPlainText("肺炎")
    widget.input.setPlainText("正しいのは？")
    assert not widget.send()
    assert "2〜8 個" in widget.status.text() and widget.input.toPlainText() == "正しいのは？"


def test_disclaimer_and_labels_are_japanese(qtbot, history: History, make_controller):
    widget = ChatPanel(make_controller(None), history)
    qtbot.addWidget(widget)
    assert widget.disclaimer.text() == (
        "医療上の判断は必ず医師が行ってください。AI の回答には誤りが含まれることがあります。"
    )
    widget.retranslate()
    labels = [widget.send_button.text(), widget.stop_button.text(), widget.new_button.text()]
    assert labels == ["送信 (Ctrl+Enter)", "停止 (Esc)", "新しい会話"]


# -- the demo model -------------------------------------------------------------------------


@pytest.mark.slow
def test_question_streams_into_the_transcript_and_is_stored(qtbot, panel: ChatPanel, history):
    pieces: list[str] = []
    panel.input.setPlainText("肺炎の症状は？")
    qtbot.keyClick(panel.input, Qt.Key.Key_Return, CTRL)  # Ctrl+Enter sends
    panel.job.piece.connect(pieces.append)
    with qtbot.waitSignal(panel.job.finished, timeout=30000) as done:
        pass
    answer = done.args[0].result
    assert answer and "".join(pieces) == answer
    assert panel.input.toPlainText() == ""
    [(chat_id, title, _)] = history.chats()
    assert title == "肺炎の症状は？" and panel.current_chat == chat_id
    stored = [(m.role, m.content) for m in history.messages(chat_id)]
    assert stored == [("user", "肺炎の症状は？"), ("assistant", answer)]
    shown = visible(panel.transcript.toPlainText())
    assert visible("あなた肺炎の症状は？AI") in shown and visible(answer) in shown
    assert "回答しました" in panel.status.text() and DRAFT_KEY not in history.drafts()


@pytest.mark.slow
def test_regenerate_replaces_the_last_answer(qtbot, panel: ChatPanel, history):
    first = ask(qtbot, panel, "肺炎の症状は？").result
    panel.params = GenerationParams(max_new_tokens=8)
    assert panel.regenerate()
    with qtbot.waitSignal(panel.job.finished, timeout=30000) as done:
        pass
    second = done.args[0].result
    assert second != first and first.startswith(second)  # greedy: the same start, shorter
    messages = history.messages(panel.current_chat)
    assert [(m.role, m.content) for m in messages] == [
        ("user", "肺炎の症状は？"),
        ("assistant", second),
    ]
    assert visible(second) in visible(panel.transcript.toPlainText())


@pytest.mark.slow
def test_stop_ends_a_long_generation_quickly(qtbot, history, make_controller, demo_gguf):
    spec = ModelSpec("demo", "gguf", demo_gguf["base"], context=32768, threads=1)
    widget = ChatPanel(make_controller(spec), history, GenerationParams(max_new_tokens=30000))
    qtbot.addWidget(widget)
    widget.show()
    widget.input.setPlainText(LONG_QUESTION)
    assert widget.send() and widget.stop_button.isEnabled()
    qtbot.waitUntil(lambda: "AI（生成中…）" in widget.transcript.toPlainText(), timeout=10000)
    qtbot.waitUntil(lambda: len(widget.transcript.toPlainText()) > 60, timeout=10000)
    started = time.perf_counter()
    with qtbot.waitSignal(widget.job.finished, timeout=10000) as done:
        qtbot.keyClick(widget.input, Qt.Key.Key_Escape)
    assert time.perf_counter() - started < 2.0
    assert done.args[0].finish_reason == "cancelled"
    partial = done.args[0].result
    assert 0 < len(partial) < 20000
    [(chat_id, _, _)] = history.chats()
    assert [m.content for m in history.messages(chat_id)] == [LONG_QUESTION, partial]
    assert "停止" in widget.status.text() and not widget.stop_button.isEnabled()


@pytest.mark.slow
def test_multiple_choice_mode_shows_the_parsed_letters(qtbot, panel, history, monkeypatch):
    # The demo model itself: the question and lettered choices go in, an answer line comes out.
    outcome = ask(qtbot, panel, "正しいものはどれか。", ["肺炎", "気胸", "胸水"])
    assert outcome.result
    assert "答え：" in panel.transcript.toPlainText()
    user = history.messages(panel.current_chat)[0].content
    assert user == "正しいものはどれか。\n\n選択肢：\na. 肺炎\nb. 気胸\nc. 胸水"
    # A reply that names letters (a real model's) is shown as the answer and its reason.
    seen: dict = {}

    def canned(generator, question, *, choices=None, history=None, params=None):
        seen.update(question=question, choices=choices)
        yield "答え：a, c\n"
        yield "理由：発熱と湿性咳嗽は肺炎に、濁音は胸水に合う。"

    monkeypatch.setattr(chat_module, "ask", canned)
    panel.new_chat()
    ask(qtbot, panel, "合うものを選べ。", ["肺炎", "気胸", "胸水", "無気肺"])
    assert seen == {"question": "合うものを選べ。", "choices": ["肺炎", "気胸", "胸水", "無気肺"]}
    shown = panel.transcript.toPlainText()
    assert "答え：a, c" in shown and "a. 肺炎" in shown and "c. 胸水" in shown
    assert "理由" in shown and "濁音は胸水に合う" in shown
    assert panel.choices.toPlainText() == ""


@pytest.mark.slow
def test_conversations_switch_and_keep_their_history(qtbot, panel: ChatPanel, history):
    ask(qtbot, panel, "肺炎の症状は？")
    first = panel.current_chat
    ask(qtbot, panel, "治療は？")  # a follow-up in the same conversation
    panel.new_chat()
    assert panel.transcript.toPlainText() == "" and panel.current_chat is None
    ask(qtbot, panel, "気胸の所見は？")
    second = panel.current_chat
    assert second != first and panel.chat_list.count() == 2
    assert panel.chat_list.item(0).data(Qt.ItemDataRole.UserRole) == second  # newest first
    panel.chat_list.setCurrentRow(1)
    assert panel.current_chat == first
    shown = panel.transcript.toPlainText()
    assert "肺炎の症状は？" in shown and "治療は？" in shown and "気胸の所見は？" not in shown
    assert [m.role for m in history.messages(first)] == ["user", "assistant"] * 2
    panel.search.setText("気胸")
    assert panel.chat_list.count() == 1
    panel.search.clear()
    panel.delete_chat(second)
    assert [c[0] for c in history.chats()] == [first] and panel.chat_list.count() == 1


@pytest.mark.slow
def test_a_failure_is_shown_inline_and_keeps_question(qtbot, history, make_controller, tmp_path):
    missing = tmp_path / "ないモデル.gguf"
    widget = ChatPanel(make_controller(ModelSpec("missing", "gguf", missing)), history)
    qtbot.addWidget(widget)
    widget.input.setPlainText("心不全の治療は？")
    assert widget.send()
    with qtbot.waitSignal(widget.job.failed, timeout=30000):
        pass
    assert widget.input.toPlainText() == "心不全の治療は？"
    shown = widget.transcript.toPlainText()
    assert "エラー" in shown and str(missing) in shown and "入力欄に残っています" in shown
    assert history.chats() == []  # nothing half-written
    assert history.drafts()[DRAFT_KEY]["question"] == "心不全の治療は？"
