"""Radiographs to arrays: DICOM, PNG, JPEG and TIFF in, one float image with bone bright out.

Scanners and PACS exports disagree on almost everything a model should not have to care
about: compression, bit depth, rescale, display window, whether white means bone
(MONOCHROME2) or air (MONOCHROME1), colour. `read_image` settles all of it here, so that
everything downstream sees a 2-D float32 array in [0, 1] with bone bright, and every file it
cannot read fails with one error type, `ImageReadError`, naming the file and what to do.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from ramultimodal._text import one_line
from ramultimodal.io._dicomweb_url import is_dicomweb_url
from ramultimodal.io._image_dicom import read_dicom
from ramultimodal.io._image_meta import ImageMeta, ImageReadError
from ramultimodal.io._image_pillow import open_with_pillow, read_pillow

__all__ = ["read_image"]

_DICOM_SUFFIXES = (".dcm", ".dicom", ".dic", "")


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
        the other formats by their content. A ``dicomweb://`` (``dicomwebs://``) URL of an
        instance is fetched from its server with WADO-RS into a cache folder, then read
        (docs/dicomweb.md); `ImageMeta.path` is then the URL.
    target_size : int, optional
        The size the caller will shrink the image to (longest side). When given, a JPEG 2000
        DICOM frame (unsigned, grey) is decoded at the smallest resolution level whose
        longest side is still at least twice `target_size`, which skips most of the decoding
        work (the pixels then differ slightly from a full decode: see ``_decode_j2k_reduced``
        in `ramultimodal.io._image_dicom`); a JPEG file is decoded with DCT scaling to at least
        `target_size`. Other files are decoded at full size. The returned array may then be
        smaller than the stored one (see `ImageMeta.reduction`).
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
        `MAX_IMAGE_PIXELS`, or its pixel data cannot be decoded; for a ``dicomweb://`` URL,
        a `ramultimodal.io.DICOMwebError` (a kind of ImageReadError) when the instance
        cannot be fetched.

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
    if is_dicomweb_url(path):
        from ramultimodal.io._dicomweb import fetch_instance

        pixels, meta = read_image(fetch_instance(path), target_size=target_size, frame=frame)
        return pixels, dataclasses.replace(meta, path=str(path))
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
            return read_dicom(path, target_size, frame, force=False)
        pil_image = open_with_pillow(path)
        if pil_image is not None:
            with pil_image:
                return read_pillow(path, pil_image, target_size)
        if path.suffix.lower() in _DICOM_SUFFIXES:
            # Old DICOM files may lack the 128-byte preamble and "DICM" marker.
            return read_dicom(path, target_size, frame, force=True)
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
