"""Each patient's radiographs found on a PACS with QIDO-RS, as an image manifest.

The rule (docs/dicomweb.md, "--pacs"): for each patient of patients.csv, the PACS is asked
for the instances whose PatientID is the patient's ``subject_id`` and whose StudyDate is on
or before the index date (a DICOM date range, ``-YYYYMMDD``). Of those, the radiographs
(Modality CR or DX, `ramultimodal.terminology.dicom.SOP_CLASSES`) of a body part RA damages
(`RA_BODY_PARTS`, or no body part given) are kept, and the latest study among them is the
patient's: all its kept instances are used. An earlier study is not, as a clinician
reading the file at the index date would look at the latest films.

The query carries the patient's identifier; nothing here writes it to a message or a log,
and `_RedactPatientID` keeps the HTTP libraries' DEBUG lines (which quote request URLs)
from doing so either.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from ramultimodal.io._cohort_records import IMAGE_COLUMNS
from ramultimodal.io._dicomweb import (
    PREFETCH_THREADS,
    DICOMwebError,
    dicomweb_client,
    request_failure,
)
from ramultimodal.io._dicomweb_url import DICOMwebInstance, as_dicomweb, dicomweb_root
from ramultimodal.terminology.dicom import RA_BODY_PARTS, SOP_CLASSES

__all__ = ["find_radiographs"]

logger = logging.getLogger(__name__)

# DICOM JSON tags (PS3.18 F.2) of what the search returns.
_TAGS = {
    "study_uid": "0020000D",
    "series_uid": "0020000E",
    "sop_uid": "00080018",
    "study_date": "00080020",
    "study_time": "00080030",
    "modality": "00080060",
    "body_part": "00180015",
    "laterality": "00200062",
}
_FIELDS = ["StudyDate", "StudyTime", "Modality", "BodyPartExamined", "ImageLaterality"]


class _RedactPatientID(logging.Filter):
    """Hide the value of PatientID in a log line (a request URL's query string)."""

    _PATTERN = re.compile(r"(PatientID=)[^&\s'\"]*", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "patientid=" in message.lower():
            record.msg, record.args = self._PATTERN.sub(r"\1<hidden>", message), None
        return True


_REDACT = _RedactPatientID()
for _name in ("dicomweb_client.web", "urllib3.connectionpool"):
    if _REDACT not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_REDACT)


def _value(row: dict, field: str) -> str | None:
    values = row.get(_TAGS[field], {}).get("Value") or [None]
    value = values[0]
    return None if value in (None, "") else str(value).strip()


def _search(root: str, subject_id: str, index_date: pd.Timestamp, position: str) -> list[dict]:
    import requests  # loaded only when a PACS is searched

    client, source = dicomweb_client(root)
    tried = f"QIDO-RS {as_dicomweb(root)}/instances (the {position} patient of patients.csv)"
    try:
        return client.search_for_instances(
            search_filters={"PatientID": subject_id, "StudyDate": f"-{index_date:%Y%m%d}"},
            fields=_FIELDS,
            get_remaining=True,
        )
    except requests.RequestException as error:
        raise request_failure(tried, root, source, error) from None
    except Exception as error:
        raise DICOMwebError(
            tried,
            f"the answer is not a DICOM JSON search result ({type(error).__name__})",
            f"Check that {as_dicomweb(root)} is the server's DICOMweb root (Orthanc: /dicom-web)",
        ) from None


def _latest_study(root: str, subject_id: str, rows: list[dict]) -> list[dict]:
    """The manifest rows of the latest study's radiographs of RA's body parts."""
    found = pd.DataFrame([{field: _value(row, field) for field in _TAGS} for row in rows])
    if found.empty:
        return []
    found = found.astype("string")
    part = found["body_part"].str.upper()
    kept = found[
        found["modality"].str.upper().isin(list(SOP_CLASSES)).fillna(False)
        & (part.isna() | part.isin(list(RA_BODY_PARTS)).fillna(False))
        & found["study_date"].notna()
    ]
    if kept.empty:
        return []
    when = kept["study_date"] + kept["study_time"].fillna("").str.slice(0, 6).str.ljust(6, "0")
    latest = kept.loc[when.sort_values(kind="stable").index[-1], "study_uid"]
    chosen = kept[kept["study_uid"] == latest].sort_values(["series_uid", "sop_uid"])
    return [
        {
            "subject_id": subject_id,
            "path": DICOMwebInstance(root, row.study_uid, row.series_uid, row.sop_uid).url,
            "body_part": row.body_part,
            "laterality": row.laterality,
            "study_time": pd.to_datetime(row.study_date, format="%Y%m%d"),
        }
        for row in chosen.itertuples()
    ]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def find_radiographs(pacs: str, patients: pd.DataFrame, *, verbose: int = 0) -> pd.DataFrame:
    """Each patient's latest radiographs on or before the index date, found on a PACS.

    Parameters
    ----------
    pacs : str
        The server's DICOMweb root: ``dicomweb[s]://HOST[:PORT]/ROOT``.
    patients : DataFrame
        Indexed by ``subject_id`` (the PACS's PatientID), with ``index_date``.
    verbose : int, default 0
        A progress bar over the patients (on stderr) when > 0.

    Returns
    -------
    DataFrame
        An image manifest (`ramultimodal.io.CohortRecords.images`): ``subject_id``,
        ``path`` (``dicomweb://`` URLs), ``body_part``, ``laterality``, ``study_time``
        (the StudyDate). Patients without a radiograph have no row.

    Raises
    ------
    DICOMwebError
        When a search fails (one line: the server, which patient of patients.csv by
        position, never the identifier).

    Examples
    --------
    >>> patients = pd.DataFrame({"index_date": []}, index=pd.Index([], name="subject_id"))
    >>> find_radiographs("dicomweb://127.0.0.1:9/dicom-web", patients)
    Empty DataFrame
    Columns: [subject_id, path, body_part, laterality, study_time]
    Index: []
    """
    from tqdm.auto import tqdm

    root = dicomweb_root(pacs)
    subjects = [str(subject_id) for subject_id in patients.index]
    days = list(pd.to_datetime(patients["index_date"]))

    def one(position: int) -> list[dict]:
        subject_id = subjects[position]
        rows = _search(root, subject_id, days[position], _ordinal(position + 1))
        return _latest_study(root, subject_id, rows)

    pool = ThreadPoolExecutor(max_workers=PREFETCH_THREADS, thread_name_prefix="qido")
    try:
        found = list(
            tqdm(
                pool.map(one, range(len(subjects))),
                total=len(subjects),
                desc="QIDO-RS",
                unit="patient",
                disable=verbose <= 0,
            )
        )
    finally:
        pool.shutdown(cancel_futures=True)
    images = pd.DataFrame([row for rows in found for row in rows], columns=list(IMAGE_COLUMNS))
    logger.info(
        "QIDO-RS %s: %d radiographs of %d of the %d patients.",
        as_dicomweb(root),
        len(images),
        images["subject_id"].nunique(),
        len(subjects),
    )
    return images
