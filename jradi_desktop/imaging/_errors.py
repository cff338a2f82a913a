"""``ImageLoadError``: why a file could not become an :class:`XrayImage`, in both languages."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from jradi_desktop.errors import JRadiError


class LoadFailure(StrEnum):
    """Machine-readable reason carried by :class:`ImageLoadError` (for icons, tests, logs)."""

    MISSING = "missing"
    DIRECTORY = "directory"
    LINK_LOOP = "link_loop"
    NOT_REGULAR = "not_regular"
    UNREADABLE = "unreadable"
    EMPTY = "empty"
    NOT_IMAGE = "not_image"
    TRUNCATED = "truncated"
    NO_PIXELS = "no_pixels"
    UNSUPPORTED_SYNTAX = "unsupported_syntax"
    TOO_LARGE = "too_large"
    BAD_FRAME = "bad_frame"
    DECODE_FAILED = "decode_failed"


# reason -> (Japanese, English); {path} is always given, the rest by the raiser.
_MESSAGES: dict[LoadFailure, tuple[str, str]] = {
    LoadFailure.MISSING: (
        "ファイル「{path}」が見つかりません。{detail}",
        'File not found: "{path}". {detail}',
    ),
    LoadFailure.DIRECTORY: (
        "「{path}」はフォルダーです。画像ファイルを選んでください。",
        '"{path}" is a folder, not an image file; choose a file inside it.',
    ),
    LoadFailure.LINK_LOOP: (
        "「{path}」はシンボリックリンクの循環（たどると自分自身に戻るリンク）で、"
        "読み込めるファイルがありません。リンクを削除するか、実際のファイルを指すように"
        "作り直してください。",
        '"{path}" is a symbolic-link loop (following it leads back to itself), so there is '
        "no file to read; delete the link or make it point at the real file.",
    ),
    LoadFailure.NOT_REGULAR: (
        "「{path}」は通常のファイルではなく{detail}のため、開きませんでした。"
        "画像ファイルそのものを選んでください。",
        '"{path}" is {detail}, not a regular file, so it was not opened; '
        "choose the image file itself.",
    ),
    LoadFailure.UNREADABLE: (
        "ファイル「{path}」を読み込めません（{detail}）。アクセス権を確認してください。",
        'Cannot read "{path}" ({detail}); check that you have permission to read it.',
    ),
    LoadFailure.EMPTY: (
        "ファイル「{path}」は空です（0 バイト）。",
        '"{path}" is empty (0 bytes).',
    ),
    LoadFailure.NOT_IMAGE: (
        "ファイル「{path}」は対応している画像形式（DICOM・PNG・JPEG）ではありません。{detail}",
        '"{path}" is not a supported image (DICOM, PNG or JPEG). {detail}',
    ),
    LoadFailure.TRUNCATED: (
        "ファイル「{path}」は途中で切れているか壊れています：{detail}。"
        "元のファイルをコピーし直すか、もう一度書き出してください。",
        '"{path}" is truncated or corrupt: {detail}. Copy or export the file again.',
    ),
    LoadFailure.NO_PIXELS: (
        "ファイル「{path}」は DICOM ですが画像データ（Pixel Data）を含みません（{detail}）。"
        "画像（DX・CR など）のファイルを開いてください。",
        '"{path}" is a DICOM file without pixel data ({detail}); open the image file itself '
        "(DX, CR, ...).",
    ),
    LoadFailure.UNSUPPORTED_SYNTAX: (
        "ファイル「{path}」の圧縮形式 {detail} を展開できるプラグインがインストールされて"
        "いません。{hint_ja}",
        'No installed plugin decodes the transfer syntax {detail} of "{path}". {hint_en}',
    ),
    LoadFailure.TOO_LARGE: (
        "ファイル「{path}」の画像は {detail} で、上限 {limit:,} 画素を超えるため読み込みません"
        "（解凍爆弾の可能性があります）。",
        '"{path}" holds {detail}, over the limit of {limit:,} pixels; not decoding it '
        "(possible decompression bomb).",
    ),
    LoadFailure.BAD_FRAME: (
        "ファイル「{path}」にフレーム {frame} はありません。フレームは 0 から数えるので、"
        "{choice_ja} を指定してください（全 {frames} フレーム）。",
        'Frame {frame} does not exist in "{path}": frames are counted from 0, so choose '
        "{choice} ({frames} frame(s)).",
    ),
    LoadFailure.DECODE_FAILED: (
        "ファイル「{path}」の画像データを展開できません：{detail}。"
        "元の装置や PACS から書き出し直してください。",
        'Cannot decode the pixel data of "{path}": {detail}. Export the image again from the '
        "modality or PACS.",
    ),
}


class ImageLoadError(JRadiError):
    """A file could not be opened as an image; the messages name the file and the reason."""

    def __init__(
        self,
        message_ja: str,
        message_en: str,
        *,
        path: Path | None = None,
        reason: LoadFailure = LoadFailure.DECODE_FAILED,
    ) -> None:
        super().__init__(message_ja, message_en)
        self.path = path
        self.reason = reason


def load_error(
    path: Path, reason: LoadFailure, *, detail_ja: str | None = None, **fields: object
) -> ImageLoadError:
    """Build the :class:`ImageLoadError` for ``reason`` with its message templates filled.

    ``detail`` goes into both messages unless ``detail_ja`` gives the Japanese one.
    """
    values: dict[str, object] = {"detail": "", "hint_ja": "", "hint_en": "", **fields}
    values["path"] = str(path)
    values_ja = values if detail_ja is None else {**values, "detail": detail_ja}
    ja, en = _MESSAGES[reason]
    return ImageLoadError(
        ja.format(**values_ja).strip(), en.format(**values).strip(), path=path, reason=reason
    )


def bad_frame(path: Path, frame: int, frames: int) -> ImageLoadError:
    """The :class:`ImageLoadError` for a frame index outside ``0 .. frames - 1``."""
    choice, choice_ja = ("0", "0") if frames == 1 else (f"0 to {frames - 1}", f"0〜{frames - 1}")
    return load_error(
        path, LoadFailure.BAD_FRAME, frame=frame, frames=frames, choice=choice, choice_ja=choice_ja
    )


def check_pixel_limit(
    path: Path, rows: int, columns: int, max_pixels: int, frames: int | None = None
) -> None:
    """Raise TOO_LARGE when rows x columns (x frames) exceeds ``max_pixels``."""
    total = rows * columns * (frames or 1)
    if total <= max_pixels:
        return
    what_en = f"{rows} x {columns}" + (f" x {frames} frame(s)" if frames is not None else "")
    what_ja = f"{rows}×{columns}" + (f"×{frames} フレーム" if frames is not None else "")
    raise load_error(
        path,
        LoadFailure.TOO_LARGE,
        detail=f"{what_en} = {total:,} pixels",
        detail_ja=f"{what_ja}＝{total:,} 画素",
        limit=max_pixels,
    )
