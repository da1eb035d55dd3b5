"""make_cohort: the table contract, determinism, and a disease signal that is realistic.

The realism targets come from ../shared/CLINICAL.md: serology as in Nishimura et al. 2007,
the 2010 ACR/EULAR criteria near their pooled sensitivity 0.82 / specificity 0.61 (Radner
et al. 2014), a tabular model that is good but not perfect, and early RA that is harder
than established RA in both the labs and the images.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ramultimodal.io import as_events
from ramultimodal.synthetic import DIAGNOSES, JOINTS, make_cohort
from ramultimodal.terminology.codes import (
    BIOLOGIC_CODES,
    CONCEPTS,
    DMARD_CODES,
    HAQ_DI_CATEGORIES,
    concept_of,
    is_leakage_code,
)

N_PATIENTS = 2000
LAB_COLUMNS = ["rf", "anti_ccp", "crp", "esr", "hemoglobin"]
JOINT_COLUMNS = [
    "tender_joints_28", "swollen_joints_28", "involved_small_joints", "involved_large_joints",
]  # fmt: skip


@pytest.fixture(scope="module")
def cohort():
    return make_cohort(N_PATIENTS, seed=0, render_images=False)


@pytest.fixture(scope="module")
def at_index(cohort):
    """Last value of each concept on or before the index date, one row per patient."""
    events = cohort.events.join(cohort.patients["index_date"], on="subject_id")
    events = events[events["time"] <= events["index_date"]]
    events = events.assign(concept=events["code"].map(concept_of)).dropna(subset="concept")
    values = events.groupby(["subject_id", "concept"])["numeric_value"].last().unstack()
    return values.reindex(cohort.patients.index)


@pytest.fixture(scope="module")
def lab_proba(cohort, at_index):
    """Out-of-fold RA probability of a logistic regression on the index labs and joints."""
    return _lab_model_proba(at_index, cohort.patients["ra"].to_numpy())


def _sens_spec(positive, ra, tested):
    return positive[ra & tested].mean(), 1 - positive[~ra & tested].mean()


def _lab_model_proba(at_index, ra):
    """Out-of-fold logistic regression on the index labs and joint counts."""
    X = at_index[LAB_COLUMNS + JOINT_COLUMNS].copy()
    for column in LAB_COLUMNS + JOINT_COLUMNS:
        X[f"{column}_missing"] = X[column].isna().astype(float)
        X[column] = X[column].fillna(X[column].median())
    X[["rf", "anti_ccp", "crp", "esr"]] = np.log1p(X[["rf", "anti_ccp", "crp", "esr"]])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return cross_val_predict(model, X, ra, cv=5, method="predict_proba")[:, 1]


def _acr_eular_2010(at_index, patients):
    """2010 ACR/EULAR score from the index values (CLINICAL.md); missing counts as normal."""
    small = at_index["involved_small_joints"].fillna(0)
    large = at_index["involved_large_joints"].fillna(0)
    joints = np.select(
        [(small + large > 10) & (small >= 1), small >= 4, small >= 1, large >= 2], [5, 3, 2, 1], 0
    )
    rf, ccp = at_index["rf"].fillna(0), at_index["anti_ccp"].fillna(0)
    rf_uln, ccp_uln = CONCEPTS["rf"].upper_normal, CONCEPTS["anti_ccp"].upper_normal
    serology = np.select(
        [(rf > 3 * rf_uln) | (ccp > 3 * ccp_uln), (rf > rf_uln) | (ccp > ccp_uln)], [3, 2], 0
    )
    esr_uln = np.where(patients["sex"] == "female", 20.0, 15.0)
    acute = (at_index["crp"].fillna(0) > 5) | (at_index["esr"].fillna(0) > esr_uln)
    duration = patients["symptom_duration_weeks"] >= 6
    return joints + serology + acute.to_numpy(int) + duration.to_numpy(int)


# --- The contract ------------------------------------------------------------------------


def test_tables_follow_the_contract(cohort):
    patients = cohort.patients
    assert patients.index.name == "subject_id" and patients.index.is_unique
    assert len(patients.index[0]) == 36 and patients.index[0][14] == "4"  # a UUID4
    assert list(patients.columns) == [
        "sex", "birth_date", "index_date", "symptom_onset", "diagnosis", "ra",
        "symptom_duration_weeks", "early", "smoking", "family_history_ra", "bmi",
        "population", "time_to_ra_days", "event", "time_to_acr_eular_days", "acr_eular_event",
    ]  # fmt: skip
    assert set(patients["diagnosis"]) == set(DIAGNOSES)
    assert patients["ra"].equals(patients["diagnosis"].str.endswith("_ra"))
    assert patients["early"].equals(patients["symptom_duration_weeks"] < 12)
    for column in ("birth_date", "index_date", "symptom_onset"):
        assert (patients[column] == patients[column].dt.normalize()).all()
    assert (patients["symptom_onset"] <= patients["index_date"]).all()
    assert cohort.labels.columns.tolist() == [
        "subject_id",
        "ra",
        "diagnosis",
        "time_to_ra_days",
        "event",
        "time_to_acr_eular_days",
        "acr_eular_event",
    ]
    assert len(cohort.labels) == N_PATIENTS
    assert cohort.params["seed"] == 0 and cohort.params["n_patients"] == N_PATIENTS


def test_events_are_canonical_and_coded_as_the_data_model_says(cohort):
    events = cohort.events
    pd.testing.assert_frame_equal(as_events(events), events)
    assert (events["source"] == "synthetic").all()
    assert set(events.loc[events["time"].isna(), "code"]) == {"GENDER/female", "GENDER/male"}
    per_patient = events.groupby("subject_id")["code"]
    assert (per_patient.apply(lambda c: (c == "MEDS_BIRTH").sum()) == 1).all()
    # Preferred codes in canonical units.
    for name in ("rf", "anti_ccp", "crp", "esr", "hemoglobin", "tender_joints_28", "bmi"):
        rows = events[events["code"] == CONCEPTS[name].code]
        assert len(rows) > 100 and (rows["unit"] == CONCEPTS[name].unit).all(), name
    # Below the detection limit, a lab reports "<" and the limit.
    crp = events[events["code"] == CONCEPTS["crp"].code]
    assert (crp.loc[crp["text_value"] == "<", "numeric_value"] == 1.0).all()
    assert (crp["text_value"] == "<").mean() > 0.05
    assert (crp["numeric_value"] * 10 % 1 == 0).all()  # one decimal, as labs report
    smoking = events.loc[events["code"] == "LOINC/72166-2", "text_value"]
    assert set(smoking) == {"SNOMED/449868002", "SNOMED/8517006", "SNOMED/266919005"}


def test_haq_di_total_follows_the_scoring_rule(cohort):
    events = cohort.events
    items = events[events["code"].str.startswith("QR/haq-di-")]
    assert items["numeric_value"].isin([0, 1, 2, 3]).all()
    n_items = sum(len(questions) for questions in HAQ_DI_CATEGORIES.values())
    assert items["code"].nunique() == n_items == 20
    category = items["code"].str.extract(r"QR/haq-di-(?P<category>\w+)-\d+$")["category"]
    best = items.groupby(["subject_id", "time", category])["numeric_value"].max()
    answered = best.groupby(level=["subject_id", "time"]).size()
    expected = best.groupby(level=["subject_id", "time"]).sum() / answered
    expected = expected[answered >= 6].round(3)
    totals = events[events["code"] == CONCEPTS["haq_di"].code]
    totals = totals.set_index(["subject_id", "time"])["numeric_value"]
    pd.testing.assert_series_equal(
        totals.sort_index(), expected.sort_index(), check_names=False, check_index_type=False
    )
    assert (answered < 8).mean() > 0.1  # some questionnaires are partly unanswered


def test_diagnosis_and_drugs_come_after_the_index_date(cohort):
    events = cohort.events.join(cohort.patients[["index_date", "ra"]], on="subject_id")
    leaking = events[events["code"].map(is_leakage_code)]
    assert (leaking["time"] > leaking["index_date"]).all()
    diagnosed = leaking[leaking["code"].str.startswith("SNOMED/")]
    assert (diagnosed["time"] <= diagnosed["index_date"] + pd.Timedelta(days=365)).all()
    assert set(diagnosed["subject_id"]) == set(cohort.patients.index[cohort.patients["ra"]])
    methotrexate = events[events["code"] == "RXNORM/6851"]
    assert methotrexate["ra"].mean() > 0.8  # DMARDs are RA treatment (and some PsA)
    drugs = set(events.loc[events["code"].str.startswith("RXNORM/"), "code"])
    assert drugs <= DMARD_CODES | BIOLOGIC_CODES  # every drug written is a known RA drug
    gout = events[events["code"] == CONCEPTS["gout"].code]
    assert (gout["time"] > gout["index_date"]).all()


def test_images_follow_the_contract(cohort):
    images, patients = cohort.images, cohort.patients
    assert images.index.name == "image_id" and images.index.is_unique
    assert 1 - images["subject_id"].nunique() / N_PATIENTS == pytest.approx(0.2, abs=0.03)
    assert images["monochrome1"].mean() == pytest.approx(0.3, abs=0.04)
    assert set(images["body_part"]) == {"HAND"} and set(images["laterality"]) == {"L", "R"}
    index_date = patients.loc[images["subject_id"], "index_date"].to_numpy()
    assert (images["study_time"].to_numpy() <= index_date).all()
    assert images[["study_uid", "series_uid", "sop_uid"]].stack().str.match(r"2\.25\.\d+$").all()
    studies = cohort.events[cohort.events["code"] == "DICOM/CR"]
    assert set(studies["text_value"]) == set(images["study_uid"])
    assert images["pixel_spacing_mm"].isna().all() and cohort.pixels == {}
    damage = cohort.damage
    assert damage.columns.tolist() == ["image_id", "joint", "erosion", "narrowing"]
    assert len(damage) == len(images) * len(JOINTS)
    assert damage["erosion"].between(0, 5).all() and damage["narrowing"].between(0, 4).all()


def test_same_seed_same_cohort_and_rendering_changes_no_table():
    kwargs = {"seed": 7, "image_size": 64, "images_per_patient": 2}
    rendered = make_cohort(12, **kwargs)
    again = make_cohort(12, **kwargs)
    tabular = make_cohort(12, render_images=False, **kwargs)
    for name in ("patients", "events", "damage"):
        pd.testing.assert_frame_equal(getattr(rendered, name), getattr(again, name))
        pd.testing.assert_frame_equal(getattr(rendered, name), getattr(tabular, name))
    pd.testing.assert_frame_equal(
        rendered.images.drop(columns="pixel_spacing_mm"),
        tabular.images.drop(columns="pixel_spacing_mm"),
    )
    assert rendered.pixels.keys() == set(rendered.images.index)
    assert (rendered.images.groupby("subject_id")["laterality"].apply(set) == {"L", "R"}).all()
    for image_id, pixels in rendered.pixels.items():
        assert pixels.dtype == np.uint16 and pixels.shape == (64, 64) and pixels.max() < 4096
        np.testing.assert_array_equal(pixels, again.pixels[image_id])
    assert (
        make_cohort(12, seed=8, render_images=False).patients.index[0]
        not in rendered.patients.index
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_patients": 0}, "n_patients"),
        ({"prevalence": 1.5}, "prevalence"),
        ({"images_per_patient": 3}, "images_per_patient"),
        ({"image_missing_rate": -0.1}, "image_missing_rate"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    arguments = {"n_patients": 5, "render_images": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        make_cohort(**arguments)


# --- Realism -----------------------------------------------------------------------------


def test_who_has_ra(cohort):
    patients = cohort.patients
    ra = patients[patients["ra"]]
    assert patients["ra"].mean() == pytest.approx(0.35, abs=0.03)
    # 3 women : 1 man, onset peaking at 40-60 (CLINICAL.md).
    assert (ra["sex"] == "female").mean() == pytest.approx(0.75, abs=0.04)
    onset_age = (ra["symptom_onset"] - ra["birth_date"]).dt.days / 365.25
    assert 45 < onset_age.median() < 58
    oa = patients[patients["diagnosis"] == "osteoarthritis"]
    assert (oa["index_date"] - oa["birth_date"]).dt.days.median() / 365.25 > 58
    # Smoking and a family history raise the risk.
    share = patients.groupby("smoking")["ra"].mean()
    assert share["current"] > share["never"] + 0.05
    share = patients.groupby("family_history_ra")["ra"].mean()
    assert share[True] > share[False] + 0.1


def test_serology_matches_nishimura_2007(cohort, at_index):
    ra = cohort.patients["ra"].to_numpy()
    rf = at_index["rf"] > CONCEPTS["rf"].upper_normal
    ccp = at_index["anti_ccp"] > CONCEPTS["anti_ccp"].upper_normal
    rf_tested, ccp_tested = at_index["rf"].notna(), at_index["anti_ccp"].notna()
    sens, spec = _sens_spec(ccp.to_numpy(), ra, ccp_tested.to_numpy())
    assert sens == pytest.approx(0.67, abs=0.04) and spec == pytest.approx(0.95, abs=0.03)
    sens, spec = _sens_spec(rf.to_numpy(), ra, rf_tested.to_numpy())
    assert sens == pytest.approx(0.69, abs=0.04) and spec == pytest.approx(0.85, abs=0.03)
    sens, spec = _sens_spec((rf & ccp).to_numpy(), ra, (rf_tested & ccp_tested).to_numpy())
    assert sens == pytest.approx(0.57, abs=0.04) and spec == pytest.approx(0.96, abs=0.03)
    seronegative = cohort.patients["diagnosis"] == "seronegative_ra"
    assert not (rf | ccp)[seronegative].any()


def test_mimics_look_like_themselves(cohort, at_index):
    by_diagnosis = at_index.groupby(cohort.patients["diagnosis"])
    crp, pain = by_diagnosis["crp"].median(), by_diagnosis["pain"].mean()
    swollen = by_diagnosis["swollen_joints_28"].mean()
    assert crp["osteoarthritis"] < 5 and crp["fibromyalgia"] < 5 and crp["gout"] > 10
    joints = at_index["involved_small_joints"] + at_index["involved_large_joints"]
    assert (joints[cohort.patients["diagnosis"] == "gout"] <= 1).mean() > 0.9  # monoarthritis
    assert swollen["fibromyalgia"] == 0
    assert pain["fibromyalgia"] > pain["seropositive_ra"]
    haq = by_diagnosis["haq_di"].mean()
    assert haq["fibromyalgia"] > haq["arthralgia"] + 0.3


def test_index_labs_and_joints_predict_ra_well_but_not_perfectly(cohort, lab_proba):
    auroc = roc_auc_score(cohort.patients["ra"].to_numpy(), lab_proba)
    assert 0.75 <= auroc <= 0.92


def test_acr_eular_2010_criteria_near_radner_2014(cohort, at_index):
    ra = cohort.patients["ra"].to_numpy()
    classified = _acr_eular_2010(at_index, cohort.patients) >= 6
    assert classified[ra].mean() == pytest.approx(0.82, abs=0.1)
    assert 1 - classified[~ra].mean() == pytest.approx(0.61, abs=0.1)


def test_early_ra_is_harder_than_established_ra(cohort, at_index, lab_proba):
    patients = cohort.patients
    ra, early = patients["ra"].to_numpy(), patients["early"].to_numpy()
    assert 0.25 < early[ra].mean() < 0.5
    proba = lab_proba
    # Every mimic against early RA, and against established RA.
    auroc_early = roc_auc_score(ra[~ra | early], proba[~ra | early])
    auroc_established = roc_auc_score(ra[~ra | ~early], proba[~ra | ~early])
    assert auroc_early < auroc_established - 0.05
    values = at_index[ra]
    is_early = early[ra]
    seropositive = (values["rf"] > 14) | (values["anti_ccp"] > 20)
    assert seropositive[is_early].mean() < seropositive[~is_early].mean() - 0.05
    high_crp = values["crp"] > 5
    assert high_crp[is_early].mean() < high_crp[~is_early].mean() - 0.1
    small = values["involved_small_joints"]
    assert small[is_early].mean() < small[~is_early].mean() - 2
    # Images: early RA shows almost no erosions.
    damage = cohort.damage.join(cohort.images["subject_id"], on="image_id")
    per_image = damage.groupby(["image_id", "subject_id"])[["erosion", "narrowing"]].sum()
    per_image = per_image.join(patients[["ra", "early", "diagnosis"]], on="subject_id")
    ra_images = per_image[per_image["ra"]].groupby("early")["erosion"].mean()
    assert ra_images[True] < 0.3 * ra_images[False]
    assert (per_image["diagnosis"] == "osteoarthritis").sum() > 50
    oa = per_image[per_image["diagnosis"] == "osteoarthritis"]
    assert (oa["erosion"] == 0).all() and oa["narrowing"].mean() > 2
