"""read_image: DICOM display pipeline, other formats, real files, and bad input."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_windowing
from pydicom.uid import (
    ComputedRadiographyImageStorage,
    ExplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

from ramultimodal.image import letterbox
from ramultimodal.io import ImageMeta, ImageReadError, read_image
from ramultimodal.io._image_meta import MAX_IMAGE_PIXELS

RNG = np.random.default_rng(0)
STORED = RNG.integers(0, 4096, size=(40, 30), dtype=np.uint16)  # 12-bit CR values


def write_dicom(
    path: Path,
    stored: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int = 12,
    compress: str | None = None,
    **attributes,
) -> Path:
    """A minimal CR file holding `stored`, with extra DICOM attributes by keyword."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ComputedRadiographyImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ComputedRadiographyImageStorage
    ds.Modality = "CR"
    ds.set_pixel_data(stored, photometric, bits_stored)
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    if compress is not None:
        ds.compress(compress)
    ds.save_as(path, enforce_file_format=True)
    return path


# --------------------------------------------------------------------------- DICOM pipeline


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_window_equals_pydicom_windowing_scaled_to_unit(tmp_path, function):
    path = write_dicom(
        tmp_path / "w.dcm", STORED, WindowCenter=1800, WindowWidth=900, VOILUTFunction=function
    )
    pixels, meta = read_image(path)
    expected = apply_windowing(STORED.astype(float), pydicom.dcmread(path)) / 4095
    np.testing.assert_allclose(pixels, expected, atol=1e-5)
    assert meta.intensity == "window"
    assert pixels.dtype == np.float32 and pixels.shape == STORED.shape


def test_rescale_is_applied_before_the_window(tmp_path):
    plain = write_dicom(
        tmp_path / "a.dcm",
        STORED,
        WindowCenter=2000,
        WindowWidth=1000,
        VOILUTFunction="LINEAR_EXACT",
    )
    # Same image stored as (value + 1000) / 2 with slope 2, intercept -1000: identical display.
    rescaled = write_dicom(
        tmp_path / "b.dcm",
        ((STORED.astype(int) + 1000) // 2).astype(np.uint16),
        RescaleSlope=2,
        RescaleIntercept=-1000,
        WindowCenter=2000,
        WindowWidth=1000,
        VOILUTFunction="LINEAR_EXACT",
    )
    expected, _ = read_image(plain)
    got, _ = read_image(rescaled)
    # Integer halving loses the odd bit: at most 1 unit of the 1000-wide window.
    np.testing.assert_allclose(got, expected, atol=1.01 / 1000)


@pytest.mark.parametrize("window", [{}, {"WindowCenter": 1500, "WindowWidth": 2000}])
def test_monochrome1_comes_out_bone_bright(tmp_path, window):
    mono2, _ = read_image(write_dicom(tmp_path / "m2.dcm", STORED, **window))
    mono1, meta = read_image(
        write_dicom(tmp_path / "m1.dcm", STORED, photometric="MONOCHROME1", **window)
    )
    # In MONOCHROME1 the same stored value is displayed inverted: bone (high attenuation,
    # low stored value) must come out bright, i.e. exactly the inverse of the MONOCHROME2 read.
    np.testing.assert_allclose(mono1, 1.0 - mono2, atol=1e-6)
    assert meta.photometric_interpretation == "MONOCHROME1"


def test_percentile_window_ignores_a_burnt_in_label(tmp_path):
    stored = RNG.integers(1000, 2001, size=(100, 100)).astype(np.uint16)
    stored[:3, :3] = 4095  # a burnt-in marker, 0.09% of the pixels
    pixels, meta = read_image(write_dicom(tmp_path / "p.dcm", stored))
    assert meta.intensity == "percentile"
    # Mid-grey stays mid-grey; a min-max scaling would have put it at 0.16.
    assert abs(float(np.median(pixels)) - 0.5) < 0.02
    assert pixels.min() == 0.0 and pixels.max() == 1.0
    assert 0.004 < np.mean(pixels == 1.0) < 0.007


def test_voi_lut_sequence_is_applied(tmp_path):
    lut = Dataset()
    lut.add_new("LUTDescriptor", "US", [4096, 0, 16])
    lut.add_new("LUTData", "US", [4095 - value for value in range(4096)])  # inverting
    path = write_dicom(tmp_path / "lut.dcm", STORED)
    ds = pydicom.dcmread(path)
    ds.VOILUTSequence = [lut]
    ds.save_as(path)
    pixels, meta = read_image(path)
    assert meta.intensity == "voi_lut"
    np.testing.assert_allclose(pixels, (4095 - STORED) / 65535, atol=1e-6)


def test_rle_decodes_to_the_same_pixels_as_uncompressed(tmp_path):
    plain, _ = read_image(write_dicom(tmp_path / "raw.dcm", STORED))
    rle, meta = read_image(write_dicom(tmp_path / "rle.dcm", STORED, compress=RLELossless))
    np.testing.assert_array_equal(rle, plain)
    assert meta.transfer_syntax == "RLE Lossless"


def test_multiframe_returns_the_asked_frame(tmp_path):
    frames = np.stack([STORED, 4095 - STORED, STORED // 2]).astype(np.uint16)
    window = {"WindowCenter": 2048, "WindowWidth": 4096}
    path = write_dicom(tmp_path / "mf.dcm", frames, **window)
    for index in range(3):
        pixels, meta = read_image(path, frame=index)
        single, _ = read_image(write_dicom(tmp_path / f"f{index}.dcm", frames[index], **window))
        np.testing.assert_array_equal(pixels, single)
        assert (meta.n_frames, meta.frame) == (3, index)
    first, _ = read_image(path)
    np.testing.assert_array_equal(first, read_image(path, frame=0)[0])
    with pytest.raises(ImageReadError, match="frame 3"):
        read_image(path, frame=3)


def test_rgb_dicom_becomes_luma_grey(tmp_path):
    rgb = RNG.integers(0, 256, size=(20, 10, 3), dtype=np.uint8)
    pixels, meta = read_image(
        write_dicom(tmp_path / "rgb.dcm", rgb, photometric="RGB", bits_stored=8)
    )
    expected = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]) / 255
    np.testing.assert_allclose(pixels, expected, atol=1e-5)
    assert pixels.shape == (20, 10) and meta.photometric_interpretation == "RGB"


def test_dicom_metadata(tmp_path):
    path = write_dicom(
        tmp_path / "meta.dcm",
        STORED,
        BodyPartExamined="HAND",
        ImageLaterality="L",
        ViewPosition="PA",
        ImagerPixelSpacing=[0.1, 0.12],
    )
    _, meta = read_image(path)
    assert isinstance(meta, ImageMeta)
    assert (meta.modality, meta.body_part, meta.laterality, meta.view_position) == (
        "CR",
        "HAND",
        "L",
        "PA",
    )
    assert meta.pixel_spacing == (0.1, 0.12)
    assert (meta.bits_stored, meta.original_shape, meta.format) == (12, (40, 30), "DICOM")
    assert meta.transfer_syntax == "Explicit VR Little Endian" and meta.reduction == 1
    with pytest.raises(AttributeError):
        meta.laterality = "R"  # frozen


# --------------------------------------------------------------------------- PNG, JPEG, TIFF


def test_png_8_bit_is_divided_by_255(tmp_path):
    grey = RNG.integers(0, 256, size=(16, 12), dtype=np.uint8)
    Image.fromarray(grey).save(tmp_path / "g.png")
    pixels, meta = read_image(tmp_path / "g.png")
    np.testing.assert_allclose(pixels, grey / 255, atol=1e-7)
    assert (meta.format, meta.bits_stored, meta.photometric_interpretation) == ("PNG", 8, "L")


@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_16_bit_keeps_precision_and_uses_the_depth_in_use(tmp_path, suffix):
    stored = STORED.copy()
    stored[0, 0], stored[0, 1] = 4095, 1001  # 12 bits of data in a 16-bit container
    stored[0, 2] = 1000
    Image.fromarray(stored).save(tmp_path / f"s.{suffix}")
    pixels, meta = read_image(tmp_path / f"s.{suffix}")
    np.testing.assert_allclose(pixels, stored / 4095, atol=1e-6)
    assert pixels[0, 1] > pixels[0, 2]  # neighbouring 12-bit levels stay distinct
    assert meta.bits_stored == 12
    full = stored.astype(np.uint16) * 16  # full 16-bit range
    Image.fromarray(full).save(tmp_path / f"full.{suffix}")
    np.testing.assert_allclose(read_image(tmp_path / f"full.{suffix}")[0], full / 65535, atol=1e-6)


def test_rgb_palette_and_alpha_pngs_become_grey(tmp_path):
    rgb = RNG.integers(0, 256, size=(16, 12, 3), dtype=np.uint8)
    luma = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]) / 255
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    np.testing.assert_allclose(read_image(tmp_path / "rgb.png")[0], luma, atol=1e-5)

    palette = Image.fromarray(rgb).quantize(colors=16)
    palette.save(tmp_path / "p.png")
    as_rgb = np.asarray(palette.convert("RGB"), dtype=np.float64)
    expected = (as_rgb @ [0.299, 0.587, 0.114]) / 255
    np.testing.assert_allclose(read_image(tmp_path / "p.png")[0], expected, atol=1e-5)

    alpha = np.full((16, 12), 255, dtype=np.uint8)
    alpha[:, :6] = 0  # left half transparent: composited onto black
    Image.fromarray(np.dstack([rgb, alpha])).save(tmp_path / "rgba.png")
    pixels = read_image(tmp_path / "rgba.png")[0]
    assert np.all(pixels[:, :6] == 0)
    np.testing.assert_allclose(pixels[:, 6:], luma[:, 6:], atol=1e-5)


def test_jpeg_is_close_and_target_size_decodes_smaller(tmp_path):
    grey = np.tile(np.linspace(0, 255, 400), (320, 1)).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "g.jpg", quality=95)
    pixels, meta = read_image(tmp_path / "g.jpg")
    assert meta.format == "JPEG" and pixels.shape == (320, 400)
    assert np.abs(pixels - grey / 255).mean() < 0.01
    small, meta = read_image(tmp_path / "g.jpg", target_size=100)
    assert meta.reduction == 4 and small.shape == (80, 100)
    np.testing.assert_allclose(letterbox(small, 100), letterbox(pixels, 100), atol=0.02)


# --------------------------------------------------------------------------- bad input


def test_missing_directory_empty_and_non_image_files_raise_one_clear_error(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "notes.dcm").write_text("not a dicom file either")
    (tmp_path / "notes.txt").write_text("hello")
    cases = {
        tmp_path / "absent.dcm": "no such file",
        tmp_path: "directory",
        tmp_path / "empty.png": "empty",
        tmp_path / "notes.png": "not a DICOM, PNG",
        tmp_path / "notes.dcm": "not a DICOM, PNG",
        tmp_path / "notes.txt": "not a DICOM, PNG",
    }
    for path, problem in cases.items():
        with pytest.raises(ImageReadError, match=problem) as caught:
            read_image(path)
        assert str(path) in str(caught.value) and caught.value.path == str(path)
        assert isinstance(caught.value, ValueError)


def test_dicom_without_pixels_or_with_truncated_pixels_raises(tmp_path):
    path = write_dicom(tmp_path / "nopix.dcm", STORED)
    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.save_as(path)
    with pytest.raises(ImageReadError, match="no pixel data"):
        read_image(path)
    path = write_dicom(tmp_path / "short.dcm", STORED)
    ds = pydicom.dcmread(path)
    ds.PixelData = ds.PixelData[:100]
    ds.save_as(path)
    with pytest.raises(ImageReadError, match="cannot be decoded"):
        read_image(path)
    ds.Rows = 0
    ds.save_as(path)
    with pytest.raises(ImageReadError, match="empty"):
        read_image(path)


def test_decompression_bombs_are_refused_before_decoding(tmp_path):
    path = write_dicom(tmp_path / "bomb.dcm", STORED)
    ds = pydicom.dcmread(path)
    ds.Rows, ds.Columns = 30_000, 30_000
    ds.save_as(path)
    with pytest.raises(ImageReadError, match="MAX_IMAGE_PIXELS"):
        read_image(path)

    def png_claiming(width: int, height: int, name: str) -> Path:
        Image.new("L", (1, 1)).save(tmp_path / name)
        data = bytearray((tmp_path / name).read_bytes())
        header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
        data[12:29] = header
        data[29:33] = struct.pack(">I", zlib.crc32(header))
        (tmp_path / name).write_bytes(bytes(data))
        return tmp_path / name

    side = int(MAX_IMAGE_PIXELS**0.5) + 100  # over our limit, under Pillow's
    with pytest.raises(ImageReadError, match="MAX_IMAGE_PIXELS"):
        read_image(png_claiming(side, side, "big.png"))
    with pytest.raises(ImageReadError, match="decompression bomb"):
        read_image(png_claiming(40_000, 40_000, "bomb.png"))


def test_truncated_png_raises(tmp_path):
    Image.fromarray(RNG.integers(0, 256, size=(64, 64), dtype=np.uint8)).save(tmp_path / "t.png")
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="cannot be decoded"):
        read_image(tmp_path / "t.png")


# --------------------------------------------------------------------------- real files

HAND = "dicom/cr_hand_pa_mono2_j2k_lossless.dcm"
HIP_LOSSLESS = "dicom/cr_hip_mono2_jpeg_lossless_sv1_RG2_JPLL.dcm"
HIP_NEAR_LOSSLESS = "dicom/cr_hip_mono2_jpegls_nearlossless_RG2_JLSN.dcm"
HIP_LOSSY = "dicom/cr_hip_mono2_jpeg_extended_lossy_RG2_JPLY.dcm"
BROKEN = "dicom/BROKEN_cr_hip_jpeg_extended_undecodable_RG2_JPLY.dcm"


def _decompressed_copy(source: Path, target: Path, syntax=None) -> Path:
    ds = pydicom.dcmread(source)
    ds.decompress()
    if syntax is not None:
        ds.compress(syntax)
    ds.save_as(target)
    return target


@pytest.fixture(scope="module")
def hand(real_data):
    """The real hand CR read at full size, once for the module (decoding takes ~1 s)."""
    return read_image(real_data / HAND)


@pytest.mark.realdata
def test_real_hand_j2k_lossless_equals_its_uncompressed_copy(real_data, hand, tmp_path):
    pixels, meta = hand
    assert pixels.shape == (2500, 2048) and pixels.dtype == np.float32
    assert 0.0 <= pixels.min() and pixels.max() <= 1.0
    assert (meta.modality, meta.body_part, meta.view_position) == ("CR", "HAND", "PA")
    assert (meta.bits_stored, meta.pixel_spacing) == (12, (0.115, 0.115))
    assert meta.transfer_syntax == "JPEG 2000 Image Compression (Lossless Only)"
    assert meta.intensity == "window"
    uncompressed, meta = read_image(_decompressed_copy(real_data / HAND, tmp_path / "hand.dcm"))
    assert meta.transfer_syntax == "Explicit VR Little Endian"
    np.testing.assert_array_equal(uncompressed, pixels)


@pytest.mark.realdata
def test_real_hand_reduced_j2k_decode_is_close_to_full(real_data, hand):
    full, _ = hand
    small, meta = read_image(real_data / HAND, target_size=256)
    assert meta.reduction == 4 and small.shape == (625, 512)
    assert meta.pixel_spacing == pytest.approx((0.46, 0.46))
    assert meta.original_shape == (2500, 2048)
    assert 0.0 <= small.min() and small.max() <= 1.0
    difference = np.abs(letterbox(small, 256) - letterbox(full, 256))
    assert difference.mean() < 0.005 and np.percentile(difference, 99) < 0.08


@pytest.mark.realdata
def test_real_hip_encodings_agree(real_data, tmp_path):
    lossless, meta = read_image(real_data / HIP_LOSSLESS)
    assert lossless.shape == (2140, 1760) and meta.bits_stored == 10
    # Lossless re-encodings of the same stored pixels decode identically.
    for name, syntax in [("raw.dcm", None), ("rle.dcm", RLELossless)]:
        copy = _decompressed_copy(real_data / HIP_LOSSLESS, tmp_path / name, syntax)
        np.testing.assert_array_equal(read_image(copy)[0], lossless)
    # JPEG-LS near-lossless (NEAR=4 here): stored values within 4 of the lossless ones,
    # i.e. within 4 / 1023 after the 1024-wide window.
    near, _ = read_image(real_data / HIP_NEAR_LOSSLESS)
    assert np.abs(near - lossless).max() <= 4 / 1023 + 1e-6
    lossy, _ = read_image(real_data / HIP_LOSSY)
    assert np.abs(lossy - lossless).mean() < 0.01


@pytest.mark.realdata
def test_real_broken_file_raises_the_clear_error(real_data):
    with pytest.raises(ImageReadError, match="cannot be decoded") as caught:
        read_image(real_data / BROKEN)
    assert BROKEN.split("/")[1] in str(caught.value)
    assert "JPEG Extended" in str(caught.value)


@pytest.mark.realdata
def test_real_pngs(real_data):
    for path in sorted((real_data / "images").rglob("*.png"))[:6]:
        pixels, meta = read_image(path)
        assert pixels.ndim == 2 and pixels.dtype == np.float32
        assert 0.0 <= pixels.min() < pixels.max() <= 1.0
        assert meta.format == "PNG" and meta.bits_stored == 8
    knee, meta = read_image(real_data / "images/knee-kl/kl0_9153255L.png")
    assert knee.shape == (224, 224) and meta.original_shape == (224, 224)
    raw = np.asarray(Image.open(real_data / "images/knee-kl/kl0_9153255L.png"))
    np.testing.assert_allclose(knee, raw / 255, atol=1e-7)
