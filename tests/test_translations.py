"""The English translation is complete and its compiled form is current."""

import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import translations  # noqa: E402


def _sources(ts: Path) -> set[str]:
    return set(re.findall(r"<source>([^<]*)</source>", ts.read_text(encoding="utf-8")))


def test_every_string_in_the_code_is_in_the_ts_file(tmp_path):
    fresh = tmp_path / "fresh.ts"
    shutil.copy(translations.TS, fresh)
    translations.lupdate(fresh)
    assert _sources(fresh) == _sources(translations.TS), "run: python tools/translations.py"


def test_every_string_is_translated():
    text = translations.TS.read_text(encoding="utf-8")
    assert 'type="unfinished"' not in text
    assert "<translation></translation>" not in text


def test_compiled_qm_matches_the_ts(tmp_path):
    qm = tmp_path / "jradi_en.qm"
    translations.lrelease(translations.TS, qm)
    assert qm.read_bytes() == translations.TS.with_suffix(".qm").read_bytes()
