"""CohortRecords as scikit-learn's X, and the pipeline from records to probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, cross_val_score

from ramultimodal.ehr import EHRFeaturizer
from ramultimodal.fusion import CohortFeaturizer, CohortPipeline, LateFusionClassifier
from ramultimodal.io import CohortRecords, read_cohort
from ramultimodal.models import make_pipeline, modality_selectors
from ramultimodal.synthetic import make_cohort, write_cohort

# Tiny models: BLAS threads fighting a busy CPU only slow them (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    cohort = make_cohort(60, image_size=32, seed=5)
    folder = write_cohort(cohort, tmp_path_factory.mktemp("c") / "cohort", formats=["csv", "png"])
    return read_cohort(folder)


def tabular_pipeline() -> CohortPipeline:
    """Features, then late fusion of the EHR and the PROs (no CNN: fast)."""
    selectors = modality_selectors()
    lgbm = LGBMClassifier(n_estimators=10, min_child_samples=5, verbose=-1, n_jobs=1)
    fusion = LateFusionClassifier(
        [("ehr", lgbm, selectors["ehr"]), ("pro", clone(lgbm), selectors["pro"])], cv=2
    )
    return CohortPipeline([("features", CohortFeaturizer(EHRFeaturizer())), ("model", fusion)])


def test_records_are_one_item_per_patient(records):
    assert len(records) == 60 and records.shape == (60,)
    assert records.labels.index.equals(records.subject_ids)
    rows = [3, 0, 7]
    for key in (rows, np.array(rows), (rows, Ellipsis)):
        subset = records[key]
        assert subset.subject_ids.tolist() == records.subject_ids[rows].tolist()
        assert subset.labels.tolist() == records.labels.iloc[rows].tolist()
        assert subset.events is records.events  # shared, not copied
    mask = np.zeros(60, dtype=bool)
    mask[[1, 2]] = True
    assert len(records[mask]) == 2 and len(records[10:20]) == 10 and len(records[5]) == 1
    # One list of radiographs per patient, absolute paths, empty for those without one.
    images = records.image_lists()
    assert len(images) == 60 and any(not i for i in images)
    assert all(path.startswith("/") for i in images for path in i)
    # Its repr counts; it never shows a patient's identifier.
    assert repr(records).startswith("CohortRecords(60 patients, ")
    assert not any(subject in repr(records) for subject in records.subject_ids)


def test_records_need_index_dates():
    with pytest.raises(TypeError, match="index_date"):
        CohortRecords(pd.DataFrame({"x": [1]}), pd.DataFrame())


def test_featurizer_reads_records_or_a_table_with_events(records):
    from_records = EHRFeaturizer().fit(records).transform(records)
    table = records.patients[["index_date"]]
    from_table = EHRFeaturizer(records.events).fit(table).transform(table)
    np.testing.assert_array_equal(from_records, from_table)
    with pytest.raises(ValueError, match="carry their own events"):
        EHRFeaturizer(records.events).fit(records)
    with pytest.raises(TypeError, match="reads CohortRecords"):
        CohortFeaturizer().fit(table)


def test_the_pipeline_is_a_scikit_learn_estimator(records):
    y = records.labels.to_numpy()
    pipeline = tabular_pipeline().fit(records, y)
    proba = pipeline.predict_proba(records)
    assert proba.shape == (60, 2)
    explained = pipeline.predict_modalities(records)
    assert explained.index.equals(records.subject_ids)
    np.testing.assert_allclose(explained["proba"], proba[:, 1])
    # The features are those the featurizer learned in fit, whoever is predicted.
    np.testing.assert_array_equal(
        pipeline.features(records[:5]).columns, pipeline.features(records).columns
    )
    # Cross-validation splits the records by patient, feature extraction inside each fold.
    scores = cross_val_score(
        tabular_pipeline(),
        records,
        y,
        groups=records.subject_ids,
        cv=StratifiedGroupKFold(3, shuffle=True, random_state=0),
        scoring="roc_auc",
    )
    assert scores.shape == (3,) and (scores > 0.6).all()
    # Grid search reaches the featurizer and the fusion's base models.
    search = GridSearchCV(
        tabular_pipeline(),
        {"features__ehr__lookback_days": [(90,), (90, None)], "model__ehr__num_leaves": [4, 8]},
        cv=StratifiedGroupKFold(2, shuffle=True, random_state=0),
        scoring="roc_auc",
    ).fit(records, y, groups=records.subject_ids)
    assert len(search.cv_results_["params"]) == 4
    assert isinstance(search.best_estimator_, CohortPipeline)
    assert clone(pipeline).get_params()["model__cv"] == 2


def test_make_pipeline_recipes_and_their_columns(records):
    pipeline = make_pipeline("early", image_params={"image_size": 32, "max_epochs": 1})
    features = pipeline.named_steps["features"].fit_transform(records)
    modalities = pipeline.named_steps["model"].modalities
    assert [name for name, _, _ in modalities] == ["image", "ehr", "pro"]
    ehr, pro = (columns(features) for _, _, columns in modalities[1:])
    assert "crp_last_90d" in ehr and "image" not in ehr
    assert pro and all(
        c.startswith(("pain", "patient_global", "morning", "haq", "rapid3")) for c in pro
    )
    assert not set(ehr) & set(pro)
