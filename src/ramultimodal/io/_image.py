"""Radiographs to arrays: DICOM, PNG, JPEG and TIFF in, one float image with bone bright out.

Scanners and PACS exports disagree on almost everything a model should not have to care
about: compression, bit depth, rescale, display window, whether white means bone
(MONOCHROME2) or air (MONOCHROME1), colour. `read_image` settles all of it here, so that
everything downstream sees a 2-D float32 array in [0, 1] with bone bright, and every file it
cannot read fails with one error type, `ImageReadError`, naming the file and what to do.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ramultimodal._text import one_line

__all__ = ["MAX_IMAGE_PIXELS", "ImageMeta", "ImageReadError", "read_image"]

#: Largest frame (rows x columns) that is decoded. The largest flat-panel detectors are about
#: 4300 x 3500 pixels (43 x 35 cm at 100 um); a frame beyond 10,000 x 10,000 (400 MB as
#: float32) is a corrupt header or a decompression bomb, and is refused before a byte of
#: pixel data is decoded. (Pillow refuses PNG/JPEG/TIFF beyond 179 million pixels itself.)
MAX_IMAGE_PIXELS = 10_000 * 10_000

#: Robust window used when a DICOM file carries no VOI LUT and no window: the 0.5th and
#: 99.5th percentiles, so that a few burnt-in labels or dead pixels do not set the contrast.
PERCENTILE_WINDOW = (0.5, 99.5)

# ITU-R BT.601 luma weights (the ones Pillow's convert("L") uses), for colour to grey.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

# JPEG 2000 transfer syntaxes whose code stream Pillow's OpenJPEG plugin can decode at a
# reduced resolution level (JPEG 2000 Lossless Only, JPEG 2000).
_J2K_SYNTAXES = ("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91")
_PILLOW_FORMATS = ("PNG", "JPEG", "TIFF", "BMP")
_DICOM_SUFFIXES = (".dcm", ".dicom", ".dic", "")


class ImageReadError(ValueError):
    """A file that `read_image` cannot turn into an image; the message names the file.

    Parameters
    ----------
    path : str or Path
        The file that could not be read.
    problem : str
        What was wrong with it.
    advice : str
        What the user can do about it.

    Examples
    --------
    >>> err = ImageReadError("x.dcm", "the file is empty", "Re-export it.")
    >>> str(err)
    'cannot read image x.dcm: the file is empty. Re-export it.'
    >>> isinstance(err, ValueError)
    True
    """

    def __init__(self, path: str | os.PathLike[str], problem: str, advice: str) -> None:
        self.path = str(path)
        # One line: `problem` often quotes a decoder's own message, which may have several.
        super().__init__(f"cannot read image {self.path}: {one_line(problem)}. {advice}")


@dataclass(frozen=True)
class ImageMeta:
    """What `read_image` learnt about an image besides its pixels.

    Attributes
    ----------
    path : str
        The file read.
    format : str
        ``"DICOM"``, ``"PNG"``, ``"JPEG"``, ``"TIFF"`` or ``"BMP"``.
    original_shape : tuple of int
        Rows and columns as stored in the file.
    modality, body_part : str or None
        DICOM Modality (``"CR"``, ``"DX"``) and Body Part Examined (``"HAND"``).
    laterality : str or None
        ``"L"``, ``"R"`` or ``"B"`` (both) from DICOM Image Laterality (or Laterality);
        None when the file does not say.
    view_position : str or None
        DICOM View Position (``"PA"``, ``"AP"``, ...).
    pixel_spacing : tuple of float or None
        Millimetres per pixel of the *returned* array (rows, columns): DICOM Pixel Spacing,
        else Imager Pixel Spacing, times `reduction`.
    photometric_interpretation : str
        DICOM term (``"MONOCHROME1"``, ``"MONOCHROME2"``, ``"RGB"``, ``"YBR_FULL"``,
        ``"PALETTE COLOR"``); for other formats, the Pillow mode (``"L"``, ``"I;16"``, ``"RGB"``).
    bits_stored : int
        Bits per sample holding data (DICOM Bits Stored; 8 or 16 for other formats, or the
        smaller depth a 16-bit file was found to use, see `read_image`).
    transfer_syntax : str or None
        DICOM transfer syntax name (``"JPEG 2000 Image Compression (Lossless Only)"``).
    n_frames : int
        Frames in the file; `frame` is the one returned.
    frame : int
        Index of the returned frame.
    intensity : str
        How stored values became [0, 1]: ``"voi_lut"``, ``"window"`` (DICOM window centre
        and width), ``"percentile"`` (`PERCENTILE_WINDOW`), or ``"bit_depth"`` (divided by
        the largest value the bit depth holds).
    reduction : int
        Factor by which the decoder shrank the image (1: full resolution). Larger than 1
        only when `read_image` was given a `target_size` and the codec can decode a
        smaller image directly (JPEG 2000 resolution levels, JPEG DCT scaling).
    """

    path: str
    format: str
    original_shape: tuple[int, int]
    modality: str | None = None
    body_part: str | None = None
    laterality: str | None = None
    view_position: str | None = None
    pixel_spacing: tuple[float, float] | None = None
    photometric_interpretation: str = "MONOCHROME2"
    bits_stored: int = 8
    transfer_syntax: str | None = None
    n_frames: int = 1
    frame: int = 0
    intensity: str = "bit_depth"
    reduction: int = 1


def read_image(
    path: str | os.PathLike[str], *, target_size: int | None = None, frame: int = 0
) -> tuple[np.ndarray, ImageMeta]:
    """Read a radiograph as a 2-D float32 array in [0, 1] with bone bright.

    DICOM (any transfer syntax pydicom and the pylibjpeg plugins decode: uncompressed, RLE,
    JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000) goes through the DICOM display
    pipeline: the modality LUT (rescale slope and intercept), then the VOI LUT or the first
    window centre/width when the file has one, else a robust `PERCENTILE_WINDOW`; a
    MONOCHROME1 image is inverted so that bone is bright. PNG, JPEG, TIFF and BMP files are
    taken as already windowed for display: they are divided by the largest value of their
    bit depth (255 for 8 bits; for 16-bit files, the smallest of 2**10, 2**12, 2**14 or
    2**16 minus one that holds the largest value, since 16-bit exports usually carry 10 to
    14 bits of data and dividing by 65535 would leave them nearly black). Colour images
    (RGB, YBR, palette) become grey by BT.601 luma; transparent pixels become black.

    Parameters
    ----------
    path : str or Path
        The image file. DICOM is recognised by its ``DICM`` preamble (or a ``.dcm`` suffix),
        the other formats by their content.
    target_size : int, optional
        The size the caller will shrink the image to (longest side). When given, a JPEG 2000
        DICOM frame (unsigned, grey) is decoded at the smallest resolution level whose
        longest side is still at least twice `target_size`, which skips most of the decoding
        work (the pixels then differ slightly from a full decode: see `_decode_j2k_reduced`);
        a JPEG file is decoded with DCT scaling to at least `target_size`. Other files are
        decoded at full size. The returned array may then be smaller than the stored one
        (see `ImageMeta.reduction`).
    frame : int, default 0
        Which frame of a multi-frame DICOM file to return (the first by default;
        `ImageMeta.n_frames` says how many there are).

    Returns
    -------
    pixels : ndarray of float32, shape (rows, columns)
        The image, values in [0, 1], bone bright.
    meta : ImageMeta
        Where it came from and how it was mapped (spacing, laterality, ...).

    Raises
    ------
    ImageReadError
        When the file is missing, a directory, empty, not an image, larger than
        `MAX_IMAGE_PIXELS`, or its pixel data cannot be decoded.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> folder = tempfile.mkdtemp()
    >>> Image.fromarray(np.array([[0, 51], [102, 255]], dtype=np.uint8)).save(f"{folder}/a.png")
    >>> pixels, meta = read_image(f"{folder}/a.png")
    >>> pixels
    array([[0. , 0.2],
           [0.4, 1. ]], dtype=float32)
    >>> meta.format, meta.original_shape, meta.intensity
    ('PNG', (2, 2), 'bit_depth')
    """
    path = Path(path)
    if target_size is not None and int(target_size) < 1:
        raise ValueError(f"target_size must be a positive int or None, got {target_size!r}")
    if not path.exists():
        raise ImageReadError(path, "no such file", "Check the path (and the image manifest).")
    if path.is_dir():
        raise ImageReadError(
            path, "it is a directory", "Pass one image file (one DICOM file per image)."
        )
    try:
        with open(path, "rb") as handle:
            header = handle.read(132)
    except OSError as exc:
        raise ImageReadError(
            path, f"the file cannot be opened ({exc})", "Check its permissions."
        ) from exc
    if not header:
        raise ImageReadError(path, "the file is empty", "Re-export or re-copy it.")

    try:
        if header[128:132] == b"DICM":
            return _read_dicom(path, target_size, frame, force=False)
        pil_image = _open_with_pillow(path)
        if pil_image is not None:
            with pil_image:
                return _read_pillow(path, pil_image, target_size)
        if path.suffix.lower() in _DICOM_SUFFIXES:
            # Old DICOM files may lack the 128-byte preamble and "DICM" marker.
            return _read_dicom(path, target_size, frame, force=True)
    except ImageReadError:
        raise
    except Exception as exc:
        # pydicom and Pillow parse what the file says; a damaged header (a window given as
        # text, a length past the end) fails anywhere in them, with any type.
        raise ImageReadError(
            path,
            f"the file is damaged ({type(exc).__name__}: {one_line(exc, 200)})",
            "Re-export or re-copy it.",
        ) from exc
    raise ImageReadError(
        path,
        "not a DICOM, PNG, JPEG, TIFF or BMP file",
        "Convert it to one of these formats.",
    )


# --------------------------------------------------------------------------- DICOM


def _read_dicom(
    path: Path, target_size: int | None, frame: int, *, force: bool
) -> tuple[np.ndarray, ImageMeta]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path, force=force)
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError) as exc:
        raise ImageReadError(
            path, f"not a readable DICOM file ({exc})", "Check that the file is complete."
        ) from exc
    if "PixelData" not in ds and force:
        raise ImageReadError(
            path, "not a DICOM, PNG, JPEG, TIFF or BMP file", "Convert it to one of these formats."
        )
    if "PixelData" not in ds:
        raise ImageReadError(
            path,
            "the DICOM file holds no pixel data (a report, presentation state or key object?)",
            "Point the image manifest at the image files of the study.",
        )
    rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
    if rows <= 0 or columns <= 0:
        raise ImageReadError(path, f"the image is empty ({rows} x {columns} pixels)", _REEXPORT)
    _check_size(path, rows, columns)
    n_frames = int(ds.get("NumberOfFrames") or 1)
    if not 0 <= frame < n_frames:
        raise ImageReadError(
            path, f"frame {frame} asked for, the file has {n_frames}", "Pass a valid frame."
        )
    syntax = getattr(ds, "file_meta", {}).get("TransferSyntaxUID")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    bits_stored = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 16)

    stored, reduction = None, 1
    if target_size is not None and syntax in _J2K_SYNTAXES and photometric.startswith("MONO"):
        stored, reduction = _decode_j2k_reduced(ds, frame, n_frames, int(target_size))
    if stored is None:
        stored = _decode_dicom(path, ds, frame, n_frames, syntax)

    if stored.ndim == 3 or photometric == "PALETTE COLOR":
        pixels, intensity = _dicom_colour_to_grey(ds, stored, photometric, bits_stored)
    else:
        pixels, intensity = _dicom_grey(ds, stored)
        if photometric == "MONOCHROME1":
            # MONOCHROME1: the lowest value is displayed white; flip so that bone is bright.
            np.subtract(1.0, pixels, out=pixels)

    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    if spacing is not None and len(spacing) == 2:
        spacing = (float(spacing[0]) * reduction, float(spacing[1]) * reduction)
    else:
        spacing = None
    laterality = ds.get("ImageLaterality") or ds.get("Laterality")
    meta = ImageMeta(
        path=str(path),
        format="DICOM",
        original_shape=(rows, columns),
        modality=_text(ds.get("Modality")),
        body_part=_text(ds.get("BodyPartExamined")),
        laterality=_text(laterality),
        view_position=_text(ds.get("ViewPosition")),
        pixel_spacing=spacing,
        photometric_interpretation=photometric,
        bits_stored=bits_stored,
        transfer_syntax=syntax.name if syntax is not None else None,
        n_frames=n_frames,
        frame=frame,
        intensity=intensity,
        reduction=reduction,
    )
    return pixels, meta


_REEXPORT = "Re-export the image from the PACS or modality"


def _decode_dicom(path: Path, ds, frame: int, n_frames: int, syntax) -> np.ndarray:
    """Decode one frame with pydicom and its plugins; any failure becomes ImageReadError."""
    from pydicom.pixels import pixel_array

    try:
        # index=None on a single-frame file returns its one frame without frame bookkeeping.
        return pixel_array(ds, index=frame if n_frames > 1 else None)
    except Exception as exc:  # each plugin raises its own types; all mean "undecodable"
        name = syntax.name if syntax is not None else "unknown transfer syntax"
        reason = one_line(exc)
        raise ImageReadError(
            path,
            f"the pixel data ({name}) cannot be decoded: {reason}",
            f"The file may be truncated or corrupt. {_REEXPORT}, or decompress it with "
            "another tool (e.g. `gdcmconv --raw`) to see whether it is readable at all",
        ) from exc


def _decode_j2k_reduced(ds, frame: int, n_frames: int, target_size: int):
    """Decode a JPEG 2000 frame at a reduced resolution level, or return (None, 1).

    Each JPEG 2000 resolution level halves both sides, and its low-pass wavelet band is an
    anti-aliased reduction of the image: what JPEG 2000 viewers show when zoomed out. Its
    filter is not the area average, though (sharper, and centred half a pixel off), so we
    stop at the level that still leaves at least a 2x area shrink to the caller: on the real
    hand CR shrunk to 256 px, the mean difference from a full decode is then 0.003 (0.05 at
    the 99th percentile), against 0.006 (0.09) when decoding straight to the smallest level,
    for about 5% of the full decode's time. Only the unsigned grey case is taken, and the
    result is checked against the expected size; anything unexpected falls back to the full
    decode.
    """
    from PIL import Image
    from pydicom.encaps import get_frame

    rows, columns = int(ds.Rows), int(ds.Columns)
    if int(ds.get("PixelRepresentation", 0)) != 0 or int(ds.get("SamplesPerPixel", 1)) != 1:
        return None, 1
    try:
        codestream = get_frame(ds.PixelData, frame, number_of_frames=n_frames)
        levels = _j2k_decomposition_levels(codestream)
        level = 0
        longest = max(rows, columns)
        while level < levels and math.ceil(longest / 2 ** (level + 1)) >= 2 * target_size:
            level += 1
        if level == 0:
            return None, 1
        with Image.open(io.BytesIO(codestream), formats=("JPEG2000",)) as image:
            image.reduce = level
            image.load()
            stored = np.asarray(image)
    except Exception:  # fall back to pydicom, which reports any real decoding problem
        return None, 1
    factor = 2**level
    if stored.shape != (math.ceil(rows / factor), math.ceil(columns / factor)):
        return None, 1
    # The low-pass band of a reversible wavelet can overshoot the stored range: clip it.
    bits_stored = int(ds.get("BitsStored") or ds.BitsAllocated)
    return np.minimum(stored, 2**bits_stored - 1), factor


def _j2k_decomposition_levels(codestream: bytes) -> int:
    """Number of wavelet decomposition levels from the COD marker segment of the main header."""
    cod = codestream.find(b"\xff\x52", 0, 4096)
    if cod < 0:
        return 0
    # COD: marker(2) Lcod(2) Scod(1) SGcod(4: progression, layers(2), MCT) SPcod: levels(1)
    return codestream[cod + 9]


def _dicom_grey(ds, stored: np.ndarray) -> tuple[np.ndarray, str]:
    """Modality LUT, then VOI LUT, window or percentile window: float32 in [0, 1]."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    if ds.get("ModalityLUTSequence"):
        values = apply_modality_lut(stored, ds)
    else:
        # Rescale by hand in float32: pydicom's apply_modality_lut works in float64.
        values = stored.astype(np.float32)
        slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
        if slope is not None and float(slope) != 1.0:
            values *= np.float32(slope)
        if intercept is not None and float(intercept) != 0.0:
            values += np.float32(intercept)

    if ds.get("VOILUTSequence"):
        lut = ds.VOILUTSequence[0]
        depth = int(lut.LUTDescriptor[2])
        mapped = apply_voi_lut(np.asarray(values).astype(np.int64), ds, prefer_lut=True)
        return _unit(mapped, 0.0, 2.0**depth - 1), "voi_lut"

    window = _first_window(ds)
    if window is not None:
        return _apply_window(values, *window), "window"
    lo, hi = _percentiles(values)
    return _unit(values, lo, hi), "percentile"


def _first_window(ds) -> tuple[float, float, str] | None:
    """The first window (centre, width, function) of the file, or None when absent/invalid."""
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is None or width is None:
        return None
    center = center[0] if ds["WindowCenter"].VM > 1 else center
    width = width[0] if ds["WindowWidth"].VM > 1 else width
    function = str(ds.get("VOILUTFunction", "LINEAR")).strip().upper() or "LINEAR"
    minimum_width = 1.0 if function == "LINEAR" else 0.0
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID") or not float(width) > minimum_width:
        return None  # an unusable window: the percentile window is the better guess
    return float(center), float(width), function


def _apply_window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 window, normalised to [0, 1].

    Equals pydicom's ``apply_windowing`` divided by its output range, but in float32 and
    without boolean masks (about 5x faster on a 2000 x 2000 radiograph).
    """
    if function == "SIGMOID":
        scaled = np.float32(-4.0 / width) * (values - np.float32(center))
        return (1.0 / (1.0 + np.exp(scaled))).astype(np.float32, copy=False)
    if function == "LINEAR":
        center, width = center - 0.5, width - 1.0
    pixels = values - np.float32(center - width / 2)
    pixels *= np.float32(1.0 / width)
    return np.clip(pixels, 0.0, 1.0, out=pixels)


def _dicom_colour_to_grey(ds, stored: np.ndarray, photometric: str, bits_stored: int):
    """RGB (pydicom converts YBR to RGB) or palette colour to grey by luma, then to [0, 1]."""
    from pydicom.pixels import apply_color_lut

    if photometric == "PALETTE COLOR":
        stored = apply_color_lut(stored, ds)
        bits_stored = int(ds.RedPaletteColorLookupTableDescriptor[2])
    grey = stored.astype(np.float32) @ _LUMA
    return _unit(grey, 0.0, 2.0**bits_stored - 1), "bit_depth"


# --------------------------------------------------------------------------- PNG, JPEG, TIFF


def _open_with_pillow(path: Path):
    """The file opened lazily by Pillow (header only), or None when Pillow does not know it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Our own MAX_IMAGE_PIXELS check follows; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path, formats=_PILLOW_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageReadError(
            path, f"a decompression bomb ({exc})", "Check the file; do not raise Pillow's limit"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None


def _read_pillow(path: Path, image, target_size: int | None) -> tuple[np.ndarray, ImageMeta]:
    from PIL import Image

    columns, rows = image.size
    if rows <= 0 or columns <= 0:
        raise ImageReadError(path, f"the image is empty ({rows} x {columns} pixels)", _REEXPORT)
    _check_size(path, rows, columns)
    mode, file_format = image.mode, image.format
    reduction = 1
    if target_size is not None and file_format == "JPEG":
        # DCT scaling by 1/2, 1/4 or 1/8 while decoding, keeping the longest side at least
        # target_size (draft keeps both requested sides).
        scale = int(target_size) / max(rows, columns)
        image.draft(image.mode, (math.ceil(columns * scale), math.ceil(rows * scale)))
        reduction = max(1, round(columns / image.size[0]))
    try:
        image.load()
        if image.mode in ("P", "PA"):
            image = image.convert("RGBA")
        elif image.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
            image = image.convert("RGB")
        elif image.mode == "1":
            image = image.convert("L")
        values = np.asarray(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageReadError(
            path, f"the {file_format} data cannot be decoded ({exc})", f"{_REEXPORT}."
        ) from exc

    if values.dtype == np.uint8:
        bits = 8
    elif np.issubdtype(values.dtype, np.floating):
        bits = 0
    else:
        # 16-bit files (I;16, I) usually hold 10-14 bits of data: use the depth that holds it.
        peak = int(values.max())
        bits = next(depth for depth in (8, 10, 12, 14, 16, 32) if peak < 2**depth)

    alpha = None
    if values.ndim == 3:
        if values.shape[2] in (2, 4):  # LA, RGBA: composite onto black
            alpha = values[..., -1].astype(np.float32) / 255.0
            values = values[..., :-1]
        values = values[..., 0] if values.shape[2] == 1 else values.astype(np.float32) @ _LUMA
    if bits:
        pixels = _unit(values, 0.0, 2.0**bits - 1)
    else:  # float TIFF: no bit depth to speak of
        pixels = _unit(values, float(np.nanmin(values)), float(np.nanmax(values)))
    if alpha is not None:
        pixels *= alpha
    meta = ImageMeta(
        path=str(path),
        format=file_format,
        original_shape=(rows, columns),
        photometric_interpretation=mode,
        bits_stored=bits or 32,
        intensity="bit_depth",
        reduction=reduction,
    )
    return pixels, meta


# --------------------------------------------------------------------------- shared helpers


def _check_size(path: Path, rows: int, columns: int) -> None:
    if rows * columns > MAX_IMAGE_PIXELS:
        raise ImageReadError(
            path,
            f"the image claims {rows} x {columns} pixels, more than MAX_IMAGE_PIXELS "
            f"({MAX_IMAGE_PIXELS:,}); a corrupt header or a decompression bomb",
            "Check the file; if it is genuine, downsample it before reading",
        )


def _percentiles(values: np.ndarray) -> tuple[float, float]:
    """`PERCENTILE_WINDOW` of the image, from about 250,000 evenly spread pixels.

    Subsampling keeps the cost of a 2000 x 2500 radiograph to a few milliseconds; the
    percentiles of a quarter of a million pixels are within a grey level of the full ones.
    """
    step = max(1, int(math.sqrt(values.size / 250_000)))
    sample = values[::step, ::step]
    lo, hi = np.percentile(sample, PERCENTILE_WINDOW)
    return float(lo), float(hi)


def _unit(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map [lo, hi] linearly to [0, 1] in float32, clipping outside; zeros when lo == hi."""
    pixels = np.array(values, dtype=np.float32)  # a copy: the caller's array stays intact
    if lo:
        pixels -= np.float32(lo)
    if hi > lo:
        pixels /= np.float32(hi - lo)
    else:
        pixels[...] = 0.0  # a constant image holds no contrast to stretch
    np.nan_to_num(pixels, copy=False, nan=0.0)
    return np.clip(pixels, 0.0, 1.0, out=pixels)


def _text(value) -> str | None:
    text = str(value).strip().upper() if value is not None else ""
    return text or None
