"""Japanese prompt formats of JMedLoRA and the 70B study (REFERENCE.md §2-3), 0-shot and n-shot.

Both formats have the same three blocks, ``### 指示：`` (instruction), ``### 入力：`` (input)
and ``### 応答：`` (response), each marker on its own line, and differ only in where the task
sentence sits, as in the authors' public harness (its ``template.py``):

- ``alpaca``: the task sentence *before* the blocks (where Alpaca has its preamble); the
  question in ``### 指示：``, the choices in ``### 入力：``.
- ``medpalm``: the task sentence *inside* ``### 指示：``; the question and the choices
  together in ``### 入力：``.

For instruction data the task sentence is the Japanese Alpaca preamble; for a multiple-choice
question it is the harness's five-choice sentence, with the counts of choices and answers
filled in ("5つの選択肢のうちの1つ" for the usual question, as in the harness). Choices are
listed unlabelled and joined with ',' (no "a." labels, no spaces). An empty input leaves the
``### 入力：`` block out. The answer is what the model writes after ``### 応答：``: its first
non-empty line (:func:`read_answer`). n-shot prompts put each example's filled-in prompt and
gold answer before the question, separated by a blank line.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.data import InstructionExample, QAQuestion
from jradi_desktop.contract import PROMPT_FORMATS, PromptFormat

INSTRUCTION_MARK = "### 指示："
INPUT_MARK = "### 入力："
RESPONSE_MARK = "### 応答："

# The harness's Japanese Alpaca preamble (full-width commas as there), and its no-input form.
ALPACA_TASK = (
    "以下は，タスクを説明する指示と，文脈のある入力の組み合わせです。"
    "要求を適切に満たす応答を書きなさい。"
)
ALPACA_TASK_NO_INPUT = "以下は，タスクを説明する指示です。要求を適切に満たす応答を書きなさい。"
_CHOICE_TASK = (
    "以下は医学知識に関する多肢選択問題です。利用可能な情報を要約してから、段階的に解決して"
    "ください。最終的な答えとして{n}つの選択肢のうちの{k}つを出力してください。"
)
_NUMERIC_TASK = (
    "以下は医学知識に関する問題です。利用可能な情報を要約してから、段階的に解決してください。"
    "最終的な答えとして数値を出力してください。"
)
SHOT_SEPARATOR = "\n\n"


def check_format(prompt_format: str) -> PromptFormat:
    """``prompt_format`` if it is known; a ``ValueError`` listing the valid names if not."""
    if prompt_format not in PROMPT_FORMATS:
        raise ValueError(
            f"prompt format {prompt_format!r} is not known; choose one of {list(PROMPT_FORMATS)}"
        )
    return prompt_format  # type: ignore[return-value]


def render_prompt(task: str, instruction: str, input_text: str, prompt_format: str) -> str:
    """The prompt up to and including the ``### 応答：`` line (the model continues after it)."""
    input_block = f"{INPUT_MARK}\n{input_text}\n" if input_text else ""
    if check_format(prompt_format) == "alpaca":  # Alpaca: the task sentence before the blocks
        return f"{task}\n{INSTRUCTION_MARK}\n{instruction}\n{input_block}{RESPONSE_MARK}\n"
    body = f"{instruction}\n{input_text}" if input_text else instruction
    return f"{INSTRUCTION_MARK}\n{task}\n{INPUT_MARK}\n{body}\n{RESPONSE_MARK}\n"


def instruction_prompt(example: InstructionExample, prompt_format: str = "alpaca") -> str:
    """The training prompt of an instruction example (its ``output`` is the target)."""
    task = ALPACA_TASK if example.input else ALPACA_TASK_NO_INPUT
    return render_prompt(task, example.instruction, example.input, prompt_format)


def question_task(question: QAQuestion) -> str:
    """The task sentence for a question: choices and answers counted, or a numeric answer."""
    if not question.choices:
        return _NUMERIC_TASK
    return _CHOICE_TASK.format(n=len(question.choices), k=len(question.answer))


def question_prompt(
    question: QAQuestion, prompt_format: str = "alpaca", shots: Sequence[QAQuestion] = ()
) -> str:
    """The prompt for an exam question; ``shots`` are solved examples put before it."""
    parts = [
        render_prompt(question_task(s), s.problem_text, ",".join(s.choices), prompt_format)
        + s.answer_text
        + SHOT_SEPARATOR
        for s in shots
    ]
    task = question_task(question)
    parts.append(
        render_prompt(task, question.problem_text, ",".join(question.choices), prompt_format)
    )
    return "".join(parts)


def pick_shots(questions: Sequence[QAQuestion], index: int, n: int) -> tuple[QAQuestion, ...]:
    """The ``n`` examples for ``questions[index]``: the first ``n`` other questions, so every
    question gets the same examples except the examples themselves."""
    if n < 0:
        raise ValueError(f"shots must be 0 or more, got {n}")
    if n and len(questions) <= n:
        raise ValueError(
            f"{n}-shot prompts need more than {n} questions to draw the examples from; "
            f"the selection has {len(questions)}"
        )
    return tuple(q for i, q in enumerate(questions[: n + 1]) if i != index)[:n]


def read_answer(reply: str, prompt: str = "") -> str:
    """The answer in a reply: the text after ``### 応答：`` (a reply that repeats the prompt,
    or starts with the marker itself, is cut there), its first non-empty line, stripped."""
    text = reply or ""
    if prompt and text.startswith(prompt):
        text = text[len(prompt) :]
    text = text.lstrip()
    if text.startswith(RESPONSE_MARK):
        text = text[len(RESPONSE_MARK) :]
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""
