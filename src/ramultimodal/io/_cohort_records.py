"""`CohortRecords`: a cohort's records (patients, events, radiographs, labels) as one X.

`CohortRecords` is what a whole pipeline (`ramultimodal.fusion.CohortPipeline`) reads: one
item per patient, as scikit-learn sees it, so that ``cross_val_score``, ``GridSearchCV`` and
``train_test_split`` split it by patient. A subset shares the events and image tables with
the whole; only the list of patients changes, so splitting costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["IMAGE_COLUMNS", "CohortRecords"]

#: Columns of `CohortRecords.images`.
IMAGE_COLUMNS: tuple[str, ...] = ("subject_id", "path", "body_part", "laterality", "study_time")


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
        The image manifest, one row per radiograph: ``subject_id``, ``path`` (absolute, a
        ``dicomweb://`` URL, or a 2-D array of pixels), and where known ``body_part``,
        ``laterality``, ``study_time``. None: no radiographs.
    labels : Series, optional
        The outcome of each patient (``ra``), aligned with `patients`.
    follow_up : DataFrame, optional
        ``time_to_ra_days`` and ``event`` of each patient, aligned with `patients`, when
        labels.csv has them (time to RA; `ramultimodal.io.horizon_labels`).

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
    follow_up: pd.DataFrame | None = None

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
        if self.follow_up is not None and len(self.follow_up) != len(self.patients):
            raise ValueError(
                f"CohortRecords: follow-up of {len(self.follow_up)} patients for "
                f"{len(self.patients)} patients."
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
        follow_up = None if self.follow_up is None else self.follow_up.iloc[key]
        return replace(self, patients=rows, labels=labels, follow_up=follow_up)

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
