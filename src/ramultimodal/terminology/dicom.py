"""DICOM terminology of radiographs: SOP classes, body parts and laterality.

The UIDs are from DICOM PS3.4 (Storage Service Class); the SNOMED CT body structures are
those FHIR ImagingStudy's ``series.bodySite`` and ``series.laterality`` use.
"""

from __future__ import annotations

__all__ = ["BODY_SITES", "LATERALITIES", "RA_BODY_PARTS", "SOP_CLASSES"]

#: Storage SOP Class UID of each radiograph modality: Computed Radiography Image Storage
#: and Digital X-Ray Image Storage - For Presentation.
SOP_CLASSES: dict[str, str] = {
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
}
#: DICOM Body Part Examined -> SNOMED CT body structure (code, display).
BODY_SITES: dict[str, tuple[str, str]] = {
    "HAND": ("85562004", "Hand structure"),
    "FOOT": ("56459004", "Foot structure"),
    "WRIST": ("74670003", "Wrist joint structure"),
}
#: DICOM Image Laterality -> SNOMED CT (code, display).
LATERALITIES: dict[str, tuple[str, str]] = {"L": ("7771000", "Left"), "R": ("24028007", "Right")}
#: The body parts (DICOM Body Part Examined) whose radiographs show RA's damage: the
#: hands and feet that the Sharp/van der Heijde score reads.
RA_BODY_PARTS: tuple[str, ...] = ("HAND", "FOOT")
