"""What reading a radiograph tells besides its pixels, and the one way it fails.

`ImageMeta` says where an image came from and how its values were mapped; `ImageReadError`
is the error of every image reader, naming the file and what to do. A frame larger than
`MAX_IMAGE_PIXELS` is refused before a byte of its pixel data is decoded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ramultimodal._errors import InputError
from ramultimodal._text import one_line

__all__ = ["MAX_IMAGE_PIXELS", "REEXPORT", "ImageMeta", "ImageReadError", "check_size"]

#: Largest frame (rows x columns) that is decoded. The largest flat-panel detectors are about
#: 4300 x 3500 pixels (43 x 35 cm at 100 um); a frame beyond 10,000 x 10,000 (400 MB as
#: float32) is a corrupt header or a decompression bomb, and is refused before a byte of
#: pixel data is decoded. (Pillow refuses PNG/JPEG/TIFF beyond 179 million pixels itself.)
MAX_IMAGE_PIXELS = 10_000 * 10_000


class ImageReadError(InputError):
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


REEXPORT = "Re-export the image from the PACS or modality"


def check_size(path: Path, rows: int, columns: int) -> None:
    if rows * columns > MAX_IMAGE_PIXELS:
        raise ImageReadError(
            path,
            f"the image claims {rows} x {columns} pixels, more than MAX_IMAGE_PIXELS "
            f"({MAX_IMAGE_PIXELS:,}); a corrupt header or a decompression bomb",
            "Check the file; if it is genuine, downsample it before reading",
        )
