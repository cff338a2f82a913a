"""PDF export of a :class:`~jradi_desktop.reports.ReportDocument` with Qt's PDF writer.

QtGui only (``QPdfWriter`` + ``QTextDocument``), so it needs a ``QGuiApplication`` but no
widgets. Qt embeds (subsets of) the fonts it draws with, so the PDF shows the Japanese text
on machines without a Japanese font. The font is, in order: one bundled with the app under
``resources/fonts/`` (IPAex Gothic is shipped there: ``fonts``), else a known Japanese
system font, else any font Qt reports as covering Japanese.

``python -m jradi_desktop.ui.pdf_export OUT.pdf`` draws a report's PDF in a process of its
own, for ``jradi report --send-pdf``: the CLI may not import Qt (only ``jradi_desktop.ui``
does), so it hands the document over on stdin as :meth:`ReportDocument.to_json`.
"""

from __future__ import annotations

import errno
import html
import json
import os
import re
import sys
from pathlib import Path

from PySide6.QtCore import QMarginsF, QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QFont,
    QFontDatabase,
    QGuiApplication,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QRawFont,
    QTextDocument,
)

from jradi_desktop import reports  # the wording every export shares
from jradi_desktop.errors import JRadiError
from jradi_desktop.reports import (
    ReportDocument,
    ReportExportError,
    atomic_write,
    incomplete_file,
)
from jradi_desktop.ui.fonts import FONT_DIRS, bundled_font_families

# Japanese system fonts, best first (Linux, Windows, macOS; English and Japanese names).
SYSTEM_FAMILIES = (
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "Source Han Sans JP",
    "Yu Gothic",
    "游ゴシック",
    "Meiryo",
    "メイリオ",
    "Hiragino Sans",
    "ヒラギノ角ゴシック",
    "Hiragino Kaku Gothic ProN",
    "IPAexGothic",
    "IPAGothic",
    "TakaoGothic",
    "VL Gothic",
    "MS Gothic",
    "ＭＳ ゴシック",
)
MARGIN_MM = 18.0
BODY_PT = 10.5


def _require_app() -> None:
    if QGuiApplication.instance() is None:
        raise RuntimeError("PDF export needs a QGuiApplication (fonts come from Qt)")


def _japanese_first(family: str) -> tuple[bool, bool, str]:
    """Sort key: Japanese-named fonts before CJK fonts made for Chinese, proportional first."""
    return ("Mono" in family, not re.search("JP|Japan|ゴシック|明朝", family), family)


def japanese_font_family() -> str:
    """The font family for PDF export; :class:`ReportExportError` when none covers Japanese."""
    _require_app()
    bundled = sorted(bundled_font_families(FONT_DIRS), key=_japanese_first)  # register first
    japanese = QFontDatabase.families(QFontDatabase.WritingSystem.Japanese)
    for family in (*bundled, *SYSTEM_FAMILIES):
        if family in japanese:
            return family
    if japanese:  # any other Japanese-capable font
        return min(japanese, key=_japanese_first)
    raise ReportExportError(
        "PDF に使える日本語フォントが見つかりません。日本語フォント（例: Noto Sans CJK JP、"
        f"IPAexGothic）をインストールするか、{FONT_DIRS[-1]} に置いてください。",
        "No Japanese font was found for the PDF. Install one (e.g. Noto Sans CJK JP or "
        f"IPAexGothic) or put a .ttf/.otf file in {FONT_DIRS[-1]}.",
    )


def _paragraphs(text: str) -> str:
    return html.escape(text).replace("\n", "<br/>")


def report_html(doc: ReportDocument) -> str:
    """The Qt rich-text HTML of the report body (title, notice, warnings, info table,
    sections)."""
    rows = "".join(
        f'<tr><td width="22%" bgcolor="#f0f0f0"><b>{html.escape(label)}</b></td>'
        f"<td>{html.escape(value)}</td></tr>"
        for label, value in doc.info_rows()
    )
    parts = [
        f'<h1 style="font-size:17pt; margin-bottom:2pt">{html.escape(reports.TITLE_JA)}</h1>',
        '<p style="font-size:8pt; color:#555555; margin-top:0">'
        f"{html.escape(reports.TITLE_EN)}</p>",
        '<table width="100%" cellpadding="6" cellspacing="0" border="1"'
        ' style="border-color:#d4a72c; border-style:solid; margin-bottom:8pt">'
        f'<tr><td bgcolor="#fff3cd"><b>{html.escape(reports.AI_NOTICE_JA)}</b><br/>'
        f'<span style="font-size:8.5pt">{html.escape(reports.AI_NOTICE_EN)}</span>'
        "</td></tr></table>",
    ]
    if doc.warnings:
        notes = "".join(
            f'<tr><td bgcolor="#f8d7da"><b>{html.escape(reports.WARNING_JA + note.ja)}</b><br/>'
            f'<span style="font-size:8.5pt">{html.escape(reports.WARNING_EN + note.en)}</span>'
            "</td></tr>"
            for note in doc.warnings
        )
        parts.append(
            '<table width="100%" cellpadding="6" cellspacing="0" border="1"'
            f' style="border-color:#b02a37; border-style:solid; margin-bottom:8pt">{notes}</table>'
        )
    if rows:
        parts.append(
            '<table width="100%" cellpadding="4" cellspacing="0" border="1"'
            f' style="border-color:#bbbbbb; border-style:solid">{rows}</table>'
        )
    for key, heading, heading_en in reports.SECTIONS:
        text = doc.section_text(key)
        if key == "indication" and not text:
            continue
        parts.append(
            '<h2 style="font-size:13pt; margin-top:14pt; margin-bottom:4pt">'
            f"{html.escape(heading)}"
            f' <span style="font-size:8pt; color:#777777">{html.escape(heading_en)}</span></h2>'
            f'<p style="line-height:150%">{_paragraphs(text or reports.EMPTY_SECTION)}</p>'
        )
    return f"<html><body>{''.join(parts)}</body></html>"


def _glyph_lookup(family: str) -> list[QRawFont]:
    faces = []
    for bold in (False, True):
        font = QFont(family)
        font.setBold(bold)
        raw = QRawFont.fromFont(font)
        if raw.isValid():
            faces.append(raw)
    return faces


def _fix_to_unicode(pdf: Path, family: str, drawn: str) -> None:
    """Make the PDF's ToUnicode CMaps name the characters that were drawn.

    Fonts draw several code points with one glyph (見 U+898B and the radical ⾒ U+2F92,
    ・ U+30FB and ‧ U+2027, space and tab) and Qt's font subsetter records the lowest code
    point for a glyph, so copied or searched text would read ⾒. Each CMap target that was
    not drawn is replaced by the drawn character with the same glyph. Qt writes the CMaps
    uncompressed with 4-digit codes, so the same-length substitution keeps every offset in
    the file valid; anything unexpected leaves the file as it is.
    """
    chars = {ch for ch in drawn if ord(ch) <= 0xFFFF}
    faces = _glyph_lookup(family)
    drawn_by_glyph = [
        {raw.glyphIndexesForString(ch)[0]: ch for ch in sorted(chars)} for raw in faces
    ]
    cache: dict[bytes, bytes] = {}

    def target(match: re.Match[bytes]) -> bytes:
        hex_code = match.group(1)
        if hex_code not in cache:
            cache[hex_code] = match.group(0)
            char = chr(int(hex_code, 16))
            for raw, by_glyph in zip(faces, drawn_by_glyph, strict=True):
                glyph = raw.glyphIndexesForString(char)[0] if char not in chars else 0
                if glyph and glyph in by_glyph:
                    cache[hex_code] = b"<%04X>" % ord(by_glyph[glyph])
                    break
        return cache[hex_code]

    def bfrange(match: re.Match[bytes]) -> bytes:
        low, high, targets = match.groups()
        if not targets.startswith(b"[") and low != high:
            return match.group(0)  # a run of consecutive targets: leave it
        return low + b" " + high + b" " + re.sub(rb"<([0-9A-F]{4})>", target, targets)

    def cmap(match: re.Match[bytes]) -> bytes:
        pattern = rb"^(<[0-9A-F]{4}>) (<[0-9A-F]{4}>) (\[.*?\]|<[0-9A-F]{4}>)$"
        return re.sub(pattern, bfrange, match.group(0), flags=re.MULTILINE)

    data = pdf.read_bytes()
    fixed = re.sub(rb"beginbfrange.*?endbfrange", cmap, data, flags=re.DOTALL)
    if fixed != data and len(fixed) == len(data):
        pdf.write_bytes(fixed)


def _font(family: str, points: float) -> QFont:
    font = QFont(family)
    font.setPointSizeF(points)
    # No OpenType shaping: CJK fonts swap in context glyphs for digits after Latin letters
    # ("ID-0001") that have no code point, and Qt then leaves them out of the PDF's text.
    font.setStyleStrategy(QFont.StyleStrategy.PreferNoShaping)
    return font


def _render(doc: ReportDocument, target: Path, family: str) -> None:
    writer = QPdfWriter(str(target))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    margins = QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM)
    writer.setPageMargins(margins, QPageLayout.Unit.Millimeter)
    writer.setTitle(reports.TITLE_JA)
    writer.setCreator("JRadi Desktop")
    font = _font(family, BODY_PT)
    footer_font = _font(family, 7.5)

    document = QTextDocument()
    document.documentLayout().setPaintDevice(writer)  # lay out at the PDF's resolution
    document.setDefaultFont(font)
    document.setDocumentMargin(0)
    document.setHtml(report_html(doc))
    area = writer.pageLayout().paintRectPixels(writer.resolution())
    footer_height = writer.resolution() * 0.3  # 0.3 inch for the footer line
    page = QSizeF(area.width(), area.height() - footer_height)
    document.setPageSize(page)
    pages = document.pageCount()
    footer_text = f"{reports.TITLE_JA}　{reports.AI_NOTICE_JA}"

    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(errno.EIO, "Qt が PDF を開始できません / Qt could not start the PDF")
    try:
        for index in range(pages):
            if index:
                writer.newPage()
            painter.save()
            painter.translate(QPointF(0, -index * page.height()))
            clip = QRectF(QPointF(0, index * page.height()), page)
            document.drawContents(painter, clip)
            painter.restore()
            painter.setFont(footer_font)
            painter.setPen(Qt.GlobalColor.darkGray)
            footer = QRectF(0, page.height(), page.width(), footer_height)
            flags = Qt.AlignmentFlag.AlignBottom
            painter.drawText(footer, flags | Qt.AlignmentFlag.AlignLeft, footer_text)
            painter.drawText(footer, flags | Qt.AlignmentFlag.AlignRight, f"{index + 1} / {pages}")
    finally:
        painter.end()
    del painter, writer  # the PDF is complete once the writer is gone
    _fix_to_unicode(target, family, f"{document.toPlainText()}{footer_text}0123456789 /")


_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*\Z")
_XREF = re.compile(rb"xref\s+(\d+)\s+(\d+)\s+")
_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])[ \r\n]{2}")
_TRAILER = re.compile(rb"\s*trailer\s*<<(.*?)>>\s*startxref", re.DOTALL)


def verify_pdf(path: Path) -> None:
    """Read a PDF back and check its structure, as a reader would find it.

    Qt's PDF writer does not report failed writes, so a full disk leaves a file that is cut
    short (or has holes) without an error. Checked: the ``%PDF-`` header; ``startxref`` and
    ``%%EOF`` at the end (trailing whitespace allowed); the cross-reference table at the
    offset ``startxref`` gives, inside the file; every object it lists starts at its offset
    (``n 0 obj``), so the byte count and every offset agree with what was written; the
    trailer names a ``/Root``. Raises :class:`~jradi_desktop.reports.IncompleteFileError`.
    """
    data = path.read_bytes()
    if not data.startswith(b"%PDF-"):
        raise incomplete_file("PDF の先頭（%PDF-）がありません", "it does not start with %PDF-")
    end = _STARTXREF.search(data, max(0, len(data) - 1024))
    if end is None:
        raise incomplete_file(
            f"PDF の終わり（%%EOF）がありません（{len(data)} バイト）",
            f"it does not end with %%EOF ({len(data)} bytes)",
        )
    start = int(end.group(1))
    table = _XREF.match(data, start) if start < len(data) else None
    if table is None:
        raise incomplete_file(
            f"相互参照表が startxref の位置 {start} にありません",
            f"no cross-reference table at the startxref offset {start}",
        )
    first, count = int(table.group(1)), int(table.group(2))
    position = table.end()
    for number in range(first, first + count):
        entry = _ENTRY.match(data, position)
        if entry is None:
            raise incomplete_file("相互参照表が壊れています", "the cross-reference table is broken")
        position = entry.end()
        offset, generation, kind = int(entry.group(1)), int(entry.group(2)), entry.group(3)
        if kind == b"n" and not re.compile(rb"%d\s+%d\s+obj\b" % (number, generation)).match(
            data, offset
        ):
            raise incomplete_file(
                f"オブジェクト {number} が記録された位置 {offset} にありません",
                f"object {number} is not at its recorded offset {offset}",
            )
    trailer = _TRAILER.match(data, position)
    if trailer is None or b"/Root" not in trailer.group(1):
        raise incomplete_file("トレーラーに /Root がありません", "the trailer has no /Root")


def write_pdf(
    doc: ReportDocument, path: str | os.PathLike[str], *, font_family: str | None = None
) -> Path:
    """Write ``doc`` as an A4 PDF at ``path`` (atomically), the Japanese font embedded.

    ``font_family`` overrides :func:`japanese_font_family`. Needs a ``QGuiApplication``.
    The PDF is read back (:func:`verify_pdf`) before it replaces ``path``. Raises
    :class:`ReportExportError` naming ``path`` (or saying no Japanese font exists).
    """
    _require_app()
    family = font_family or japanese_font_family()
    return atomic_write(path, lambda temp: _render(doc, temp, family), verify=verify_pdf)


def main(argv: list[str] | None = None) -> int:
    """Draw the document on stdin (:meth:`ReportDocument.to_json`) as the PDF ``OUT.pdf``.

    Exit status 0 when it is written; otherwise 1, and the reason as one JSON line on stderr
    (``{"ja": ..., "en": ...}``) for the CLI to show.
    """
    [out] = sys.argv[1:] if argv is None else argv
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # it shows nothing: no screen needed
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # Qt's fonts
    try:
        document = ReportDocument.from_json(json.loads(sys.stdin.buffer.read().decode("utf-8")))
        write_pdf(document, out)
    except JRadiError as exc:
        reason = {"ja": exc.message_ja, "en": exc.message_en}
        print(json.dumps(reason, ensure_ascii=False), file=sys.stderr, flush=True)
        return 1
    return 0


__all__ = [
    "SYSTEM_FAMILIES",
    "japanese_font_family",
    "report_html",
    "verify_pdf",
    "write_pdf",
]

if __name__ == "__main__":
    sys.exit(main())
