"""jradi_desktop.imaging over pydicom's bundled test files and files written here.

Nothing is downloaded: bundled files come through ``get_testdata_file(download=False)``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from image_files import bundled, expect_error, write_dicom, write_japanese_dicom
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut
from pydicom.sequence import Sequence

from jradi_desktop.imaging import (
    PRESET_NAMES,
    LoadFailure,
    Window,
    XrayImage,
    apply_window,
    image_info,
    open_image,
    preset_window,
    render,
    to_model_rgb,
    window_presets,
)

# --- DICOM decoding: every plugin path agrees with the uncompressed original -----------------

MR_VARIANTS = {
    "MR_small_RLE.dcm": "RLE Lossless",
    "MR_small_jpeg_ls_lossless.dcm": "JPEG-LS Lossless Image Compression",
    "MR_small_jp2klossless.dcm": "JPEG 2000 Image Compression (Lossless Only)",
    "MR_small_bigendian.dcm": "Explicit VR Big Endian",
    "MR_small_implicit.dcm": "Implicit VR Little Endian",
}


@pytest.fixture(scope="module")
def mr_small() -> XrayImage:
    return open_image(bundled("MR_small.dcm"))


@pytest.mark.parametrize("name", sorted(MR_VARIANTS))
def test_compressed_and_byte_order_variants_match_uncompressed(name: str, mr_small: XrayImage):
    image = open_image(bundled(name))
    assert image.transfer_syntax_name == MR_VARIANTS[name]
    np.testing.assert_array_equal(image.pixels, mr_small.pixels)
    np.testing.assert_array_equal(render(image), render(mr_small))


def test_uncompressed_matches_pydicom_reference(mr_small: XrayImage):
    ds = pydicom.dcmread(bundled("MR_small.dcm"))
    np.testing.assert_array_equal(mr_small.pixels, ds.pixel_array.astype(np.float32))
    assert mr_small.windows[0].center == float(ds.WindowCenter)
    assert mr_small.windows[0].width == float(ds.WindowWidth)
    assert (mr_small.rows, mr_small.columns, mr_small.frames) == (64, 64, 1)
    assert mr_small.sop_instance_uid == ds.SOPInstanceUID
    assert mr_small.study_instance_uid == ds.StudyInstanceUID
    assert mr_small.series_instance_uid == ds.SeriesInstanceUID
    assert mr_small.pixels.dtype == np.float32


def test_ct_rescale_and_hu_presets():
    path = bundled("CT_small.dcm")
    image = open_image(path)
    ds = pydicom.dcmread(path)
    np.testing.assert_allclose(image.pixels, apply_modality_lut(ds.pixel_array, ds))
    assert image.pixels.min() < 0  # intercept -1024 applied
    presets = window_presets(image)
    assert (presets["lung"].center, presets["lung"].width) == (-600.0, 1500.0)
    assert (presets["mediastinum"].center, presets["mediastinum"].width) == (40.0, 400.0)
    assert list(presets) == ["auto", "lung", "mediastinum", "bone"]  # no header window


RGB_VARIANTS = {  # name -> (mean, max) tolerated |difference| against RLE lossless
    "SC_rgb_jpeg_gdcm.dcm": (0.0, 0),  # JPEG lossless
    "SC_rgb_gdcm_KY.dcm": (0.0, 0),  # JPEG 2000
    "SC_rgb_rle_16bit.dcm": (0.0, 0),
    "SC_rgb_dcmtk_+eb+cr.dcm": (0.5, 2),  # JPEG baseline RGB
    "SC_rgb_jpeg_dcmtk.dcm": (1.0, 8),  # JPEG baseline YBR_FULL
    "SC_ybr_full_422_uncompressed.dcm": (1.0, 8),
    "SC_rgb_jls_lossy_line.dcm": (1.0, 3),  # JPEG-LS near lossless
}


@pytest.mark.parametrize("name", sorted(RGB_VARIANTS))
def test_colour_variants_agree(name: str):
    reference = open_image(bundled("SC_rgb_rle.dcm"))
    image = open_image(bundled(name))
    assert image.photometric == "RGB" and image.rgb is not None and image.rgb.dtype == np.uint8
    diff = np.abs(image.rgb.astype(int) - reference.rgb.astype(int))
    mean_tol, max_tol = RGB_VARIANTS[name]
    assert diff.mean() <= mean_tol and diff.max() <= max_tol
    shown = render(image)
    assert shown.shape == (100, 100, 3)
    np.testing.assert_array_equal(shown, image.rgb)  # identity by default
    np.testing.assert_array_equal(render(image, invert=True), 255 - image.rgb)


def test_jpeg_extended_12_bit_and_jpeg2000():
    extended = open_image(bundled("JPGExtended.dcm"))
    assert extended.bits_stored == 12 and extended.pixels.shape == (1024, 256)
    ds = pydicom.dcmread(bundled("JPGExtended.dcm"))
    np.testing.assert_array_equal(extended.pixels, ds.pixel_array)
    j2k = open_image(bundled("JPEG2000.dcm"))
    assert j2k.pixels.shape == (1024, 256)
    assert "JPEG 2000" in j2k.transfer_syntax_name
    # No header window: the automatic window spans the robust range.
    low, high = np.percentile(j2k.pixels, [0.5, 99.5])
    assert j2k.default_window == Window.from_range(low, high, "AUTO")


def test_palette_colour_dicom():
    path = bundled("examples_palette.dcm")
    image = open_image(path)
    ds = pydicom.dcmread(path)
    expected = (apply_color_lut(ds.pixel_array, ds) >> 8).astype(np.uint8)
    np.testing.assert_array_equal(image.rgb, expected)


def test_deflated_dicom():
    path = bundled("image_dfl.dcm")
    np.testing.assert_array_equal(open_image(path).pixels, pydicom.dcmread(path).pixel_array)


def test_multiframe_first_by_default_and_addressable():
    path = bundled("SC_rgb_rle_2frame.dcm")
    first, second = open_image(path), open_image(path, frame=1)
    assert (first.frames, first.frame, second.frame) == (2, 0, 1)
    frames = pydicom.dcmread(path).pixel_array
    np.testing.assert_array_equal(first.rgb, frames[0])
    np.testing.assert_array_equal(second.rgb, frames[1])

    dose = bundled("rtdose.dcm")
    last = open_image(dose, frame=14)
    assert last.frames == 15
    np.testing.assert_array_equal(last.pixels, pydicom.dcmread(dose).pixel_array[14])
    error = expect_error(dose, LoadFailure.BAD_FRAME, frame=15)
    assert "15" in error.message_en


def test_enhanced_multiframe_functional_groups(tmp_path: Path):
    stored = np.stack([np.full((4, 4), 10, np.uint16), np.full((4, 4), 20, np.uint16)])
    shared = Dataset()
    transform = Dataset()
    transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = 2, 5, "US"
    shared.PixelValueTransformationSequence = Sequence([transform])
    per_frame = []
    for i in range(2):
        item, voi = Dataset(), Dataset()
        voi.WindowCenter, voi.WindowWidth = 100 + i, 50
        item.FrameVOILUTSequence = Sequence([voi])
        per_frame.append(item)
    path = write_dicom(
        tmp_path / "enhanced.dcm",
        stored,
        SharedFunctionalGroupsSequence=Sequence([shared]),
        PerFrameFunctionalGroupsSequence=Sequence(per_frame),
    )
    image = open_image(path, frame=1)
    assert image.frames == 2
    np.testing.assert_array_equal(image.pixels, 2 * 20 + 5)
    assert image.windows == (Window(101, 50),)


# --- Files without preamble / File Meta ----------------------------------------------------


def test_dicom_without_preamble_or_meta_is_read_by_content(tmp_path: Path):
    arr = np.arange(64, dtype=np.uint16).reshape(8, 8)
    ds = pydicom.dcmread(write_dicom(tmp_path / "x.dcm", arr, PatientID="P1"))
    del ds.file_meta
    ds.preamble = None
    path = tmp_path / "IM0001"  # no extension
    ds.save_as(path, implicit_vr=True, little_endian=True)
    assert path.read_bytes()[:4] == b"\x08\x00\x16\x00"  # starts with (0008,0016)
    image = open_image(path)
    np.testing.assert_array_equal(image.pixels, arr)
    assert image.transfer_syntax_name == "Implicit VR Little Endian"
    assert image.patient_id == "P1"


def test_bundled_headerless_files():
    # Explicit VR, no File Meta, an RT plan: read as DICOM, refused for having no pixels.
    path = bundled("ExplVR_LitEndNoMeta.dcm")
    assert "RT Ion Plan" in expect_error(path, LoadFailure.NO_PIXELS).message_en
    # pydicom's no_meta.dcm starts with a stray byte (pydicom itself cannot read it).
    expect_error(bundled("no_meta.dcm"), LoadFailure.NOT_IMAGE)


# --- VOI: windows, VOI LUT, SIGMOID, MONOCHROME1 ------------------------------------------

# Stored s, RescaleSlope 2, RescaleIntercept -100 -> x = 2 s - 100.
STORED = np.array([[50, 249, 250, 275], [300, 349, 350, 550]], dtype=np.uint16)
X = STORED.astype(np.float64) * 2 - 100  # [0, 398, 400, 450], [500, 598, 600, 1000]


@pytest.fixture
def linear_dx(tmp_path: Path) -> XrayImage:
    path = write_dicom(
        tmp_path / "linear.dcm",
        STORED,
        bits_stored=12,
        RescaleSlope=2,
        RescaleIntercept=-100,
        WindowCenter=500,
        WindowWidth=201,
        WindowCenterWidthExplanation="TEST",
    )
    return open_image(path)


def test_linear_window_hand_computed(linear_dx: XrayImage):
    np.testing.assert_array_equal(linear_dx.pixels, X)
    assert linear_dx.windows == (Window(500, 201, "LINEAR", "TEST"),)
    # LINEAR (C.11.2.1.2.1): x <= 399.5 -> 0, x > 599.5 -> 255, else ((x-499.5)/200+0.5)*255
    # 400 -> 0.6375, 450 -> 64.3875, 500 -> 128.1375, 598 -> 253.0875; rounded half up.
    expected = np.array([[0, 0, 1, 64], [128, 253, 255, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(render(linear_dx), expected)
    np.testing.assert_array_equal(render(linear_dx, invert=True), 255 - expected)


def test_linear_exact_hand_computed(linear_dx: XrayImage):
    # LINEAR_EXACT: ((x - 500) / 200 + 0.5) * 255 -> 450: 63.75, 500: 127.5, 598: 252.45
    window = Window(500, 200, "linear_exact")
    expected = np.array([[0, 0, 0, 64], [128, 252, 255, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(render(linear_dx, window), expected)


def test_sigmoid_matches_formula(tmp_path: Path):
    stored = np.arange(0, 1024, 4, dtype=np.uint16).reshape(16, 16)
    path = write_dicom(
        tmp_path / "sigmoid.dcm",
        stored,
        bits_stored=10,
        WindowCenter=512,
        WindowWidth=300,
        VOILUTFunction="SIGMOID",
    )
    image = open_image(path)
    assert image.voi_lut_function == "SIGMOID"
    assert image.windows[0].function == "SIGMOID"
    x = stored.astype(np.float64)
    expected = np.floor(255.0 / (1.0 + np.exp(-4.0 * (x - 512) / 300)) + 0.5)
    shown = render(image).astype(int)
    assert np.abs(shown - expected).max() <= 1
    assert (shown == expected).mean() > 0.98
    assert shown[np.where(stored == 512)][0] == 128  # y = 127.5 at the center


def test_monochrome1_is_inverted_after_voi(tmp_path: Path):
    stored = np.arange(0, 4096, 16, dtype=np.uint16).reshape(16, 16)
    attrs = {"bits_stored": 12, "WindowCenter": 2048, "WindowWidth": 2000}
    mono2 = open_image(write_dicom(tmp_path / "m2.dcm", stored, **attrs))
    mono1 = open_image(write_dicom(tmp_path / "m1.dcm", stored, photometric="MONOCHROME1", **attrs))
    assert mono1.photometric == "MONOCHROME1"
    np.testing.assert_array_equal(render(mono1), 255 - render(mono2))
    np.testing.assert_array_equal(render(mono1, invert=True), render(mono2))
    assert render(mono1)[0, 0] == 255  # lowest value shown white


def test_voi_lut_sequence_preferred_unless_a_window_is_asked_for(tmp_path: Path):
    stored = np.arange(4096, dtype=np.uint16).reshape(64, 64)
    entries, first, bits = 3996, 100, 12
    lut = np.round(4095 * np.sqrt(np.arange(entries) / (entries - 1))).astype(np.uint16)
    item = Dataset()
    item.add_new(0x00283002, "US", [entries, first, bits])  # LUT Descriptor
    item.add_new(0x00283006, "US", lut.tolist())  # LUT Data
    item.LUTExplanation = "SQRT"
    path = write_dicom(
        tmp_path / "voilut.dcm",
        stored,
        bits_stored=12,
        VOILUTSequence=Sequence([item]),
        WindowCenter=2048,
        WindowWidth=4096,
    )
    image = open_image(path)
    assert image.voi_luts[0].explanation == "SQRT"
    index = np.clip(stored.astype(int) - first, 0, entries - 1)
    expected = np.floor(lut[index] * 255.0 / 4095 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(render(image), expected)
    window = image.windows[0]
    np.testing.assert_array_equal(render(image, window), apply_window(image.pixels, window))


def test_modality_lut_sequence(tmp_path: Path):
    stored = np.arange(16, dtype=np.uint16).reshape(4, 4)
    item = Dataset()
    item.add_new(0x00283002, "US", [16, 0, 16])
    item.add_new(0x00283006, "US", [3 * i + 7 for i in range(16)])
    item.ModalityLUTType = "US"
    path = write_dicom(tmp_path / "mlut.dcm", stored, ModalityLUTSequence=Sequence([item]))
    np.testing.assert_array_equal(open_image(path).pixels, 3 * stored + 7)


def test_auto_window_and_relative_presets(tmp_path: Path):
    rng = np.random.default_rng(0)
    stored = rng.integers(1000, 3000, size=(128, 128), dtype=np.uint16)
    stored[0, :8] = 4095  # outliers the robust range ignores
    mono2 = open_image(write_dicom(tmp_path / "cr.dcm", stored, bits_stored=12, Modality="CR"))
    low, high = np.percentile(stored, [0.5, 99.5])
    assert mono2.default_window == Window.from_range(low, high, "AUTO")
    shown = render(mono2)
    assert shown.min() == 0 and shown.max() == 255
    presets = window_presets(mono2)
    assert list(presets) == list(PRESET_NAMES[1:])
    span = high - low
    assert presets["lung"].low == pytest.approx(low)
    assert presets["lung"].high == pytest.approx(low + 0.7 * span)
    mono1 = open_image(
        write_dicom(tmp_path / "cr1.dcm", stored, photometric="MONOCHROME1", bits_stored=12)
    )
    lung1 = preset_window(mono1, "Lung")
    assert lung1.low == pytest.approx(low + 0.3 * span) and lung1.high == pytest.approx(high)
    with pytest.raises(ValueError, match="valid presets: auto, lung, mediastinum, bone"):
        preset_window(mono2, "brain")


def test_window_validation():
    with pytest.raises(ValueError, match="width > 0"):
        Window(0, 0)
    with pytest.raises(ValueError, match="LINEAR, LINEAR_EXACT, SIGMOID"):
        Window(0, 10, "GAMMA")
    assert Window(0, 10, " sigmoid ").function == "SIGMOID"
    step = apply_window(np.array([9.0, 10.0, 10.6]), Window(10.5, 1))  # LINEAR width 1
    np.testing.assert_array_equal(step, [0, 0, 255])


# --- Metadata ------------------------------------------------------------------------------


def test_japanese_patient_name_iso_2022_ir_87(tmp_path: Path):
    name = "Yamada^Tarou=山田^太郎=やまだ^たろう"
    path = write_japanese_dicom(
        tmp_path / "日本語の画像.dcm",
        np.zeros((4, 4), np.uint16),
        PatientName=name,
        PatientID="ID-0001",
        StudyDate="20240401",
        ViewPosition="PA",
        BodyPartExamined="CHEST",
        ImagerPixelSpacing=[0.15, 0.15],
    )
    image = open_image(path)
    assert image.patient_name == name
    assert image.patient_name_ideographic == "山田^太郎"
    assert image.specific_character_set == "ISO 2022 IR 6\\ISO 2022 IR 87"
    info = image_info(image)
    assert json.loads(json.dumps(info)) == info
    assert info["patient_name"] == name
    assert info["patient_id"] == "ID-0001"
    assert info["study_date"] == "20240401"
    assert info["view_position"] == "PA"
    assert info["pixel_spacing"] == [0.15, 0.15]
    assert info["modality"] == "DX"
    assert info["transfer_syntax"] == "Explicit VR Little Endian"
    for key in ("photometric", "rows", "columns", "window_center", "window_width", "frames"):
        assert key in info


# --- Model input ---------------------------------------------------------------------------


def test_to_model_rgb(mr_small: XrayImage):
    model_input = to_model_rgb(mr_small)
    assert model_input.mode == "RGB" and model_input.size == (512, 512)
    arr = np.asarray(model_input)
    assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all()
    native = to_model_rgb(mr_small, size=None)
    np.testing.assert_array_equal(np.asarray(native)[..., 0], render(mr_small))
