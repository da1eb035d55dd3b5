"""From a cohort's records to probabilities in one estimator: features, then a fusion.

`CohortFeaturizer` turns `ramultimodal.io.CohortRecords` into the one-row-per-patient table
the fusions read (the EHR features at the index date, and each patient's radiographs), and
`CohortPipeline` chains it with a fusion classifier. Fitted once, the pipeline holds what
it learned about the features (which aggregations exist) and nothing about the patients, so
a patient's probability depends on that patient's records and the model only, and saving
the pipeline (`save_model`) saves the feature extraction with the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ramultimodal.ehr._index_date import index_days
from ramultimodal.image._radiograph_guard import ImageGuardWarning, usable_radiographs
from ramultimodal.io import CohortRecords
from ramultimodal.terminology.dicom import RA_BODY_PARTS

__all__ = ["CohortFeaturizer", "CohortPipeline", "ImageGuardWarning"]


def _check_records(X: Any, estimator: Any) -> CohortRecords:
    if not isinstance(X, CohortRecords):
        raise TypeError(
            f"{type(estimator).__name__} reads CohortRecords (ramultimodal.io.read_cohort), "
            f"got {type(X).__name__}. For a table of features, use the fusion classifier "
            "itself."
        )
    return X


class CohortFeaturizer(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Cohort records to one row per patient: EHR features at the index date, radiographs.

    The radiographs pass the same leakage guard as the events: one dated after its
    patient's index date is not used, nor one of a body part the model is not for (a knee
    for a hand model). Both are counted in an `ImageGuardWarning`; a radiograph without a
    study date or a body part is used and counted there too, as the guard cannot check it.
    The guard's switch is the featurizer's: ``EHRFeaturizer(max_time="all")`` turns it off
    for events and radiographs alike, and warns.

    Parameters
    ----------
    ehr : EHRFeaturizer, default=None
        How to featurize the events (its ``events`` must be None: the records carry them);
        None gives ``EHRFeaturizer()``, leakage guard on.
    image_column : str, default="image"
        Name of the column of each patient's radiographs (a list of paths, empty for a
        patient without one, or whose every radiograph the guard left out).
    body_parts : sequence of str, default=("HAND", "FOOT")
        The body parts (DICOM ``BodyPartExamined``, compared without case) whose
        radiographs are used.

    Attributes
    ----------
    ehr_ : EHRFeaturizer
        The fitted featurizer: which concepts and aggregations the features hold.
    feature_names_out_ : ndarray of str
        The output columns: the EHR features, then `image_column`.

    Examples
    --------
    >>> import pandas as pd
    >>> from ramultimodal.ehr import EHRFeaturizer
    >>> from ramultimodal.io import CohortRecords, as_events
    >>> patients = pd.DataFrame({"index_date": pd.to_datetime(["2021-03-01", "2021-03-01"])},
    ...                         index=pd.Index(["a", "b"], name="subject_id"))
    >>> events = as_events([{"subject_id": "a", "time": "2021-02-01", "code": "LOINC/1988-5",
    ...                      "numeric_value": 12.0}])
    >>> images = pd.DataFrame({"subject_id": ["b"], "path": ["/data/b-hand.dcm"]})
    >>> featurizer = CohortFeaturizer(EHRFeaturizer(lookback_days=(90,),
    ...                                             aggregations=("last",)))
    >>> featurizer.fit_transform(CohortRecords(patients, events, images))[
    ...     ["crp_last_90d", "image"]]  # doctest: +NORMALIZE_WHITESPACE
                crp_last_90d               image
    subject_id
    a                   12.0                  []
    b                    NaN  [/data/b-hand.dcm]
    """

    def __init__(
        self, ehr: Any = None, image_column: str = "image", body_parts: Any = RA_BODY_PARTS
    ) -> None:
        self.ehr = ehr
        self.image_column = image_column
        self.body_parts = body_parts

    def fit(self, X: CohortRecords, y: Any = None) -> CohortFeaturizer:
        """Learn the EHR feature set from the records.

        Parameters
        ----------
        X : CohortRecords
        y : ignored

        Returns
        -------
        self
        """
        self._fit(X)
        return self

    def fit_transform(self, X: CohortRecords, y: Any = None) -> pd.DataFrame:
        """Fit, and return the features of `X` (computed once).

        Parameters
        ----------
        X : CohortRecords
        y : ignored

        Returns
        -------
        DataFrame
            As `transform`.
        """
        return self._table(_check_records(X, self), self._fit(X))

    def _fit(self, X: CohortRecords) -> np.ndarray:
        from ramultimodal.ehr import EHRFeaturizer

        records = _check_records(X, self)
        self.ehr_ = clone(self.ehr if self.ehr is not None else EHRFeaturizer())
        self.ehr_.set_output(transform="default")
        values = self.ehr_.fit_transform(records)
        self.feature_names_out_ = np.asarray(
            [*self.ehr_.get_feature_names_out(), self.image_column], dtype=object
        )
        return values

    def transform(self, X: CohortRecords) -> pd.DataFrame:
        """The features of each patient of `X`, from that patient's records alone.

        Parameters
        ----------
        X : CohortRecords

        Returns
        -------
        DataFrame
            Indexed by ``subject_id`` in the order of the records: the EHR features
            (floats) and `image_column`.
        """
        check_is_fitted(self, "ehr_")
        records = _check_records(X, self)
        return self._table(records, self.ehr_.transform(records))

    def _table(self, records: CohortRecords, values: np.ndarray) -> pd.DataFrame:
        features = pd.DataFrame(
            values, index=records.subject_ids.copy(), columns=self.feature_names_out_[:-1]
        )
        features.index.name = "subject_id"
        features[self.image_column] = self._radiographs(records)
        return features

    def _radiographs(self, records: CohortRecords) -> list[list[Any]]:
        """Each patient's radiographs that pass the leakage guard, and the warning."""
        images = records.images
        if images is None or images.empty:
            return records.image_lists()
        # A subset of the records (a fold) shares the whole cohort's manifest: its own only.
        images = images[images["subject_id"].astype(str).isin(records.subject_ids.astype(str))]
        day = (
            images["subject_id"]
            .astype(str)
            .map(index_days(records.patients, self.ehr_.index_column))
        )
        keep = usable_radiographs(
            images, day, self.body_parts, check_dates=self.ehr_.max_time != "all", stacklevel=4
        )
        guarded = CohortRecords(records.patients, records.events, images[keep], records.labels)
        return guarded.image_lists()

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns: the EHR features, then the image column."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()


def _final_step_explains(pipeline: CohortPipeline) -> bool:
    return hasattr(pipeline._final_estimator, "predict_modalities")


class CohortPipeline(Pipeline):
    """A scikit-learn ``Pipeline`` from cohort records to probabilities, that explains.

    It is a ``Pipeline`` (steps, ``named_steps``, ``model__ehr__C`` parameters,
    ``clone``, ``GridSearchCV``) whose first step is a `CohortFeaturizer` and whose last is
    a fusion classifier, with the fusion's `predict_modalities` passed through. Build one
    with `ramultimodal.models.make_pipeline`; save and load it with `save_model` and
    `load_model`.

    Examples
    --------
    >>> from ramultimodal.models import make_pipeline
    >>> pipeline = make_pipeline("late")
    >>> [name for name, _ in pipeline.steps]
    ['features', 'model']
    """

    @available_if(_final_step_explains)
    def predict_modalities(self, X: CohortRecords) -> pd.DataFrame:
        """The fused probability and what each modality said, per patient of `X`.

        Parameters
        ----------
        X : CohortRecords

        Returns
        -------
        DataFrame
            The final estimator's ``predict_modalities`` (``proba``, ``proba_<name>``,
            ``has_<name>``), indexed by ``subject_id``.
        """
        return self._final_estimator.predict_modalities(self.features(X))

    def features(self, X: CohortRecords) -> pd.DataFrame:
        """The table the final estimator reads: every step but the last applied to `X`.

        Parameters
        ----------
        X : CohortRecords

        Returns
        -------
        DataFrame
            One row per patient.
        """
        check_is_fitted(self)
        return self[:-1].transform(X)
