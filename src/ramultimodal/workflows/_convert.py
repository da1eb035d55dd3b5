"""Convert an EHR export (FHIR, CSV, a cohort folder) to MEDS parquet: ``ramultimodal convert``.

What comes in decides what goes out:

- a cohort folder (it has ``patients.csv``): a cohort folder whose events are ``meds/``,
  with the folder's ``patients.csv``, ``labels.csv`` and ``cohort.json`` copied as they are
  and ``images.csv`` with its relative paths made absolute (the radiographs stay where they
  are), so ``train``, ``predict`` and ``evaluate`` read it as they read the original;
- FHIR (a folder of NDJSON or Bundles, or one file), a long CSV of events, or a MEDS folder
  (to shard it again): a MEDS folder.

The events are read and written in this process; `_events_to_meds` is the one place where
the work would be handed to a Dask cluster (``ramultimodal.distributed``).
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
import warnings
from collections import Counter
from pathlib import Path

from ramultimodal._staging import check_output, output_lock, staged_folder
from ramultimodal.io import DatasetError, read_cohort_events, read_events_csv, read_fhir, read_meds
from ramultimodal.io._cohort_events import EVENT_SOURCES, check_regular
from ramultimodal.io._meds import write_meds

__all__ = ["CONVERT_FORMATS", "convert_dataset"]

logger = logging.getLogger(__name__)

#: What `convert_dataset` writes.
CONVERT_FORMATS: tuple[str, ...] = ("meds",)

# The tables of a cohort folder that a converted cohort keeps, copied as they are.
_COPIED = ("patients.csv", "labels.csv", "cohort.json")
# The events sources a bare file or folder can be read as (a wide CSV needs its mapping,
# which only a cohort folder's wide.json gives).
_BARE_SOURCES = ("auto", "csv", "fhir-ndjson", "fhir-bundles", "meds")


def _bare_source(path: Path, source: str) -> str:
    """How to read a file or folder that is not a cohort folder."""
    if source not in _BARE_SOURCES:
        raise DatasetError(
            f"{path} is not a cohort folder (no patients.csv), so --source {source} cannot "
            f"read it; choose one of {', '.join(_BARE_SOURCES)}."
        )
    if source != "auto":
        return source
    if path.is_dir():
        return "meds" if (path / "data").is_dir() else "fhir-ndjson"
    return "csv" if path.name.lower().endswith(".csv") else "fhir-ndjson"


def _read(
    data: Path, cohort: bool, source: str, errors: str, date_format: str | None, verbose: int
):
    """The events of the input, read in this process."""
    if cohort:
        return read_cohort_events(data, source, errors=errors, verbose=verbose)
    kind = _bare_source(data, source)
    if kind == "csv":
        check_regular(data)
        return read_events_csv(data, time_format=date_format, errors=errors)
    if kind == "meds":
        return read_meds(data)
    return read_fhir(data, errors=errors, verbose=verbose)


def _events_to_meds(
    data: Path,
    meds_dir: Path,
    *,
    cohort: bool,
    source: str,
    errors: str,
    date_format: str | None,
    n_shards: int | None,
    dataset_name: str,
    overwrite: bool,
    scheduler: str | None,
    verbose: int,
) -> Path:
    """Read the events of `data` and write them as the MEDS folder `meds_dir`.

    The one call site the Dask ingest replaces: with a scheduler it would read the export
    in parts on the workers and write each shard there (`write_meds_shard`,
    `write_meds_metadata`), giving the same folder.
    """
    from ramultimodal.distributed import scheduler_address

    if scheduler_address(scheduler) is not None:
        logger.warning(
            "convert reads and writes in this process: this build has no Dask ingest, so "
            "the scheduler is not used."
        )
    events = _read(data, cohort, source, errors, date_format, verbose)
    # What the reader left out, said as read_cohort says it (counts, never identifiers).
    report = events.attrs.get("read_report")
    left_out = Counter()
    for counts in (getattr(report, "skipped", None), getattr(report, "dropped", None)):
        left_out.update(counts or {})
    if left_out:
        counted = ", ".join(f"{why} {n}" for why, n in left_out.items())
        warnings.warn(f"{data}: skipped {counted}.", UserWarning, stacklevel=2)
    return write_meds(
        events, meds_dir, n_shards=n_shards, dataset_name=dataset_name, overwrite=overwrite
    )


def _copy_images_table(source: Path, target: Path) -> None:
    """``images.csv`` with each relative path made absolute (against its own folder), and
    every other cell as it was."""
    try:
        with source.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (UnicodeDecodeError, csv.Error) as error:
        raise DatasetError(f"Cannot read {source} ({error}); save it as UTF-8 CSV.") from None
    if rows and "path" in rows[0]:
        column = rows[0].index("path")
        for row in rows[1:]:
            if column < len(row) and row[column].strip() and "://" not in row[column]:
                path = Path(row[column].strip())
                row[column] = str(path if path.is_absolute() else source.parent.resolve() / path)
    with target.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def convert_dataset(
    data: str | os.PathLike,
    to: str,
    out: str | os.PathLike,
    *,
    n_shards: int | None = None,
    source: str = "auto",
    errors: str = "raise",
    date_format: str | None = None,
    dataset_name: str | None = None,
    overwrite: bool = False,
    scheduler: str | None = None,
    verbose: int = 0,
) -> Path:
    """Convert a cohort folder, FHIR, a CSV of events or MEDS to a MEDS 0.4 dataset.

    Parameters
    ----------
    data : path-like
        A cohort folder (it has ``patients.csv``; its events source is chosen by
        `source`), a FHIR folder or file (NDJSON, ``.ndjson.gz``, Bundles), a long CSV of
        events, or a MEDS folder.
    to : {"meds"}
        The format to write.
    out : path-like
        The folder to create: a cohort folder with ``meds/`` when `data` is a cohort folder,
        else a MEDS folder. It must not exist or be empty, unless `overwrite`.
    n_shards : int, optional
        How many MEDS shards (default: one per 10,000 subjects).
    source : str, default "auto"
        Which events source to read: for a cohort folder one of ``"auto"`` and
        `ramultimodal.io.EVENT_SOURCES`; for anything else ``"auto"`` (from the name: a
        ``.csv`` is a CSV of events, a folder with ``data/`` is MEDS, anything else FHIR),
        ``"csv"``, ``"fhir-ndjson"``, ``"fhir-bundles"`` or ``"meds"``.
    errors : {"raise", "skip"}, default "raise"
        Stop at the first row or resource that cannot be read, or skip and count them.
    date_format : str, optional
        ``strftime`` format of the times of a CSV of events given as `data` (ISO 8601 by
        default). A cohort folder's CSV has its own, in ``events.json``.
    dataset_name : str, optional
        The name in ``metadata/dataset.json`` (default: the name of `data`).
    overwrite : bool, default False
        Replace an existing `out` that ramultimodal wrote as the same kind of folder (a
        folder of anything else is never replaced).
    scheduler : str, optional
        A Dask scheduler's address (docs/scaling.md).
    verbose : int, default 0
        Progress bars on stderr when > 0.

    Returns
    -------
    Path
        `out`.

    Raises
    ------
    InputError
        One line naming the file and what to do: an input that cannot be read, an option
        that does not fit it (`ramultimodal.io.DatasetError`), an `out` that may not be
        written (``OutputError``, an OSError).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import ramultimodal
    >>> cohort = Path(ramultimodal.__file__).parents[2] / "synthetic_data" / "cohort"
    >>> out = convert_dataset(cohort, "meds", tempfile.mkdtemp() + "/cohort", source="csv")
    >>> sorted(path.name for path in out.iterdir())
    ['.ramultimodal', 'cohort.json', 'images.csv', 'labels.csv', 'meds', 'patients.csv']
    """
    if to not in CONVERT_FORMATS:
        raise DatasetError(f"Cannot convert to {to!r}; choose one of {', '.join(CONVERT_FORMATS)}.")
    data, out = Path(data), Path(out)
    if not data.exists():
        raise DatasetError(
            f"{data} not found: give a cohort folder, FHIR, a CSV of events or MEDS."
        )
    cohort = data.is_dir() and (data / "patients.csv").is_file()
    if cohort and source not in ("auto", *EVENT_SOURCES):
        raise DatasetError(
            f"Unknown events source {source!r}; choose one of auto, {', '.join(EVENT_SOURCES)}."
        )
    if cohort and date_format is not None:
        raise DatasetError(
            f"{data} is a cohort folder: the times of its events.csv are read with the "
            "time_format of its events.json, not --date-format (which is for a CSV of events "
            "given alone)."
        )
    if data.resolve() == out.resolve() or data.resolve() in out.resolve().parents:
        raise DatasetError(f"{out} is inside the input {data}; write the output elsewhere.")
    options = {
        "source": source,
        "errors": errors,
        "date_format": date_format,
        "n_shards": n_shards,
        "dataset_name": dataset_name or data.resolve().name,
        "scheduler": scheduler,
        "verbose": verbose,
    }
    if not cohort:
        check_output(out, "meds", overwrite=overwrite)  # before reading the events
        return _events_to_meds(data, out, cohort=False, overwrite=overwrite, **options)
    with output_lock(out):
        check_output(out, "cohort", overwrite=overwrite)  # before reading the events
        with staged_folder(out, "cohort", overwrite=overwrite) as folder:
            _events_to_meds(data, folder / "meds", cohort=True, overwrite=False, **options)
            for name in _COPIED:
                if (data / name).is_file():
                    check_regular(data / name)
                    shutil.copyfile(data / name, folder / name)
            if (data / "images.csv").is_file():
                check_regular(data / "images.csv")
                _copy_images_table(data / "images.csv", folder / "images.csv")
    return out
