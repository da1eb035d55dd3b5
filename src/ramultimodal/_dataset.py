"""Load a cohort directory into X (one row per patient) and y.

The directory layout is the one `ramultimodal.synthetic.write_cohort` writes (see
docs/data-model.md, "A cohort directory"), so a user can bring their own data by writing
the same few files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["DatasetError", "load_dataset", "read_cohort_events"]

Source = Literal["auto", "csv", "fhir-ndjson", "fhir-bundles"]

#: Where each events source lives inside a cohort directory, in the order "auto" tries them.
EVENT_SOURCES: dict[str, str] = {
    "csv": "events.csv",
    "fhir-ndjson": "fhir/ndjson",
    "fhir-bundles": "fhir/bundles",
}


class DatasetError(ValueError):
    """A cohort directory that does not have the expected layout (names what is missing)."""


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
    from ramultimodal.io import read_events_csv, read_fhir

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


def load_dataset(
    directory: str | os.PathLike,
    *,
    source: Source = "auto",
    featurizer=None,
    image_column: str = "image",
) -> tuple[pd.DataFrame, pd.Series | None]:
    """Load a cohort directory as ``(X, y)``: one row per patient, features at the index date.

    Parameters
    ----------
    directory : path
        A cohort directory: ``patients.csv`` (``subject_id``, ``index_date``), an events
        source (``events.csv``, ``fhir/ndjson/`` or ``fhir/bundles/``), and optionally
        ``images.csv`` (``subject_id``, ``path`` relative to the directory) and ``labels.csv``
        (``subject_id``, ``ra``).
    source : {"auto", "csv", "fhir-ndjson", "fhir-bundles"}, default "auto"
        Which events source to read (see `read_cohort_events`).
    featurizer : EHRFeaturizer, optional
        An unfitted featurizer to configure the features; its ``events`` is set here.
        Default: ``EHRFeaturizer()`` with its leakage guard on.
    image_column : str, default "image"
        Name of the column of image path lists.

    Returns
    -------
    X : DataFrame
        Indexed by ``subject_id`` in the order of ``patients.csv``: the EHR features at each
        patient's index date and `image_column`, a list of absolute image paths per patient
        (empty when the patient has no radiograph).
    y : Series of int or None
        ``labels.csv``'s ``ra`` (1 = RA within 12 months of the index date), aligned with X;
        None when the directory has no labels.

    Examples
    --------
    >>> from pathlib import Path
    >>> import ramultimodal
    >>> cohort = Path(ramultimodal.__file__).parents[2] / "synthetic_data"
    >>> X, y = ramultimodal.load_dataset(cohort)  # doctest: +SKIP
    >>> X["image"].map(len).max()  # doctest: +SKIP
    1
    """
    from ramultimodal.ehr import EHRFeaturizer

    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"{directory} is not a directory. " + _layout_help(directory))
    patients = _read_table(directory / "patients.csv", ("subject_id", "index_date"), directory)
    if patients["subject_id"].duplicated().any():
        raise DatasetError(f"{directory / 'patients.csv'} lists a subject_id more than once.")
    patients["index_date"] = pd.to_datetime(patients["index_date"])
    patients = patients.set_index("subject_id")

    events = read_cohort_events(directory, source)
    featurizer = EHRFeaturizer() if featurizer is None else featurizer
    featurizer.set_params(events=events).set_output(transform="pandas")
    X = featurizer.fit_transform(patients[["index_date"]])
    X.index.name = "subject_id"

    images_path = directory / "images.csv"
    paths: dict[str, list[str]] = {}
    if images_path.exists():
        images = _read_table(images_path, ("subject_id", "path"), directory)
        unknown = ~images["subject_id"].isin(patients.index)
        if unknown.any():
            raise DatasetError(
                f"{images_path}, line {int(np.flatnonzero(unknown)[0]) + 2}: an image of a "
                "patient who is not in patients.csv."
            )
        for subject_id, path in zip(images["subject_id"], images["path"], strict=True):
            paths.setdefault(subject_id, []).append(str((directory / path).resolve()))
    X[image_column] = [paths.get(subject_id, []) for subject_id in X.index]

    labels_path = directory / "labels.csv"
    if not labels_path.exists():
        return X, None
    labels = _read_table(labels_path, ("subject_id", "ra"), directory).set_index("subject_id")
    missing = X.index.difference(labels.index)
    if len(missing):
        raise DatasetError(
            f"{labels_path} has no label for {len(missing)} of the patients in patients.csv."
        )
    y = labels.loc[X.index, "ra"].astype(int).rename("ra")
    return X, y
