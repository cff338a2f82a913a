"""A small built-in Japanese/English radiology text that the demo tokenizer is trained on.

Written for this project (no external data): typical chest X-ray findings and impressions,
medical QA phrasing, and the prompts the app sends, so that the demo tokenizer splits the
texts the tests and demos use into realistic pieces. The prompts are the runtime's own, each
broken into two lines (the tokenizer trains on lines; the shipped demo model was made so).

Llama-3's vocabulary has 231 tokens longer than 32 bytes (runs of U+3000, "—", "=", spaces),
which llama-cpp-python's own detokenizer drops. So that the demo exercises them, its findings
are indented with a run of 16 ideographic spaces (one 48-byte token) and the QA text has
separator lines of 16 "—" and of 34 "=" (two more): the trained demo writes the first in
every report.
"""

from jradi_desktop.architectures.bunny_s2 import BUNNY_SYSTEM
from jradi_desktop.inference import REPORT_PROMPT


def _two_lines(text: str, after: str) -> str:
    """``text`` with a line break after the first ``after`` (its trailing space dropped)."""
    head, sep, tail = text.partition(after)
    return head + sep.rstrip() + "\n" + tail


_CORPUS = """\
所見：両肺野に明らかな浸潤影や腫瘤影は認めません。心胸郭比は正常範囲内です。肋骨に骨折は認めません。
印象：明らかな異常所見なし。
所見：右下肺野に浸潤影を認め、肺炎を疑います。左肺野は清明です。心陰影の拡大は認めません。
印象：右下葉肺炎の疑い。
所見：心胸郭比は60%と拡大しています。両側肋骨横隔膜角は鈍化しており、少量の胸水を疑います。
印象：心拡大および両側胸水。うっ血性心不全の可能性があります。
所見：左上肺野に結節影を認めます。辺縁は不整で、精査が必要です。縦隔の偏位は認めません。
印象：左上肺野結節。CTでの精査を推奨します。
所見：右肺尖部に気胸を認めます。肺の虚脱は軽度です。縦隔の偏位はありません。
印象：右気胸。
所見：両肺野にびまん性のすりガラス影を認めます。心陰影は正常です。骨に異常は認めません。
印象：間質性肺炎の可能性。
所見：気管内チューブの先端は気管分岐部の上方約4cmにあります。中心静脈カテーテルの先端は上大静脈にあります。
印象：チューブとカテーテルの位置は適切です。
所見：大動脈弓の石灰化を認めます。胸椎に軽度の変形性変化を認めます。肺野に活動性病変は認めません。
印象：加齢性変化。急性の心肺異常なし。
所見：左肋骨に陳旧性骨折を認めます。肺野に異常影は認めません。
印象：陳旧性肋骨骨折。
所見：右中肺野に無気肺を示唆する線状影を認めます。横隔膜の挙上はありません。
印象：右中葉の板状無気肺。
{report_prompt}
臨床情報：発熱と咳嗽。臨床情報：胸痛。臨床情報：呼吸困難。臨床情報：術前検査。
### 指示：以下の医学に関する質問に答えてください。
### 応答：正解は a です。理由は次のとおりです。
問題：急性心筋梗塞の初期治療として最も適切なのはどれか。
選択肢：アスピリン内服, 抗菌薬投与, 利尿薬投与, 輸血, 経過観察
問題：肺炎の原因菌として最も頻度が高いのはどれか。
選択肢：肺炎球菌, 大腸菌, 緑膿菌, 結核菌, 黄色ブドウ球菌
答え：a, c
————————————————
患者は65歳男性。高血圧と糖尿病の既往があります。胸部単純X線写真で心拡大を認めた。
Findings: The lungs are clear. No focal consolidation, pleural effusion or pneumothorax.
The cardiomediastinal silhouette is within normal limits. No acute osseous abnormality.
Impression: No acute cardiopulmonary process.
————————————————
Findings: Right lower lobe opacity concerning for pneumonia. Small left pleural effusion.
Impression: Right lower lobe pneumonia. Cardiomegaly with mild pulmonary edema.
==================================
Impression: No change since the previous study.
==================================
{bunny_system}
USER: ASSISTANT: 1 2 3 4 5 6 7 8 9 10 100 2024年 12月 31日 cm mm %
"""

INDENT = "\u3000" * 16  # one token of 48 bytes in the demo vocabulary

DEMO_CORPUS = _CORPUS.format(
    report_prompt=_two_lines(REPORT_PROMPT, "所見文を書いてください。"),
    bunny_system=_two_lines(BUNNY_SYSTEM, "assistant. "),
).replace("所見：", "所見：" + INDENT)
