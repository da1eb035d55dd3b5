"""Radiograph writers: a computed radiograph as DICOM, or as a 16-bit grey PNG.

The files are meant to look like what a hospital exports, so that the readers are tested
against the same things they meet in the wild: a DICOM Part 10 file (preamble, file meta,
Explicit VR Little Endian), 12 bits stored in 16, and a share of MONOCHROME1 images whose
stored values are inverted (bone dark), as many CR plates write them.

Every value in a file comes from the arguments, never from the clock, so the same arguments
give the same bytes.
"""

from __future__ import annotations

import os
import struct
import zlib
from datetime import date, datetime

import numpy as np
import pandas as pd

from ramultimodal.terminology.dicom import SOP_CLASSES

__all__ = ["write_dicom", "write_png"]

# Fixed, not pydicom's own: the implementation UID and version name that pydicom writes by
# default change with its version, which would change the bytes of every file. The UID is
# pydicom.uid.generate_uid(entropy_srcs=["ramultimodal"]).
_IMPLEMENTATION_UID = "1.2.826.0.1.3680043.8.498.25085837215399367262519978118938256280"
_IMPLEMENTATION_VERSION = "RAMULTIMODAL_01"


def write_dicom(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    *,
    patient_id: str,
    study_date: date | datetime | pd.Timestamp | str,
    study_uid: str,
    series_uid: str,
    sop_uid: str,
    laterality: str,
    pixel_spacing_mm: float,
    body_part: str = "HAND",
    monochrome1: bool = False,
    modality: str = "CR",
    patient_sex: str = "",
    patient_birth_date: date | datetime | pd.Timestamp | str | None = None,
    bits_stored: int = 12,
) -> None:
    """Write a single-frame radiograph as a DICOM CR (or DX) file.

    Parameters
    ----------
    path : path-like
        The file to write.
    pixels : ndarray of shape (rows, columns)
        Unsigned integers with at most `bits_stored` bits, bone bright (the MONOCHROME2
        convention) whatever `monochrome1` says.
    patient_id : str
        PatientID; the FHIR ``Patient.id`` of the same patient.
    study_date : date, datetime, Timestamp or ISO string
        Gives StudyDate and StudyTime (also used as series, acquisition and content time).
    study_uid, series_uid, sop_uid : str
        Study, Series and SOP Instance UIDs (the ImagingStudy of the FHIR export refers to
        them).
    laterality : {"L", "R"}
        ImageLaterality (and the series Laterality).
    pixel_spacing_mm : float
        PixelSpacing and ImagerPixelSpacing, the same in both directions.
    body_part : str, default "HAND"
        BodyPartExamined.
    monochrome1 : bool, default False
        Store the image as MONOCHROME1: stored values inverted, so that a viewer applying
        the photometric interpretation shows bone bright again.
    modality : {"CR", "DX"}, default "CR"
        Computed radiography or digital X-ray (for presentation).
    patient_sex : {"", "F", "M", "O"}, default ""
        PatientSex (empty: unknown, a type 2 attribute).
    patient_birth_date : date-like, optional
        PatientBirthDate (empty when not given).
    bits_stored : int, default 12
        BitsStored; values are stored in 16 bits.

    Examples
    --------
    >>> import tempfile, pydicom
    >>> pixels = np.arange(12, dtype=np.uint16).reshape(3, 4) * 300
    >>> path = tempfile.mkdtemp() + "/hand.dcm"
    >>> write_dicom(path, pixels, patient_id="p1", study_date="2020-03-01T10:30:00",
    ...             study_uid="1.2.3", series_uid="1.2.3.1", sop_uid="1.2.3.1.1",
    ...             laterality="L", pixel_spacing_mm=0.2, monochrome1=True)
    >>> ds = pydicom.dcmread(path)
    >>> ds.PhotometricInterpretation, ds.StudyDate, ds.StudyTime, ds.ImageLaterality
    ('MONOCHROME1', '20200301', '103000', 'L')
    >>> int(ds.pixel_array[0, 1]) == 4095 - 300
    True
    """
    # pydicom is imported here, not at module level: it costs ~0.3 s, and `ramultimodal.io`
    # must stay quick to import.
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian

    if modality not in ("CR", "DX"):
        raise ValueError(f"modality must be 'CR' or 'DX', got {modality!r}.")
    if laterality not in ("L", "R"):
        raise ValueError(f"laterality must be 'L' or 'R', got {laterality!r}.")
    stored = _stored_values(pixels, bits_stored, monochrome1)
    when = pd.Timestamp(study_date)
    dicom_date, dicom_time = when.strftime("%Y%m%d"), when.strftime("%H%M%S")
    sop_class = SOP_CLASSES[modality]

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(sop_class)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = UID(_IMPLEMENTATION_UID)
    ds.file_meta.ImplementationVersionName = _IMPLEMENTATION_VERSION

    # SOP common, patient, general study, series and equipment modules. Type 2 attributes
    # that a synthetic patient has no value for are present and empty, as the standard asks.
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = UID(sop_class)
    ds.SOPInstanceUID = UID(sop_uid)
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = dicom_date
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = dicom_time
    ds.AccessionNumber = ""
    ds.Modality = modality
    ds.Manufacturer = "ramultimodal synthetic"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = f"XR {body_part} PA"
    ds.PatientName = ""
    ds.PatientID = patient_id
    ds.PatientBirthDate = (
        "" if patient_birth_date is None else pd.Timestamp(patient_birth_date).strftime("%Y%m%d")
    )
    ds.PatientSex = patient_sex
    ds.BodyPartExamined = body_part
    ds.ViewPosition = "PA"
    ds.StudyInstanceUID = UID(study_uid)
    ds.SeriesInstanceUID = UID(series_uid)
    ds.StudyID = ""
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Laterality = laterality
    ds.ImageLaterality = laterality
    ds.PatientOrientation = ""
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    if modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.PresentationLUTShape = "INVERSE" if monochrome1 else "IDENTITY"

    # Image pixel and presentation: 12 bits stored in 16, unsigned; the window spans the
    # stored values so that a viewer shows the whole image without guessing.
    ds.set_pixel_data(
        stored,
        photometric_interpretation="MONOCHROME1" if monochrome1 else "MONOCHROME2",
        bits_stored=bits_stored,
        generate_instance_uid=False,
    )
    ds.PixelSpacing = ds.ImagerPixelSpacing = [float(pixel_spacing_mm)] * 2
    low, high = int(stored.min()), int(stored.max())
    ds.WindowCenter = str((low + high + 1) // 2)
    ds.WindowWidth = str(max(high - low + 1, 2))
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    ds.save_as(os.fspath(path), enforce_file_format=True)


def write_png(path: str | os.PathLike[str], pixels: np.ndarray, *, bits_stored: int = 12) -> None:
    """Write a radiograph as a 16-bit greyscale PNG, bone bright.

    The `bits_stored`-bit values are scaled to the full 16-bit range by bit replication
    (4095 becomes 65535), so that viewers show the image with its contrast and
    ``value >> (16 - bits_stored)`` gives the original values back.

    Parameters
    ----------
    path : path-like
        The file to write.
    pixels : ndarray of shape (rows, columns)
        Unsigned integers with at most `bits_stored` bits, bone bright.
    bits_stored : int, default 12
        Significant bits of `pixels`, 8 to 16.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> path = tempfile.mkdtemp() + "/hand.png"
    >>> write_png(path, np.array([[0, 2048, 4095]], dtype=np.uint16))
    >>> (np.asarray(Image.open(path)) >> 4).tolist()
    [[0, 2048, 4095]]
    """
    if not 8 <= bits_stored <= 16:
        raise ValueError(f"bits_stored must be in 8..16 for a 16-bit PNG, got {bits_stored}.")
    values = _stored_values(pixels, bits_stored, monochrome1=False).astype(np.uint32)
    shift = 16 - bits_stored
    scaled = ((values << shift) | (values >> (bits_stored - shift))).astype(">u2")
    with open(path, "wb") as file:
        file.write(_png_bytes(scaled))


def _png_bytes(scaled: np.ndarray) -> bytes:
    """Encode 16-bit greyscale as PNG (ISO/IEC 15948): IHDR, one IDAT, IEND.

    Written here rather than with Pillow, which takes about five times as long on 16-bit
    radiographs (it tries every filter on every row): the *Up* filter on all rows and
    Huffman-only deflate give smaller files for these noisy images, at zlib's full speed.
    """
    rows = scaled.view(np.uint8).reshape(scaled.shape[0], -1)
    filtered = rows.copy()
    filtered[1:] -= rows[:-1]  # Up: each byte minus the one above it, modulo 256
    scanlines = np.hstack([np.full((rows.shape[0], 1), 2, np.uint8), filtered])  # 2 = Up
    deflate = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_HUFFMAN_ONLY)
    data = deflate.compress(scanlines.tobytes()) + deflate.flush()
    height, width = scaled.shape
    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)  # 16-bit grey
    chunks = [(b"IHDR", header), (b"IDAT", data), (b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(_png_chunk(kind, body) for kind, body in chunks)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _stored_values(pixels: np.ndarray, bits_stored: int, monochrome1: bool) -> np.ndarray:
    """Check the pixels fit in `bits_stored` bits; invert them for MONOCHROME1."""
    pixels = np.asarray(pixels)
    if pixels.ndim != 2:
        raise ValueError(f"Expected a 2-D greyscale image, got shape {pixels.shape}.")
    if not 1 <= bits_stored <= 16:
        raise ValueError(f"bits_stored must be in 1..16, got {bits_stored}.")
    top = (1 << bits_stored) - 1
    if pixels.dtype.kind not in "ui" or pixels.size == 0:
        raise ValueError(f"Expected integer pixels, got dtype {pixels.dtype}.")
    if int(pixels.min()) < 0 or int(pixels.max()) > top:
        raise ValueError(
            f"Pixel values must lie in 0..{top} for {bits_stored} bits stored; got "
            f"{int(pixels.min())}..{int(pixels.max())}."
        )
    stored = pixels.astype(np.uint16)
    return top - stored if monochrome1 else stored
