"""A cohort's records (patients, events, radiographs, labels), read from a cohort folder.

`read_cohort` returns them as `CohortRecords` (`ramultimodal.io._cohort_records`). The
folder layout is the one `ramultimodal.synthetic.write_cohort` writes (docs/data-model.md,
"A cohort directory"), so a user brings their own data by writing the same few files.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ramultimodal._text import one_line
from ramultimodal.io._cohort_events import (
    EVENT_SOURCES,
    DatasetError,
    Errors,
    Source,
    check_regular,
    events_source,
    layout_help,
    read_cohort_events,
    read_events,
)
from ramultimodal.io._cohort_records import IMAGE_COLUMNS, CohortRecords
from ramultimodal.io._csv_rows import Rows, parse_strings, ragged_message
from ramultimodal.io._dicomweb import prefetch_instances
from ramultimodal.io._dicomweb_url import (
    DICOMwebAddressError,
    DICOMwebInstance,
    has_credentials,
    is_dicomweb_url,
)
from ramultimodal.io._events import parse_times
from ramultimodal.io._file_kind import file_kind
from ramultimodal.io._horizon import CENSORED, Censored, HorizonError, horizon_days, horizon_labels
from ramultimodal.io._read_report import check_errors, left_out, said_counts

__all__ = [
    "EVENT_SOURCES",
    "DatasetError",
    "HorizonError",
    "read_cohort",
    "read_cohort_events",
]

logger = logging.getLogger(__name__)

# A day and a month in either order: 12/03/2022, 3.12.22, 12-03-2022 09:30.
_DAY_MONTH = re.compile(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}(?:[ T].*)?")

# Below this share of patients with any event, the ids of the events and of patients.csv
# most likely do not match (another identifier, lost zeros): an error, not a model.
_MIN_SHARE_WITH_EVENTS = 0.5


class _Table(Rows):
    """A CSV of the cohort folder: its rows as text, each with its line, and the bad ones.

    The rows are kept as the CSV readers keep theirs (`Rows`: blank lines and empty rows
    are no rows, and every problem names the line of the file), in the cohort's words: the
    whole path, and what to do.
    """

    def __init__(self, path: Path, required: tuple[str, ...], directory: Path, errors: Errors):
        check_regular(path)
        try:
            rows, lines, ragged, too_long = parse_strings(path, ",", "utf-8-sig")
        except FileNotFoundError:
            raise DatasetError(f"{path} not found. " + layout_help(directory)) from None
        except UnicodeDecodeError:
            raise DatasetError(
                f"{path} is not UTF-8 text (an export in Latin-1 or Windows-1252?): save it as "
                "UTF-8."
            ) from None
        except pd.errors.EmptyDataError:
            raise DatasetError(f"{path} is empty. " + layout_help(directory)) from None
        except (OSError, pd.errors.ParserError) as error:
            raise DatasetError(f"Cannot read {path}: {one_line(error)}.") from None
        # A line (or row) of only spaces is blank like an empty one: pandas reads the
        # spaces as a cell.
        blank = rows.apply(lambda column: column.str.strip().eq("")).where(rows.notna(), True)
        blank = blank.all(axis=1).to_numpy(dtype=bool)
        super().__init__(path, errors, lines[~blank])
        self.rows = rows[~blank].reset_index(drop=True)
        # A line with more fields than the header: on line 2 it shifts every column, later
        # it holds a comma meant inside a value. Refused whatever errors, as a file pandas
        # cannot split is (an unclosed quote): the rest of it may be read wrong.
        if too_long:
            ragged = np.union1d([2], ragged)
        self.bad_lines(ragged, "ragged row", ragged_message(","), skippable=False)
        missing = [column for column in required if column not in self.rows.columns]
        if missing:
            raise DatasetError(f"{path} lacks the columns {missing}. " + layout_help(directory))

    def error(self, lines: np.ndarray, message: str, *, skippable: bool = True) -> DatasetError:
        more = f" ({len(lines) - 1} more such lines)" if len(lines) > 1 else ""
        hint = " Fix the file, or pass errors='skip' (--errors skip)." if skippable else ""
        return DatasetError(f"{self.path}, line {lines[0]}: {message}{more}.{hint}")


def _index_dates(table: _Table, date_format: str | None) -> pd.Series:
    """The index dates of patients.csv by the date policy (see `parse_times`)."""
    text = table.rows["index_date"].astype("string").str.strip()
    table.bad(
        text.isna().to_numpy(),
        "no index date",
        "index_date is empty; every patient needs one (the day the prediction is made)",
    )
    if date_format is None:
        day_month = text.str.fullmatch(_DAY_MONTH).fillna(False).to_numpy(dtype=bool)
        table.bad(
            day_month,
            "ambiguous date",
            "index_date is written day/month or month/day (like 12/03/2022), which cannot "
            "be told apart; say which with date_format='%d/%m/%Y' or '%m/%d/%Y' "
            "(--date-format on the command line)",
            skippable=False,
        )
        partial = text.str.fullmatch(r"\d{4}(-\d{1,2})?").fillna(False).to_numpy(dtype=bool)
        table.bad(partial, "partial date", "index_date is a year or a month, not a day")
    try:
        dates = parse_times(text, time_format=date_format)
    except ValueError as error:
        raise DatasetError(f"{table.path}: date_format (--date-format): {error}.") from None
    form = "an ISO 8601 date (YYYY-MM-DD)" if date_format is None else repr(date_format)
    table.bad(
        (dates.isna() & text.notna()).to_numpy(),
        "bad index date",
        f"index_date is not {form}; pass date_format= (--date-format) for another format",
    )
    return dates.dt.normalize()


def _check_events_match(patients: pd.DataFrame, events: pd.DataFrame, directory: Path) -> None:
    """Refuse events that match too few patients; warn of the patients they do not cover."""
    event_ids = pd.Index(events["subject_id"].astype(str).unique())
    covered = patients.index.astype(str).isin(event_ids)
    n, found = len(patients), int(covered.sum())
    if n and found < _MIN_SHARE_WITH_EVENTS * n:
        others = len(event_ids.difference(patients.index.astype(str)))
        raise DatasetError(
            f"{directory}: only {found} of the {n} patients of patients.csv have any event, "
            f"and the events hold {others} other subject_ids. Do the identifiers of "
            "patients.csv and of the export match (the same kind of id, the same leading "
            "zeros)?"
        )
    if found < n:
        warnings.warn(
            f"{n - found} of the {n} patients of {directory / 'patients.csv'} have no event: "
            "they have no record and no PROs (NaN for those modalities).",
            UserWarning,
            stacklevel=3,
        )


def _images(table: _Table, directory: Path, patients: pd.Index, verbose: int) -> pd.DataFrame:
    """The image manifest: paths resolved and checked, study times by the date policy."""
    from tqdm.auto import tqdm

    images = table.rows
    table.bad(
        (~images["subject_id"].isin(patients)).to_numpy() & images["subject_id"].notna().to_numpy(),
        "unknown patient",
        "an image of a patient who is not in patients.csv",
    )
    table.bad(images["subject_id"].isna().to_numpy(), "no subject", "the subject_id is empty")
    table.bad(images["path"].isna().to_numpy(), "no path", "the path is empty")
    urls = np.array([is_dicomweb_url(path) for path in images["path"]], dtype=bool)
    _check_urls(table, images["path"], urls)
    paths = [
        directory / path if isinstance(path, str) and not url else None
        for path, url in zip(images["path"], urls, strict=True)
    ]
    # One stat per file, which takes its time on a network share of many radiographs.
    checked = tqdm(paths, desc="images", unit="image", leave=False, disable=verbose <= 0)
    kinds = [file_kind(path) for path in checked]
    table.bad(
        np.array([kind == "missing" for kind in kinds], dtype=bool),
        "image not found",
        "the image file does not exist",
    )
    table.bad(
        np.array([kind == "special" for kind in kinds], dtype=bool),
        "not a file",
        "the path is not a regular file (a folder, a device or a pipe), which cannot be read",
    )
    # Only readable files are resolved: a name with a NUL byte or a loop of links would
    # raise here, before errors="skip" has dropped its row.
    images = images.assign(
        path=[
            url.strip() if is_url else str(path.resolve()) if path and kind == "file" else None
            for url, is_url, path, kind in zip(images["path"], urls, paths, kinds, strict=True)
        ]
    )
    if "study_time" in images:
        study = parse_times(images["study_time"])
        table.bad(
            (study.isna() & images["study_time"].notna()).to_numpy(),
            "bad study time",
            "study_time is not an ISO 8601 date or time",
        )
        images["study_time"] = study
    images = images[table.keep]
    return images.reindex(columns=[*IMAGE_COLUMNS, *images.columns.difference(IMAGE_COLUMNS)])


def _check_urls(table: _Table, paths: pd.Series, urls: np.ndarray) -> None:
    """Refuse the ``dicomweb://`` paths that name no instance, or hold credentials."""
    with_credentials = np.zeros(len(paths), dtype=bool)
    malformed = np.zeros(len(paths), dtype=bool)
    for row in np.flatnonzero(urls):
        with_credentials[row] = has_credentials(paths.iloc[row])
        try:
            DICOMwebInstance.parse(paths.iloc[row])
        except DICOMwebAddressError:
            malformed[row] = not with_credentials[row]
    table.bad(
        with_credentials,
        "credentials in a URL",
        "the DICOMweb URL holds credentials (user@ or user:password@), which must not live "
        "in a cohort folder: remove them and set RAMULTIMODAL_DICOMWEB_USER and "
        "RAMULTIMODAL_DICOMWEB_PASSWORD (or RAMULTIMODAL_DICOMWEB_TOKEN) or use ~/.netrc",
        skippable=False,
    )
    table.bad(
        malformed,
        "bad DICOMweb URL",
        "the path is not dicomweb[s]://HOST[:PORT]/ROOT/studies/<Study UID>/series/"
        "<Series UID>/instances/<SOP Instance UID>",
    )


def _radiographs_on_pacs(
    directory: Path, pacs: str, patients: pd.DataFrame, verbose: int
) -> pd.DataFrame:
    """The image manifest from a QIDO-RS search per patient (instead of images.csv)."""
    from ramultimodal.io._dicomweb_qido import find_radiographs

    if (directory / "images.csv").exists():
        raise DatasetError(
            f"{directory} has an images.csv and a PACS was given (pacs=, --pacs): use one. "
            "Move images.csv away to find the radiographs on the PACS, or drop the PACS."
        )
    return find_radiographs(pacs, patients, verbose=verbose)


def _labels(table: _Table, patients: pd.Index) -> tuple[pd.Series, pd.DataFrame | None]:
    """labels.csv's ``ra`` (0 or 1) for every patient, in the order of `patients`, and its
    ``time_to_ra_days`` and ``event`` when it has them (else None)."""
    rows = table.rows
    table.bad(
        rows["subject_id"].duplicated().to_numpy(),
        "duplicate label",
        "a second label for a subject_id; give each patient one",
        skippable=False,
    )
    values = rows["ra"].astype("string").str.strip().str.lower()
    known = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}
    table.bad(
        (~values.isin(list(known)) | values.isna()).to_numpy(),
        "bad label",
        "ra must be 0 or 1 (1: RA diagnosed within 12 months of the index date)",
    )
    follow_up = [c for c in ("time_to_ra_days", "event") if c in rows.columns]
    if len(follow_up) == 1:
        raise DatasetError(
            f"{table.path} has {follow_up[0]} without "
            f"{({'time_to_ra_days', 'event'} - set(follow_up)).pop()}: give both (days from "
            "the index date to RA or to the end of follow-up, and 1 for RA then, 0 censored)."
        )
    if follow_up:
        # Both cells empty: this patient's follow-up is unknown (refused only at a horizon).
        text = rows["time_to_ra_days"].astype("string").str.strip()
        event = rows["event"].astype("string").str.strip().str.lower()
        empty = (text.isna() | text.eq("")) & (event.isna() | event.eq(""))
        days = pd.to_numeric(text, "coerce")
        table.bad(
            (~empty & (days.isna() | (days <= 0) | (days % 1 != 0))).to_numpy(dtype=bool),
            "bad time_to_ra_days",
            "time_to_ra_days must be a whole number of days after the index date (1 or more)",
        )
        table.bad(
            (~empty & (~event.isin(list(known)) | event.isna())).to_numpy(dtype=bool),
            "bad event",
            "event must be 0 (censored) or 1 (RA diagnosed at time_to_ra_days)",
        )
        rows = rows.assign(time_to_ra_days=days.where(~empty), event=event.map(known))
    labelled = rows.assign(ra=values.map(known))[table.keep].set_index("subject_id")
    unknown = labelled.index.difference(patients)
    if len(unknown):
        warnings.warn(
            f"{table.path} labels {len(unknown)} subject_ids that are not in patients.csv "
            "(or were skipped there); they are not used.",
            UserWarning,
            stacklevel=3,
        )
    missing = patients.difference(labelled.index)
    if len(missing) and table.errors == "raise":
        raise DatasetError(
            f"{table.path} has no label for {len(missing)} of the patients in patients.csv."
        )
    if len(missing):
        table.report.skipped["patient without a label"] += len(missing)
    kept = patients.intersection(labelled.index, sort=False)
    times = None
    if follow_up:
        times = labelled.loc[kept, ["time_to_ra_days", "event"]].astype("Int64")
    return labelled.loc[kept, "ra"].astype(int).rename("ra"), times


def _patients(
    directory: Path, date_format: str | None, errors: Errors
) -> tuple[pd.DataFrame, Counter]:
    """patients.csv: the patients by subject_id with their index dates, and what was skipped."""
    table = _Table(directory / "patients.csv", ("subject_id", "index_date"), directory, errors)
    ids = table.rows["subject_id"]
    table.bad(ids.isna().to_numpy(), "no subject", "the subject_id is empty")
    table.bad(
        (ids.duplicated() & ids.notna()).to_numpy(),
        "duplicate patient",
        "a subject_id listed a second time; give each patient one line",
        skippable=False,
    )
    index_dates = _index_dates(table, date_format)
    patients = table.rows.assign(index_date=index_dates)[table.keep].set_index("subject_id")
    skipped = Counter({f"patients.csv: {why}": n for why, n in table.report.skipped.items()})
    return patients, skipped


def read_cohort(
    directory: str | os.PathLike,
    *,
    source: Source = "auto",
    date_format: str | None = None,
    errors: Errors = "raise",
    pacs: str | None = None,
    horizon: str | int | None = None,
    censored: Censored = "exclude",
    verbose: int = 0,
    omop: Any = None,
    omop_schema: str | None = None,
    omop_cohort_sql: str | os.PathLike | None = None,
    omop_codes: Iterable[str] | None = None,
) -> CohortRecords:
    """Read a cohort directory: patients and index dates, events, radiographs, labels.

    Every file is read right or refused with one `DatasetError` line (or the reader's
    own error) that names the file and line and what to do; with ``errors="skip"`` the
    rows that cannot be read are skipped and counted in a warning (their patients left
    out, for a bad index date or label).

    Parameters
    ----------
    directory : path
        A cohort directory: ``patients.csv`` (``subject_id``, ``index_date``), an events
        source (``events.csv``, ``fhir/ndjson/``, ``fhir/bundles/`` or ``meds/``), and
        optionally ``images.csv`` (``subject_id``, ``path`` relative to the directory,
        ``body_part``, ``laterality``, ``study_time``; a path may also be a
        ``dicomweb://`` URL of an instance on a PACS, docs/dicomweb.md) and ``labels.csv``
        (``subject_id``, ``ra``: 0 or 1).
    source : {"auto", "csv", "wide-csv", "fhir-ndjson", "fhir-bundles", "meds", "omop"}, \
default "auto"
        Which events source to read (see `read_cohort_events`); ``"omop"`` reads the
        folder's ``omop.duckdb``, or the database of `omop`, with `read_omop`: only each
        patient's facts up to the index day (docs/omop.md).
    date_format : str, optional
        ``strftime`` format of the index dates (``"%d/%m/%Y"``); ISO 8601 by default. A
        column written day/month or month/day is refused without it: both readings are
        valid dates, and every leakage cut moves with the choice.
    errors : {"raise", "skip"}, default "raise"
        Raise on the first row or resource that cannot be read, or skip and count them.
        A most-patients-without-events cohort (ids that do not match) is an error either
        way.
    pacs : str, optional
        A DICOMweb server, ``dicomweb[s]://HOST[:PORT]/ROOT``, to find each patient's
        radiographs on instead of ``images.csv`` (which must then be absent): a QIDO-RS
        search by PatientID (the ``subject_id``) for the latest CR or DX study on or before
        the index date (docs/dicomweb.md). Either way, every ``dicomweb://`` instance is
        fetched into the DICOMweb cache before this returns (4 at a time), so that a
        server that cannot be read is one error here, not one in the middle of training.
    horizon : {"6m", "12m", "24m"} or int, optional
        Label each patient "RA within this horizon" from labels.csv's ``time_to_ra_days``
        and ``event`` (`ramultimodal.io.horizon_labels`) instead of its ``ra`` column.
        None: ``ra`` as written (RA within 12 months).
    censored : {"exclude", "negative"}, default "exclude"
        With a horizon, what a patient censored before it becomes: left out (their RA
        status there is unknown; the count is logged), or counted free of RA (biased
        towards 0, see `ramultimodal.io.horizon_labels`).
    verbose : int, default 0
        Show progress bars (on stderr) when > 0: over the files of the directory, and
        below it over the FHIR files and the radiographs checked. What was read is logged
        at INFO level (`logging`, under the ``ramultimodal`` logger) in counts, whatever
        `verbose`.
    omop : str, path, Engine or connection, optional
        An OMOP CDM database to read the events from (any form `read_omop` takes:
        ``postgresql://USER@HOST:5432/DB``, a DuckDB file...); implies ``source="omop"``.
    omop_schema : str, optional
        The schema of its CDM tables.
    omop_cohort_sql : path, optional
        A file holding a SELECT, run on the database, that gives the patients instead of
        ``patients.csv``: ``person_source_value`` (or ``person_id``), ``index_date`` and
        optionally ``label`` (1/0; else ``labels.csv`` when present). See `ra_label_sql`.
    omop_codes : iterable of str, optional
        Read only these codes from the database (`EHRFeaturizer.required_codes`); None:
        every code.

    Returns
    -------
    CohortRecords
        The patients in the order of ``patients.csv``; labels when ``labels.csv`` exists.

    Raises
    ------
    DatasetError
        When the layout or a row is wrong, naming the file, line and what to do.
    HorizonError
        A `DatasetError`: a horizon asked of a labels.csv without ``time_to_ra_days`` and
        ``event``, or a horizon that is not one.

    Examples
    --------
    >>> from pathlib import Path
    >>> import ramultimodal
    >>> folder = Path(ramultimodal.__file__).parents[2] / "synthetic_data" / "cohort"
    >>> read_cohort(folder, horizon="12m")  # doctest: +SKIP
    CohortRecords(50 patients, 3916 events, 42 images, labels)
    """
    from tqdm.auto import tqdm

    check_errors(errors)
    if horizon is not None:
        horizon_days(horizon)  # a wrong horizon is refused before anything is read
    if censored not in CENSORED:
        raise HorizonError(f"censored={censored!r}; choose one of {list(CENSORED)}.")
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"{directory} is not a directory. " + layout_help(directory))
    if omop is not None and source not in ("auto", "omop"):
        raise DatasetError(
            f"omop= (--omop) reads the events from that database, not {source!r}: leave "
            "source (--source) out."
        )
    if omop_cohort_sql is not None and omop is None and source != "omop":
        raise DatasetError("omop_cohort_sql (--omop-cohort-sql) needs omop= (--omop URL).")
    from_omop = omop is not None or source == "omop"
    database = (omop if omop is not None else directory / "omop.duckdb") if from_omop else None
    sql_patients = sql_labels = None
    id_column = "person_source_value"
    if omop_cohort_sql is not None:
        from ramultimodal.io._omop_cohort import cohort_from_sql
        from ramultimodal.io._omop_connection import connect

        connection = connect(database, schema=omop_schema)
        try:
            sql_patients, sql_labels, id_column = cohort_from_sql(connection, omop_cohort_sql)
        finally:
            connection.close()
    has_labels = sql_labels is not None or (directory / "labels.csv").exists()
    has_images = (directory / "images.csv").exists() or pacs is not None
    steps = 2 + has_labels + has_images
    with tqdm(total=steps, desc="read_cohort", unit="file", disable=verbose <= 0) as progress:
        if sql_patients is not None:
            progress.set_postfix_str("cohort query")
            patients, skipped = sql_patients, Counter()
        else:
            progress.set_postfix_str("patients.csv")
            patients, skipped = _patients(directory, date_format, errors)

        if patients.empty:
            raise DatasetError(
                f"{directory / 'patients.csv'} leaves no patient to read"
                + (f" (skipped: {said_counts(skipped)})" if skipped else "")
                + "."
            )
        progress.update()
        if from_omop:
            from ramultimodal.io._omop_read import read_omop

            name = "omop"
            progress.set_postfix_str(name)
            events = read_omop(
                database,
                patients=patients["index_date"],
                codes=omop_codes,
                schema=omop_schema,
                subject_id=id_column,
                errors=errors,
            )
        else:
            name, path = events_source(directory, source)
            progress.set_postfix_str(EVENT_SOURCES[name])
            events = read_events(name, path, errors, verbose)
        skipped.update(left_out(events.attrs.get("read_report"), "events: "))
        _check_events_match(patients, events, directory)
        progress.update()

        labels, follow_up = None, None
        unknown_at_horizon = pd.Index([])
        if sql_labels is not None:
            if horizon is not None:
                raise HorizonError(
                    "the cohort query (--omop-cohort-sql) gives a label, not time_to_ra_days "
                    f"and event, so no label at horizon {horizon!r} can be derived: leave the "
                    "horizon out, or give labels.csv with those columns."
                )
            labels = sql_labels.loc[patients.index]
            progress.update()
        elif has_labels:
            progress.set_postfix_str("labels.csv")
            table = _Table(directory / "labels.csv", ("subject_id", "ra"), directory, errors)
            labels, follow_up = _labels(table, patients.index)
            skipped.update({f"labels.csv: {why}": n for why, n in table.report.skipped.items()})
            if horizon is not None:
                if follow_up is None:
                    raise HorizonError(
                        f"{directory / 'labels.csv'} has no time_to_ra_days and event "
                        f"columns, so no label at horizon {horizon!r} can be derived: add "
                        "them (days from the index date to RA or to the end of follow-up; "
                        "1 for RA then, 0 censored), or leave the horizon out to use ra."
                    )
                unknown = int(follow_up["time_to_ra_days"].isna().sum())
                if unknown:
                    raise HorizonError(
                        f"{directory / 'labels.csv'} gives no time_to_ra_days and event for "
                        f"{unknown} patients, so their label at horizon {horizon!r} is unknown: "
                        "fill them in, or leave the horizon out to use ra."
                    )
                labels = horizon_labels(follow_up, horizon, censored)
                # Patients left out at the horizon keep their images valid, not read.
                unknown_at_horizon = follow_up.index.difference(labels.index)
                follow_up = follow_up.loc[labels.index]
            patients = patients.loc[labels.index]  # with errors="skip": the labelled ones
            progress.update()
        elif horizon is not None:
            raise HorizonError(
                f"{directory} has no labels.csv: a horizon needs its time_to_ra_days and event."
            )

        images = None
        if pacs is not None:
            progress.set_postfix_str("PACS")
            images = _radiographs_on_pacs(directory, pacs, patients, verbose)
            progress.update()
        elif has_images:
            progress.set_postfix_str("images.csv")
            table = _Table(directory / "images.csv", ("subject_id", "path"), directory, errors)
            images = _images(table, directory, patients.index.union(unknown_at_horizon), verbose)
            images = images[~images["subject_id"].isin(unknown_at_horizon)]
            skipped.update({f"images.csv: {why}": n for why, n in table.report.skipped.items()})
            progress.update()
        if images is not None:
            prefetch_instances(
                [path for path in images["path"] if is_dicomweb_url(path)], verbose=verbose
            )
    if patients.empty:
        raise DatasetError(
            f"{directory}: no patient left to read (skipped: {said_counts(skipped)})."
        )
    if skipped:
        warnings.warn(f"{directory}: skipped {said_counts(skipped)}.", UserWarning, stacklevel=2)
    # Once everything is read, so that a refusal stays the one line a command prints.
    logger.info(
        "Read %s: %d patients, %d events from %s, %s, %s.",
        directory,
        len(patients),
        len(events),
        # The database of --omop, whose URL (masked) the reader has logged; not the folder's.
        "the OMOP database of omop= (--omop)" if omop is not None else EVENT_SOURCES[name],
        "no images.csv" if images is None else f"{len(images)} images",
        "no labels.csv" if labels is None else f"{len(labels)} labels",
    )
    return CohortRecords(patients, events, images, labels, follow_up)
