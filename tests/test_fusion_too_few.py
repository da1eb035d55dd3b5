"""Too few patients of a class for the folds: one line that says what to change, before any
model is trained, from the library (an `InputError`) and so from the command line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import ramultimodal
from ramultimodal.cli import main
from ramultimodal.fusion import (
    LateFusionClassifier,
    LateFusionSurvival,
    StackingFusionClassifier,
    survival_y,
)
from ramultimodal.synthetic import make_cohort, write_cohort

#: What every `CountingClassifier` was fitted on: the check comes before any of them.
FITS: list[int] = []


class CountingClassifier(LogisticRegression):
    """A logistic regression that notes each fit."""

    def fit(self, X, y, sample_weight=None):
        FITS.append(len(y))
        return super().fit(X, y, sample_weight)


def twelve_patients() -> tuple[pd.DataFrame, np.ndarray]:
    """12 patients, 3 with RA; 8 have a radiograph feature, and of them 1 has RA."""
    rng = np.random.default_rng(0)
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    image = rng.normal(size=12)
    image[[1, 2, 3, 4]] = np.nan  # two of the three with RA have no radiograph
    return pd.DataFrame({"lab": rng.normal(size=12) + y, "image": image}), y


def modalities() -> list:
    return [("ehr", CountingClassifier(), ["lab"]), ("image", CountingClassifier(), ["image"])]


# Late fusion learns its weights out of fold with weights="auto" (the recipe's), stacking always.
@pytest.mark.parametrize(
    "fusion, params",
    [
        (LateFusionClassifier, {"method": "mean_logit", "weights": "auto"}),
        (StackingFusionClassifier, {}),
    ],
)
def test_a_fold_with_one_class_of_a_modality_is_one_line_before_any_fit(fusion, params):
    X, y = twelve_patients()
    FITS.clear()
    with pytest.raises(ramultimodal.InputError) as caught:
        fusion(modalities(), cv=3, random_state=0, **params).fit(X, y)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{fusion.__name__}: too few patients of each class for 3 folds")
    assert "of the 8 patients who have modality 'image', 1 has class 1" in message
    # One patient of a class: fewer folds cannot help, so they are not offered.
    assert "more patients of each class" in message and "fewer folds" not in message
    assert FITS == []


def test_fewer_folds_are_offered_when_they_can_help():
    X, y = twelve_patients()
    # Six with RA, two of whom have a radiograph: three folds stratified on all 12 patients
    # hold two with RA each, and for some seeds those two are the ones with a radiograph.
    y = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    X["image"] = np.where(np.isin(np.arange(12), [0, 2, 6, 7, 8, 9, 10, 11]), 0.5, np.nan)
    refused = []
    for seed in range(20):
        try:
            StackingFusionClassifier(modalities(), cv=3, random_state=seed).fit(X, y)
        except ramultimodal.InputError as error:
            refused.append(str(error))
    assert refused, "no seed put both patients in one held-out part"
    assert "2 have class 1" in refused[0]
    assert 'use fewer folds (cv=2; `"fusion_params": {"cv": 2}` in the --config of' in refused[0]


def test_the_survival_fusion_says_the_same_of_its_classifier_modality():
    X, y = twelve_patients()
    target = survival_y(np.where(y == 1, 60, 700), y)
    with pytest.raises(ramultimodal.InputError) as caught:
        LateFusionSurvival([("image", CountingClassifier(), ["image"])], cv=3, random_state=0).fit(
            X, target
        )
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("LateFusionSurvival: too few patients of each outcome for 3 folds")
    assert "modality 'image' is a classifier of RA within 365 days" in message


def test_train_on_a_tiny_cohort_is_one_error_line(tmp_path, capsys):
    cohort = make_cohort(12, seed=3, image_size=32)
    folder = write_cohort(cohort, tmp_path / "cohort", formats=["csv", "png"])
    # Keep the radiograph of one patient with RA only.
    ra = cohort.patients.index[cohort.patients["ra"].astype(bool)]
    assert len(ra) >= 2
    images = pd.read_csv(folder / "images.csv", dtype={"subject_id": str})
    images[~images["subject_id"].isin(ra[1:])].to_csv(folder / "images.csv", index=False)
    out = tmp_path / "model"
    status = main(["train", "--data", str(folder), "--model", "late", "--out", str(out), "-q"])
    lines = [line for line in capsys.readouterr().err.splitlines() if "warning" not in line]
    assert status == 1 and not out.exists()
    assert len(lines) == 1 and "Traceback" not in lines[0]
    assert lines[0].startswith(
        "ramultimodal train: error: LateFusionClassifier: too few patients of each class"
    )
