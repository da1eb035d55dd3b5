"""A DICOM radiograph through the DICOM display pipeline, to [0, 1] with bone bright.

pydicom and its plugins decode the pixel data (a JPEG 2000 frame at a reduced resolution
level when the caller will shrink it anyway); then the modality LUT (rescale), the VOI LUT
or the first window, else a robust percentile window; a MONOCHROME1 image is inverted so
that bone is bright, and colour becomes grey. pydicom is imported on first use.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from ramultimodal._text import one_line
from ramultimodal.io._image_intensity import LUMA, apply_window, percentiles, scale_to_unit
from ramultimodal.io._image_meta import REEXPORT, ImageMeta, ImageReadError, check_size

__all__ = ["read_dicom"]

# JPEG 2000 transfer syntaxes whose code stream Pillow's OpenJPEG plugin can decode at a
# reduced resolution level (JPEG 2000 Lossless Only, JPEG 2000).
_J2K_SYNTAXES = ("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91")


def read_dicom(
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
        raise ImageReadError(path, f"the image is empty ({rows} x {columns} pixels)", REEXPORT)
    check_size(path, rows, columns)
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
            f"The file may be truncated or corrupt. {REEXPORT}, or decompress it with "
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
        return scale_to_unit(mapped, 0.0, 2.0**depth - 1), "voi_lut"

    window = _first_window(ds)
    if window is not None:
        return apply_window(values, *window), "window"
    lo, hi = percentiles(values)
    return scale_to_unit(values, lo, hi), "percentile"


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


def _dicom_colour_to_grey(ds, stored: np.ndarray, photometric: str, bits_stored: int):
    """RGB (pydicom converts YBR to RGB) or palette colour to grey by luma, then to [0, 1]."""
    from pydicom.pixels import apply_color_lut

    if photometric == "PALETTE COLOR":
        stored = apply_color_lut(stored, ds)
        bits_stored = int(ds.RedPaletteColorLookupTableDescriptor[2])
    grey = stored.astype(np.float32) @ LUMA
    return scale_to_unit(grey, 0.0, 2.0**bits_stored - 1), "bit_depth"


def _text(value) -> str | None:
    text = str(value).strip().upper() if value is not None else ""
    return text or None
