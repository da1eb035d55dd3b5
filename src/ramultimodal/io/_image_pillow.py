"""A PNG, JPEG, TIFF or BMP radiograph through Pillow, to [0, 1] with bone bright.

Such files are taken as already windowed for display: their values are divided by the
largest value of their bit depth (of the data a 16-bit file holds, see `read_pillow`);
colour becomes grey and transparent pixels black. Pillow is imported on first use.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from ramultimodal.io._image_intensity import LUMA, scale_to_unit
from ramultimodal.io._image_meta import REEXPORT, ImageMeta, ImageReadError, check_size

__all__ = ["open_with_pillow", "read_pillow"]

_PILLOW_FORMATS = ("PNG", "JPEG", "TIFF", "BMP")


def open_with_pillow(path: Path):
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


def read_pillow(path: Path, image, target_size: int | None) -> tuple[np.ndarray, ImageMeta]:
    from PIL import Image

    columns, rows = image.size
    if rows <= 0 or columns <= 0:
        raise ImageReadError(path, f"the image is empty ({rows} x {columns} pixels)", REEXPORT)
    check_size(path, rows, columns)
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
            path, f"the {file_format} data cannot be decoded ({exc})", f"{REEXPORT}."
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
        values = values[..., 0] if values.shape[2] == 1 else values.astype(np.float32) @ LUMA
    if bits:
        pixels = scale_to_unit(values, 0.0, 2.0**bits - 1)
    else:  # float TIFF: no bit depth to speak of
        pixels = scale_to_unit(values, float(np.nanmin(values)), float(np.nanmax(values)))
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
