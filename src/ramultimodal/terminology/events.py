"""The events table's own codes: those of facts that no clinical code system names.

A lab or a diagnosis is coded ``"PREFIX/code"`` from its code system
(`ramultimodal.terminology.systems`). Birth, death, sex, visits, imaging studies and
questionnaire answers are coded the way MEDS writes them: ``MEDS_BIRTH`` and ``MEDS_DEATH``,
and a prefix of the project's own before the FHIR value (``GENDER/female``,
``ENCOUNTER/AMB``, ``DICOM/CR``, ``QR/haq-di-grip-2``). The readers write these codes, the
featurizer and the FHIR writer read them, and the generator makes them, all from here.
"""

from __future__ import annotations

__all__ = [
    "AMBULATORY_VISIT",
    "BIRTH",
    "DEATH",
    "ENCOUNTER_PREFIX",
    "GENDER_PREFIX",
    "IMAGING_PREFIX",
    "QUESTIONNAIRE_PREFIX",
    "encounter_code",
    "gender_code",
    "imaging_code",
    "questionnaire_code",
]

#: Birth, at the birth date (MEDS's code).
BIRTH = "MEDS_BIRTH"
#: Death, at its date (MEDS's code).
DEATH = "MEDS_DEATH"
#: Before a FHIR administrative gender (``male``, ``female``, ``other``, ``unknown``); no time.
GENDER_PREFIX = "GENDER/"
#: Before an Encounter's class code (HL7 v3 ActCode: ``AMB``, ``IMP``...), at its start.
ENCOUNTER_PREFIX = "ENCOUNTER/"
#: Before an ImagingStudy's DICOM modality (``CR``, ``DX``); its Study Instance UID is the
#: event's ``text_value``.
IMAGING_PREFIX = "DICOM/"
#: Before a QuestionnaireResponse item's ``linkId``.
QUESTIONNAIRE_PREFIX = "QR/"


def gender_code(gender: str) -> str:
    """The code of a FHIR administrative gender.

    Examples
    --------
    >>> gender_code("female")
    'GENDER/female'
    """
    return GENDER_PREFIX + gender


def encounter_code(encounter_class: str) -> str:
    """The code of an encounter of a class (HL7 v3 ActCode), when it has no type coding.

    Examples
    --------
    >>> encounter_code("AMB")
    'ENCOUNTER/AMB'
    """
    return ENCOUNTER_PREFIX + encounter_class


def imaging_code(modality: str) -> str:
    """The code of an imaging study of a DICOM modality.

    Examples
    --------
    >>> imaging_code("CR")
    'DICOM/CR'
    """
    return IMAGING_PREFIX + modality


def questionnaire_code(link_id: str) -> str:
    """The code of an answer to a questionnaire item, from the item's ``linkId``.

    Examples
    --------
    >>> questionnaire_code("haq-di-grip-2")
    'QR/haq-di-grip-2'
    """
    return QUESTIONNAIRE_PREFIX + link_id


#: An ambulatory visit (an outpatient clinic's), the encounter the generator writes.
AMBULATORY_VISIT = encounter_code("AMB")
