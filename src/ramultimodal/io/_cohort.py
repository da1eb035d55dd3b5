"""A cohort's records (patients, events, radiographs, labels), read from a cohort folder.

`CohortRecords` is what a whole pipeline (`ramultimodal.fusion.CohortPipeline`) reads: one
item per patient, as scikit-learn sees it, so that ``cross_val_score``, ``GridSearchCV`` and
``train_test_split`` split it by patient. A subset shares the events and image tables with
the whole; only the list of patients changes, so splitting costs nothing.

The folder layout is the one `ramultimodal.synthetic.write_cohort` writes (docs/data-model.md,
"A cohort directory"), so a user brings their own data by writing the same few files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "EVENT_SOURCES",
    "CohortRecords",
    "DatasetError",
    "read_cohort",
    "read_cohort_events",
]

Source = Literal["auto", "csv", "fhir-ndjson", "fhir-bundles"]

#: Where each events source lives inside a cohort directory, in the order "auto" tries them.
EVENT_SOURCES: dict[str, str] = {
    "csv": "events.csv",
    "fhir-ndjson": "fhir/ndjson",
    "fhir-bundles": "fhir/bundles",
}

#: Columns of `CohortRecords.images`.
IMAGE_COLUMNS: tuple[str, ...] = ("subject_id", "path", "body_part", "laterality", "study_time")


class DatasetError(ValueError):
    """A cohort directory that does not have the expected layout (names what is missing)."""


@dataclass(frozen=True, eq=False)
class CohortRecords:
    """The records of a cohort: who the patients are, and everything known about them.

    One item per patient (``len``, ``shape`` and indexing by position work as scikit-learn
    expects of X), so a pipeline from records to probabilities can be cross-validated,
    grid-searched and saved as one estimator.

    Parameters
    ----------
    patients : DataFrame
        Indexed by ``subject_id`` (strings), with each patient's ``index_date``, the
        prediction time.
    events : DataFrame
        The events table (`ramultimodal.io.EVENT_COLUMNS`); it may hold other patients too.
    images : DataFrame, optional
        The image manifest, one row per radiograph: ``subject_id``, ``path`` (absolute, or
        a 2-D array of pixels), and where known ``body_part``, ``laterality``,
        ``study_time``. None: no radiographs.
    labels : Series, optional
        The outcome of each patient (``ra``), aligned with `patients`.

    Examples
    --------
    >>> import pandas as pd
    >>> from ramultimodal.io import CohortRecords, as_events
    >>> patients = pd.DataFrame({"index_date": pd.to_datetime(["2021-03-01", "2021-05-01"])},
    ...                         index=pd.Index(["a", "b"], name="subject_id"))
    >>> events = as_events([{"subject_id": "a", "time": "2021-02-01", "code": "LOINC/1988-5",
    ...                      "numeric_value": 12.0}])
    >>> records = CohortRecords(patients, events)
    >>> records
    CohortRecords(2 patients, 1 events, 0 images, no labels)
    >>> records[[1]].subject_ids.tolist()
    ['b']
    """

    patients: pd.DataFrame
    events: pd.DataFrame
    images: pd.DataFrame | None = None
    labels: pd.Series | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.patients, pd.DataFrame) or "index_date" not in self.patients:
            raise TypeError(
                "CohortRecords.patients must be a DataFrame indexed by subject_id with an "
                "'index_date' column."
            )
        if self.labels is not None and len(self.labels) != len(self.patients):
            raise ValueError(
                f"CohortRecords: {len(self.labels)} labels for {len(self.patients)} patients."
            )

    # -- what scikit-learn needs of X ------------------------------------------------------

    def __len__(self) -> int:
        return len(self.patients)

    @property
    def shape(self) -> tuple[int]:
        """``(n_patients,)``: one item per patient."""
        return (len(self.patients),)

    def __getitem__(self, key: Any) -> CohortRecords:
        """The records of the patients at positions `key` (ints, a boolean mask, a slice).

        Each patient appears once: positions repeated (a bootstrap resample) are refused,
        since the features are computed per patient.
        """
        if isinstance(key, tuple) and len(key) == 2 and key[1] is Ellipsis:
            key = key[0]  # how scikit-learn's _safe_indexing asks for rows
        if isinstance(key, bool | np.bool_):
            raise TypeError("CohortRecords takes positions, a boolean mask or a slice.")
        if isinstance(key, int | np.integer):
            key = [key]
        rows = self.patients.iloc[key]
        if not rows.index.is_unique:
            raise ValueError(
                "CohortRecords[...] repeats patients; each appears once (to resample "
                "patients, resample the features table instead)."
            )
        labels = None if self.labels is None else self.labels.iloc[key]
        return replace(self, patients=rows, labels=labels)

    def __repr__(self) -> str:
        images = 0 if self.images is None else len(self.images)
        labels = "labels" if self.labels is not None else "no labels"
        return (
            f"CohortRecords({len(self.patients)} patients, {len(self.events)} events, "
            f"{images} images, {labels})"
        )

    # -- per patient ------------------------------------------------------------------------

    @property
    def subject_ids(self) -> pd.Index:
        """The patients' ``subject_id``, in order."""
        return self.patients.index

    def image_lists(self) -> list[list[Any]]:
        """Each patient's radiographs (paths or pixel arrays), in the order of `patients`."""
        if self.images is None or self.images.empty:
            return [[] for _ in range(len(self.patients))]
        grouped: dict[str, list[Any]] = {}
        for subject_id, path in zip(
            self.images["subject_id"].astype(str), self.images["path"], strict=True
        ):
            grouped.setdefault(subject_id, []).append(path)
        return [list(grouped.get(str(subject_id), [])) for subject_id in self.patients.index]


# -- reading a cohort folder -----------------------------------------------------------------


def _layout_help(directory: Path) -> str:
    return (
        f"{directory} needs patients.csv (subject_id, index_date), one events source "
        "(events.csv, fhir/ndjson/ or fhir/bundles/), and optionally images.csv and "
        "labels.csv; see docs/data-model.md, 'A cohort directory'."
    )


def read_cohort_events(directory: str | os.PathLike, source: Source = "auto") -> pd.DataFrame:
    """Read the events table of a cohort directory from CSV or FHIR.

    Parameters
    ----------
    directory : path
        A cohort directory.
    source : {"auto", "csv", "fhir-ndjson", "fhir-bundles"}, default "auto"
        Where to read the events from; "auto" takes the first present of ``events.csv``,
        ``fhir/ndjson/``, ``fhir/bundles/``.

    Returns
    -------
    DataFrame
        The events table.
    """
    from ramultimodal.io._csv import read_events_csv
    from ramultimodal.io._fhir import read_fhir

    directory = Path(directory)
    if source != "auto" and source not in EVENT_SOURCES:
        raise DatasetError(
            f"Unknown events source {source!r}; choose one of auto, {', '.join(EVENT_SOURCES)}."
        )
    candidates = EVENT_SOURCES if source == "auto" else {source: EVENT_SOURCES[source]}
    for name, relative in candidates.items():
        path = directory / relative
        if path.exists():
            return read_events_csv(path) if name == "csv" else read_fhir(path)
    raise DatasetError(
        f"No events found ({', '.join(candidates.values())}). " + _layout_help(directory)
    )


def _read_table(path: Path, required: tuple[str, ...], directory: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype={"subject_id": str})
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DatasetError(f"Cannot read {path}: {error}. " + _layout_help(directory)) from None
    missing = [column for column in required if column not in table.columns]
    if missing:
        raise DatasetError(f"{path} lacks the columns {missing}. " + _layout_help(directory))
    return table


def read_cohort(directory: str | os.PathLike, *, source: Source = "auto") -> CohortRecords:
    """Read a cohort directory: patients and index dates, events, radiographs, labels.

    Parameters
    ----------
    directory : path
        A cohort directory: ``patients.csv`` (``subject_id``, ``index_date``), an events
        source (``events.csv``, ``fhir/ndjson/`` or ``fhir/bundles/``), and optionally
        ``images.csv`` (``subject_id``, ``path`` relative to the directory, ``body_part``,
        ``laterality``, ``study_time``) and ``labels.csv`` (``subject_id``, ``ra``).
    source : {"auto", "csv", "fhir-ndjson", "fhir-bundles"}, default "auto"
        Which events source to read (see `read_cohort_events`).

    Returns
    -------
    CohortRecords
        The patients in the order of ``patients.csv``; labels when ``labels.csv`` exists.

    Raises
    ------
    DatasetError
        When the layout is wrong, naming the file and what it lacks.

    Examples
    --------
    >>> from pathlib import Path
    >>> import ramultimodal
    >>> folder = Path(ramultimodal.__file__).parents[2] / "synthetic_data" / "cohort"
    >>> read_cohort(folder)  # doctest: +SKIP
    CohortRecords(50 patients, 4069 events, 40 images, labels)
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"{directory} is not a directory. " + _layout_help(directory))
    patients = _read_table(directory / "patients.csv", ("subject_id", "index_date"), directory)
    if patients["subject_id"].duplicated().any():
        raise DatasetError(f"{directory / 'patients.csv'} lists a subject_id more than once.")
    patients["index_date"] = pd.to_datetime(patients["index_date"])
    patients = patients.set_index("subject_id")

    events = read_cohort_events(directory, source)

    images = None
    images_path = directory / "images.csv"
    if images_path.exists():
        images = _read_table(images_path, ("subject_id", "path"), directory)
        unknown = ~images["subject_id"].isin(patients.index)
        if unknown.any():
            raise DatasetError(
                f"{images_path}, line {int(np.flatnonzero(unknown)[0]) + 2}: an image of a "
                "patient who is not in patients.csv."
            )
        images["path"] = [str((directory / path).resolve()) for path in images["path"]]
        images = images.reindex(columns=[*IMAGE_COLUMNS, *images.columns.difference(IMAGE_COLUMNS)])

    labels = None
    labels_path = directory / "labels.csv"
    if labels_path.exists():
        table = _read_table(labels_path, ("subject_id", "ra"), directory).set_index("subject_id")
        missing = patients.index.difference(table.index)
        if len(missing):
            raise DatasetError(
                f"{labels_path} has no label for {len(missing)} of the patients in patients.csv."
            )
        labels = table.loc[patients.index, "ra"].astype(int).rename("ra")
    return CohortRecords(patients, events, images, labels)
