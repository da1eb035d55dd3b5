"""Read FHIR R4 files (Bundles, single resources, Bulk Data NDJSON) into the events table.

The fast path parses with orjson and pulls out only the fields the rules of
docs/data-model.md name (`ramultimodal.io._fhir_resources`), appending to one list per
column (`ramultimodal.io._fhir_columns`), one NDJSON line or one Bundle at a time: memory
holds the events, never the JSON. Validation against the ``fhir.resources`` R4B models is
about 25x slower than parsing (../shared/LEADS.md), so it runs only when asked.

Every input is either read by the rules, or refused with one line that names the file,
NDJSON line or Bundle entry, and what to do: malformed JSON shapes, corrupt gzip files and
conflicting versions of a resource included. Resources whose status says that the fact did
not happen, and duplicates of a resource, are dropped and counted (`ReadReport.dropped`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ramultimodal.io._fhir_files import fhir_files, public_name
from ramultimodal.io._fhir_problems import FHIRReadError, ReadProblem
from ramultimodal.io._fhir_reader import FHIRReader
from ramultimodal.io._read_report import check_errors

__all__ = ["read_fhir"]


def read_fhir(
    source: str | os.PathLike[str] | Iterable[Mapping[str, Any]] | Mapping[str, Any],
    *,
    validate: bool = False,
    errors: Literal["raise", "skip"] = "raise",
    verbose: int = 0,
) -> pd.DataFrame:
    """Read FHIR R4 resources into the events table.

    Follows docs/data-model.md, "From FHIR R4 resources to events": Patient, Observation
    (values in their concept's canonical unit, components), Condition, Procedure,
    Encounter, DiagnosticReport, MedicationRequest/Statement (code or referenced
    Medication), QuestionnaireResponse (``QR/<linkId>``) and ImagingStudy
    (``DICOM/<modality>``). Other resource types are counted in the report as ignored.

    A resource whose status says that its fact did not happen or was an error
    (``entered-in-error``, ``cancelled``, ``not-done``, a ``refuted`` Condition...: see
    `ramultimodal.io._fhir_resources.DROPPED_STATUSES`) gives no events, and is counted in
    the report's ``dropped``, whatever `errors`. So is a second version of a resource (the
    same type and id) that gives the same events, or one older (``meta.lastUpdated``) than
    another version; versions with other events whose ``meta.lastUpdated`` does not tell
    which is the newer are a problem, as below.

    Parameters
    ----------
    source : path, mapping or iterable of mappings
        A file (a Bundle of any type, a single resource, or NDJSON: ``.ndjson`` or
        ``.jsonl``), each optionally gzipped (``.gz``); a directory, read recursively
        (``*.json``, ``*.ndjson``, ``*.jsonl``, and their ``.gz``, in any case); a resource
        as a dict; or an iterable of them.
    validate : bool, default False
        Also validate each resource with its ``fhir.resources.R4B`` model (about 25x
        slower). Every failure is reported with file, line or entry, and resource id.
    errors : {"raise", "skip"}, default "raise"
        On a malformed line, a non-FHIR document, a field of another JSON type than FHIR's
        ("malformed resource"), a resource without a subject, an unknown unit, an
        unresolved reference, conflicting versions of a resource (all of them are skipped)
        or a corrupt file (the rest of it): raise `FHIRReadError` at once, or skip and
        count it in the report. Validation failures are all collected before raising.
    verbose : int, default 0
        Show a progress bar over files (or resources of an iterable) when > 0.

    Returns
    -------
    DataFrame
        The events table (`ramultimodal.io.EVENT_COLUMNS`); ``events.attrs["read_report"]``
        holds a `ReadReport`: resources read and ignored by type, dropped and skipped by
        reason.

    Raises
    ------
    FHIRReadError
        In one line, naming the file, line (or Bundle entry) and resource (a Patient by
        its type alone), and what to do; also for a directory without FHIR files.

    Examples
    --------
    >>> events = read_fhir([
    ...     {"resourceType": "Patient", "id": "p1", "gender": "female",
    ...      "birthDate": "1960-04"},
    ...     {"resourceType": "Observation", "id": "o1", "status": "final",
    ...      "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2020-01-02",
    ...      "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
    ...      "valueQuantity": {"value": 1.2, "system": "http://unitsofmeasure.org",
    ...                        "code": "mg/dL"}},
    ... ])
    >>> events[["time", "code", "numeric_value", "unit"]]
            time           code  numeric_value  unit
    0        NaT  GENDER/female            NaN  <NA>
    1 1960-04-30     MEDS_BIRTH            NaN  <NA>
    2 2020-01-02   LOINC/1988-5           12.0  mg/L
    >>> print(events.attrs["read_report"].resources)
    Counter({'Patient': 1, 'Observation': 1})
    """
    check_errors(errors)
    from tqdm.auto import tqdm

    reader = FHIRReader(validate, errors)
    if isinstance(source, (str, os.PathLike)):
        named, ignored = _named_files(source)
        reader.report.files_ignored = ignored.total()
        folder = Path(source).is_dir()  # a bar over the files of a folder only
        for file, name in tqdm(
            named, disable=verbose <= 0 or not folder, unit="file", desc="read_fhir"
        ):
            reader.path(file, name)
    else:
        items: Iterator[Any] = iter([source] if isinstance(source, Mapping) else source)
        reader.start_file(None, "<input>")
        for number, item in enumerate(
            tqdm(items, disable=verbose <= 0, unit="resource", desc="read_fhir"), 1
        ):
            reader.cursor.file, reader.cursor.line = "<input>", number
            reader.resource(dict(item) if isinstance(item, Mapping) else item)
    return reader.events()


def _named_files(source: str | os.PathLike[str]) -> tuple[list[tuple[Path, str]], Counter[str]]:
    """The FHIR files of a file or folder (read recursively, in name order), each with its
    name in messages (`public_name`), and the other files of the folder by suffix.

    Raises
    ------
    FHIRReadError
        For a folder without FHIR files, or a path that is not a regular file.
    FileNotFoundError
        For a path where nothing is.
    """
    path = Path(source)
    if path.is_dir():
        files, ignored = fhir_files(path)
        if not files:
            raise _no_files(path, ignored)
        named = [
            (file, public_name(file, path, number, len(files)))
            for number, file in enumerate(files, 1)
        ]
        return named, ignored
    if path.is_file():
        return [(path, path.name)], Counter()
    if path.exists():
        raise FHIRReadError(
            f"{path} is not a regular file (a device or a pipe), which cannot be read.", []
        )
    raise FileNotFoundError(f"No FHIR file or directory at {path}")


def _no_files(directory: Path, ignored: Counter[str]) -> FHIRReadError:
    total = ignored.total()
    found = (
        f"it holds {total} file{'s' if total > 1 else ''}: "
        + ", ".join(f"{suffix} {n}" for suffix, n in ignored.most_common())
        if ignored
        else "it is empty"
    )
    message = (
        f"no .json/.ndjson files in {directory} ({found}). Give read_fhir a FHIR file, or a "
        "folder of them: .json (a Bundle or a resource), .ndjson or .jsonl (a resource per "
        "line), each optionally .gz."
    )
    return FHIRReadError(
        message, [ReadProblem(str(directory), None, None, None, "no FHIR files", message)]
    )
