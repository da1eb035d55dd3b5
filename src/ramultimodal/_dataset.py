"""Load a cohort directory as a feature table X (one row per patient) and y.

For research on one cohort: the features are fitted on the patients being loaded. To apply
a model to new patients, keep the feature extraction with the model instead: read the
records with `ramultimodal.io.read_cohort` and fit a `ramultimodal.fusion.CohortPipeline`
(`ramultimodal.models.make_pipeline`), which ``ramultimodal train`` saves.
"""

from __future__ import annotations

import os

import pandas as pd

from ramultimodal.io._cohort import DatasetError, Source, read_cohort, read_cohort_events
from ramultimodal.io._horizon import HorizonError

__all__ = ["DatasetError", "HorizonError", "load_dataset", "read_cohort_events"]


def load_dataset(
    directory: str | os.PathLike,
    *,
    source: Source = "auto",
    featurizer=None,
    image_column: str = "image",
    date_format: str | None = None,
    errors: str = "raise",
    horizon: str | int | None = None,
    censored: str = "exclude",
    verbose: int = 0,
) -> tuple[pd.DataFrame, pd.Series | None]:
    """Load a cohort directory as ``(X, y)``: one row per patient, features at the index date.

    Parameters
    ----------
    directory : path
        A cohort directory (see `ramultimodal.io.read_cohort`).
    source : {"auto", "csv", "wide-csv", "fhir-ndjson", "fhir-bundles", "meds"}, default "auto"
        Which events source to read (see `ramultimodal.io.read_cohort_events`).
    featurizer : EHRFeaturizer, optional
        An unfitted featurizer (with ``events=None``) to configure the features; it is
        fitted on this cohort. Default: ``EHRFeaturizer()`` with its leakage guard on.
    image_column : str, default "image"
        Name of the column of image path lists.
    date_format, errors
        How to read the directory (see `ramultimodal.io.read_cohort`).
    horizon : {"6m", "12m", "24m"} or int, optional
        y is "RA within this horizon", derived from labels.csv's ``time_to_ra_days`` and
        ``event`` (`ramultimodal.io.horizon_labels`); a `HorizonError` when it lacks them.
    censored : {"exclude", "negative"}, default "exclude"
        With a horizon: patients censored before it are left out of X and y (logged), or
        counted free of RA (biased; see `ramultimodal.io.horizon_labels`).
    verbose : int, default 0
        Progress bars on stderr while the directory is read when > 0.

    Returns
    -------
    X : DataFrame
        Indexed by ``subject_id`` in the order of ``patients.csv``: the EHR features at each
        patient's index date and `image_column`, a list of absolute image paths per patient
        (empty when the patient has no radiograph).
    y : Series of int or None
        ``labels.csv``'s ``ra`` (1 = RA within 12 months of the index date), or RA within
        `horizon`, aligned with X; None when the directory has no labels.

    Examples
    --------
    >>> from pathlib import Path
    >>> import ramultimodal
    >>> cohort = Path(ramultimodal.__file__).parents[2] / "synthetic_data" / "cohort"
    >>> X, y = ramultimodal.load_dataset(cohort)  # doctest: +SKIP
    >>> X["image"].map(len).max()  # doctest: +SKIP
    1
    """
    from ramultimodal.fusion import CohortFeaturizer

    records = read_cohort(
        directory,
        source=source,
        date_format=date_format,
        errors=errors,
        horizon=horizon,
        censored=censored,
        verbose=verbose,
    )
    X = CohortFeaturizer(featurizer, image_column=image_column).fit_transform(records)
    return X, records.labels
