"""The events source of a cohort folder: which file or folder holds its events, and read it.

A cohort folder has one events source among `EVENT_SOURCES` (a long CSV, a wide CSV, FHIR
NDJSON or Bundles, a MEDS parquet folder); a CSV's reader options may lie beside it as
JSON, checked here before any reader sees them. `ramultimodal.io._cohort` reads the rest of
the folder.
"""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ramultimodal._errors import InputError
from ramultimodal._text import one_line
from ramultimodal.io._file_kind import file_kind

__all__ = [
    "EVENT_SOURCES",
    "DatasetError",
    "Errors",
    "Source",
    "check_regular",
    "events_source",
    "layout_help",
    "read_cohort_events",
    "read_events",
]

Source = Literal["auto", "csv", "wide-csv", "fhir-ndjson", "fhir-bundles", "meds", "omop"]
Errors = Literal["raise", "skip"]

#: Where each events source lives inside a cohort directory, in the order "auto" tries them.
#: A CSV source may have its reader's options beside it, as JSON: ``events.json`` for
#: `read_events_csv` (``columns``, ``time_format``, ``sep``, ``decimal``, ``encoding``),
#: ``wide.json`` for `read_wide_csv` (``mapping`` is required there). ``meds`` is a MEDS
#: 0.4 folder (`read_meds`), as ``ramultimodal convert --to meds`` writes it. ``omop`` is an
#: OMOP CDM DuckDB file (`read_omop`); a PostgreSQL warehouse is given by URL instead
#: (``read_cohort(..., omop=URL)``, ``--omop URL``).
EVENT_SOURCES: dict[str, str] = {
    "csv": "events.csv",
    "wide-csv": "wide.csv",
    "fhir-ndjson": "fhir/ndjson",
    "fhir-bundles": "fhir/bundles",
    "meds": "meds",
    "omop": "omop.duckdb",
}


class DatasetError(InputError):
    """A cohort directory that does not have the expected layout (names what is missing)."""


# The JSON types of the CSV readers' options that a cohort folder may give.
_OPTION_TYPES: dict[str, tuple[type, ...]] = {
    "sep": (str,), "decimal": (str,), "encoding": (str,), "time_format": (str,),
    "subject_column": (str,), "time_column": (str,), "columns": (dict,), "mapping": (dict,),
    "units": (dict,), "na_values": (list,),
}  # fmt: skip


def layout_help(directory: Path) -> str:
    return (
        f"{directory} needs patients.csv (subject_id, index_date), one events source "
        "(events.csv, fhir/ndjson/, fhir/bundles/, meds/ or omop.duckdb, or --omop URL), and "
        "optionally images.csv and "
        "labels.csv; see docs/data-model.md, 'A cohort directory'."
    )


def read_cohort_events(
    directory: str | os.PathLike,
    source: Source = "auto",
    *,
    errors: Errors = "raise",
    verbose: int = 0,
) -> pd.DataFrame:
    """Read the events table of a cohort directory from CSV, FHIR or MEDS.

    Parameters
    ----------
    directory : path
        A cohort directory.
    source : {"auto", "csv", "wide-csv", "fhir-ndjson", "fhir-bundles", "meds", "omop"}, \
default "auto"
        Where to read the events from; "auto" takes the first present of ``events.csv``,
        ``wide.csv``, ``fhir/ndjson/``, ``fhir/bundles/``, ``meds/``, ``omop.duckdb``. A
        CSV's reader options are read from the JSON beside it (`EVENT_SOURCES`).
    errors : {"raise", "skip"}, default "raise"
        Passed to the reader: raise on the first bad row or resource, or skip and count.
        A MEDS folder is typed parquet: a bad shard is an error either way.
    verbose : int, default 0
        Show a progress bar over the FHIR files (on stderr) when > 0; a CSV is read in
        one go.

    Returns
    -------
    DataFrame
        The events table.
    """
    name, path = events_source(Path(directory), source)
    return read_events(name, path, errors, verbose)


def events_source(directory: Path, source: str) -> tuple[str, Path]:
    """The events source of the directory to read: its name in `EVENT_SOURCES`, its path."""
    if source != "auto" and source not in EVENT_SOURCES:
        raise DatasetError(
            f"Unknown events source {source!r}; choose one of auto, {', '.join(EVENT_SOURCES)}."
        )
    candidates = EVENT_SOURCES if source == "auto" else {source: EVENT_SOURCES[source]}
    for name, relative in candidates.items():
        path = directory / relative
        if path.exists() or path.is_symlink():
            return name, path
    raise DatasetError(
        f"No events found ({', '.join(candidates.values())}). " + layout_help(directory)
    )


def read_events(name: str, path: Path, errors: Errors, verbose: int) -> pd.DataFrame:
    if name == "meds":
        from ramultimodal.io._meds_read import read_meds

        return read_meds(path)
    if name == "omop":
        from ramultimodal.io._omop_read import read_omop

        return read_omop(path, errors=errors)
    from ramultimodal.io._csv_long import read_events_csv
    from ramultimodal.io._csv_wide import read_wide_csv
    from ramultimodal.io._fhir import read_fhir

    readers = {"csv": read_events_csv, "wide-csv": read_wide_csv}
    if name not in readers:
        return read_fhir(path, errors=errors, verbose=verbose)
    check_regular(path)
    options = _reader_options(path.with_suffix(".json"), readers[name], name)
    return readers[name](path, errors=errors, **options)


def _reader_options(path: Path, reader: Any, source: str) -> dict[str, Any]:
    """The keyword arguments of a CSV reader from the JSON beside its file, checked."""
    import inspect

    # Without a time a wide CSV's facts cannot be placed before the index date: none of them
    # would pass the leakage guard.
    required = {"wide-csv": {"mapping", "time_column"}}.get(source, set())
    if not path.exists():
        if required:
            raise DatasetError(
                f"{path} not found: a wide CSV needs its mapping of columns to codes "
                '(e.g. {"mapping": {"crp_mg_l": "LOINC/1988-5"}, "subject_column": "id"}); '
                "see docs/data-model.md, 'A cohort directory'."
            )
        return {}
    check_regular(path)
    try:
        options = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise DatasetError(f"{path} is not valid JSON ({one_line(error, 120)}).") from None
    allowed = set(inspect.signature(reader).parameters) - {"path", "errors"}
    if not isinstance(options, dict) or set(options) - allowed or required - set(options):
        got = sorted(options) if isinstance(options, dict) else type(options).__name__
        needed = f" ({', '.join(sorted(required))} required)" if required else ""
        raise DatasetError(
            f"{path}: the options of {reader.__name__} are a JSON object with keys among "
            f"{sorted(allowed)}{needed}; got {got}."
        )
    for key, value in options.items():
        kinds = _OPTION_TYPES.get(key, (str,))
        plain = (
            isinstance(value, kinds)
            and (
                not isinstance(value, dict)
                or all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
            )
            and (not isinstance(value, list) or all(isinstance(v, str) for v in value))
        )
        if not plain:
            kind = (
                "an object of names"
                if dict in kinds
                else "a list of words"
                if list in kinds
                else "a string"
            )
            raise DatasetError(f"{path}: {key} must be {kind}.")
    try:  # what the readers would refuse with a ValueError: said here, with the file
        codecs.lookup(options.get("encoding", "utf-8"))
    except LookupError:
        raise DatasetError(
            f"{path}: encoding names no Python codec (cp1252, latin-1...)."
        ) from None
    if options.get("decimal", ".") not in (".", ",") or len(options.get("sep", ",")) != 1:
        raise DatasetError(f"{path}: decimal is '.' or ',' and sep one character.")
    return options


def check_regular(path: Path) -> None:
    """Refuse a table that is a folder, a pipe or a device: reading it would fail or hang."""
    if file_kind(path) == "special":
        raise DatasetError(
            f"{path} is not a regular file (a folder, a pipe or a device), which cannot be read."
        )
