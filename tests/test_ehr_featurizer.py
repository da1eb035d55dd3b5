"""EHRFeaturizer on a hand-made events table: every number below is computed by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from ramultimodal.ehr import EHRFeaturizer, scores
from ramultimodal.io import as_events

CRP, ESR, RF, CCP = "LOINC/1988-5", "LOINC/4537-7", "LOINC/11572-5", "LOINC/33935-8"
SMOKING, JOINT_PAIN = "LOINC/72166-2", "SNOMED/57676002"
SMALL, LARGE = "RAMULTIMODAL/involved-small-joints", "RAMULTIMODAL/involved-large-joints"
HB, PAIN, GLOBAL = "LOINC/718-7", "LOINC/72514-3", "LOINC/75894-6"
RA_DX, METHOTREXATE = "SNOMED/69896004", "RXNORM/6851"


def event(subject, time, code, value=None, text=None):
    return {
        "subject_id": subject,
        "time": time,
        "code": code,
        "numeric_value": value,
        "text_value": text,
    }


def haq_items(subject, time, value):
    return [
        event(subject, time, f"QR/haq-di-{category}-1", value)
        for category in [
            "dressing",
            "arising",
            "eating",
            "walking",
            "hygiene",
            "reach",
            "grip",
            "activities",
        ]
    ]


# Patient "a": index date 2020-06-30 (midnight; the whole day counts).
# Patient "b": index date 2021-01-10. Patient "c" has no events at all.
EVENTS = as_events([
    event("a", "1970-06-30", "MEDS_BIRTH"),
    event("a", None, "GENDER/male"),
    event("a", "2019-01-01", SMOKING, text="SNOMED/449868002"),  # current
    event("a", "2020-01-01", SMOKING, text="SNOMED/8517006"),  # former: the last before index
    event("a", "2020-07-01", SMOKING, text="SNOMED/449868002"),  # after index: ignored
    event("a", "2020-06-30", "LOINC/39156-5", 28.0),  # BMI
    event("a", "2018-06-30", CRP, 1.0),  # 731 days before: only in "all"
    event("a", "2020-03-31", CRP, 3.0),  # 91 days before: in 365d, not in 90d
    event("a", "2020-04-01", CRP, 6.0),  # 90 days before: the edge of 90d, included
    event("a", "2020-06-30 18:00", CRP, 12.0),  # index day, after midnight: included
    event("a", "2020-07-01 00:00", CRP, 100.0),  # the day after: excluded
    event("a", None, CRP, 999.0),  # timeless lab: not used
    event("a", "2020-05-01", JOINT_PAIN),  # 60 days before index: symptom onset
    event("a", "2020-06-02", JOINT_PAIN),  # 28 days before index
    event("a", "2020-06-01", RF, 50.0),  # 50 > 3 x 14 = 42: high positive
    event("a", "2020-06-01", CCP, 10.0),
    event("a", "2020-06-30", SMALL, 4.0),
    event("a", "2020-06-30", LARGE, 0.0),
    event("a", "2020-06-15", RA_DX),  # leakage before index
    event("a", "2020-06-20", METHOTREXATE),  # leakage before index
    event("a", "2020-08-01", RA_DX),  # leakage after index
    event("a", "2020-08-01", METHOTREXATE),
    event("b", None, "GENDER/female"),
    event("b", "2021-01-10", ESR, 18.0),  # normal for a woman (ULN 20), high for a man (15)
    event("b", "2020-01-10", HB, 13.0),
    event("b", "2021-01-10", HB, 11.0),  # falling hemoglobin: negative slope
    event("b", "2021-01-10", PAIN, 6.0),
    event("b", "2021-01-10", GLOBAL, 5.0),
    *haq_items("b", "2020-06-01", 3.0),  # an older questionnaire: not the last one
    *haq_items("b", "2021-01-10", 1.0),
])  # fmt: skip
PATIENTS = pd.DataFrame(
    {"index_date": pd.to_datetime(["2020-06-30", "2021-01-10", "2021-01-10"]),
     "image": [["a.png"], [], []]},
    index=pd.Index(["a", "b", "c"], name="subject_id"),
)  # fmt: skip


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    featurizer = EHRFeaturizer(EVENTS).set_output(transform="pandas")
    return featurizer.fit_transform(PATIENTS)


def test_demographics_and_risk_factors(features):
    a, b = features.loc["a"], features.loc["b"]
    assert a["age_at_index"] == pytest.approx(18263 / 365.25)  # 1970-06-30 to 2020-06-30
    assert (a["sex_female"], b["sex_female"]) == (0.0, 1.0)
    # The last status before index is "former"; the "current" after it is not seen.
    assert a[["smoking_current", "smoking_former", "smoking_never"]].tolist() == [0, 1, 0]
    assert b[["smoking_current", "smoking_former", "smoking_never"]].isna().all()
    assert (a["smoking_missing"], b["smoking_missing"]) == (0.0, 1.0)
    assert a["bmi"] == 28.0
    # Earliest joint pain 2020-05-01, 60 days before index: 60 / 7 weeks.
    assert a["symptom_duration_weeks"] == pytest.approx(60 / 7)


def test_aggregations_and_window_edges(features):
    a = features.loc["a"]
    # 90d window: 6 (90 days before, the edge) and 12 (index day, 18:00).
    assert a[
        [
            "crp_last_90d",
            "crp_min_90d",
            "crp_max_90d",
            "crp_mean_90d",
            "crp_count_90d",
            "crp_days_since_last_90d",
        ]
    ].tolist() == [12, 6, 12, 9, 2, 0]
    # Slope: (12 - 6) / (90.75 days / 365.25 days per year) per year.
    assert a["crp_slope_90d"] == pytest.approx(6 / (90.75 / 365.25))
    # 365d adds 3 (91 days before); "all" adds 1 (731 days before). The day after index
    # (100) and the timeless value (999) are never used.
    assert a[["crp_count_365d", "crp_mean_365d", "crp_min_365d"]].tolist() == [3, 7, 3]
    assert a[["crp_count_all", "crp_mean_all", "crp_max_all"]].tolist() == [4, 5.5, 12]
    assert a["crp_slope_all"] > 0
    # Conditions have no value: count and days since last only.
    assert a[["joint_pain_count_all", "joint_pain_days_since_last_all"]].tolist() == [2, 28]
    assert "joint_pain_mean_all" not in features.columns


def test_slope_sign_and_missing_slope(features):
    b = features.loc["b"]
    # 13 -> 11 g/dL over 366 days: -2 / (366 / 365.25) per year.
    assert b["hemoglobin_slope_all"] == pytest.approx(-2 / (366 / 365.25))
    # One value in 90 days: no slope, for anyone in fit, so the column is dropped.
    assert "hemoglobin_slope_90d" not in features.columns
    assert np.isnan(features.loc["a", "hemoglobin_last_all"])
    assert features.loc["a", "hemoglobin_count_all"] == 0  # known patient, no test
    assert features.loc["a", "hemoglobin_missing"] == 1


def test_scores_at_index(features):
    a, b = features.loc["a"], features.loc["b"]
    # a: 4 small joints (3) + RF 50 > 42 (3) + CRP 12 > 5 (1) + 60/7 >= 6 weeks (1) = 8.
    assert a[
        [
            "acr_eular_joints",
            "acr_eular_serology",
            "acr_eular_acute_phase",
            "acr_eular_duration",
            "acr_eular_total",
        ]
    ].tolist() == [3, 3, 1, 1, 8]
    # b: ESR 18 is normal for a woman; no serology, no joints: not classifiable.
    assert b["acr_eular_acute_phase"] == 0
    assert np.isnan(b["acr_eular_total"]) and b["acr_eular_total_missing"] == 1
    # b's HAQ-DI from the last questionnaire (all items 1): 8 / 8 = 1.0;
    # RAPID3 = 1.0 * 10 / 3 + pain 6 + global 5.
    assert b["haq_di_score"] == 1.0
    assert b["rapid3_score"] == pytest.approx(10 / 3 + 11)


def test_esr_upper_limit_depends_on_sex():
    male = EVENTS.assign(code=EVENTS["code"].replace({"GENDER/female": "GENDER/male"}))
    featurizer = EHRFeaturizer(male).set_output(transform="pandas")
    assert featurizer.fit_transform(PATIENTS).loc["b", "acr_eular_acute_phase"] == 1


def test_unknown_patient_is_nan_indicators_included(features):
    # Nothing recorded: no modality, so nothing is "missing" either.
    assert features.loc["c"].isna().all()
    assert "no_record" not in features.columns
    assert features.loc[["a", "b"], "crp_missing"].tolist() == [0.0, 1.0]


def test_a_modality_is_present_only_with_a_usable_fact_in_the_window():
    from ramultimodal.ehr import feature_modality

    events = as_events([
        event("demographics", "1960-01-01", "MEDS_BIRTH"),
        event("demographics", None, "GENDER/female"),
        event("pro-only", "2021-01-01", PAIN, 6.0),
        event("old-lab", "2000-01-01", CRP, 10.0),  # outside the 365-day window
        event("lab-and-pro", "2020-12-01", CRP, 10.0),
        *haq_items("lab-and-pro", "2020-12-01", 1.0),
    ])  # fmt: skip
    patients = pd.DataFrame(
        {"index_date": pd.Timestamp("2021-01-10")},
        index=pd.Index(["demographics", "pro-only", "old-lab", "lab-and-pro"], name="subject_id"),
    )
    featurizer = EHRFeaturizer(events, lookback_days=(90, 365)).set_output(transform="pandas")
    features = featurizer.fit_transform(patients)
    modality = np.array([feature_modality(name) for name in features.columns])
    has = {m: features.loc[:, modality == m].notna().any(axis=1) for m in ("ehr", "pro")}
    assert has["ehr"].to_dict() == {
        "demographics": False,  # age and sex alone are not a record
        "pro-only": False,
        "old-lab": False,  # its only lab is 11 years before the index date
        "lab-and-pro": True,
    }
    assert has["pro"].to_dict() == {
        "demographics": False,
        "pro-only": True,
        "old-lab": False,
        "lab-and-pro": True,  # from its HAQ-DI items
    }
    # An absent modality is NaN throughout; a present one keeps its indicators.
    assert features.loc["pro-only", modality == "ehr"].isna().all()
    assert features.loc["pro-only", "pain_missing"] == 0.0
    assert features.loc["lab-and-pro", "crp_missing"] == 0.0


def test_leakage_guard_excludes_diagnosis_and_dmards_before_and_after(features):
    leaking = [
        name for name in features.columns if name.startswith(("ra_diagnosis", "dmard", "biologic"))
    ]
    assert leaking == []
    with pytest.warns(UserWarning, match="learns the label"):
        open_door = EHRFeaturizer(EVENTS, exclude_leakage=False).set_output(transform="pandas")
        leaky = open_door.fit_transform(PATIENTS)
    # Only the diagnosis and methotrexate before index are counted ...
    assert leaky.loc["a", ["ra_diagnosis_count_all", "dmard_count_all"]].tolist() == [1, 1]
    # ... unless the index-date cut is disabled too.
    with pytest.warns(UserWarning):
        everything = EHRFeaturizer(EVENTS, exclude_leakage=False, max_time="all")
        leaky = everything.set_output(transform="pandas").fit_transform(PATIENTS)
    assert leaky.loc["a", ["ra_diagnosis_count_all", "dmard_count_all"]].tolist() == [2, 2]
    assert leaky.loc["a", "crp_count_all"] == 5  # 100 mg/L after index now counts too


def test_no_warning_with_guard_on():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EHRFeaturizer(EVENTS).fit(PATIENTS)


def test_scikit_learn_contract(features):
    featurizer = EHRFeaturizer(EVENTS, lookback_days=(30, None), aggregations=("last",))
    with pytest.raises(NotFittedError):
        featurizer.transform(PATIENTS)
    assert clone(featurizer).get_params()["lookback_days"] == (30, None)
    array = featurizer.fit(PATIENTS).transform(PATIENTS)
    assert isinstance(array, np.ndarray) and array.shape[0] == 3
    frame = featurizer.set_output(transform="pandas").transform(PATIENTS)
    assert list(frame.columns) == list(featurizer.get_feature_names_out())
    assert frame.index.equals(PATIENTS.index)
    np.testing.assert_array_equal(frame.to_numpy(), array)
    assert featurizer.n_features_in_ == 2  # index_date, image
    # Fitted on the full table's own default: the default output keeps the same columns.
    assert list(features.columns) == list(
        EHRFeaturizer(EVENTS).fit(PATIENTS).get_feature_names_out()
    )


def test_feature_set_is_learned_in_fit():
    # Fitted on "b" alone: no CRP was seen, so no CRP columns, whoever is transformed.
    featurizer = EHRFeaturizer(EVENTS).set_output(transform="pandas").fit(PATIENTS.loc[["b"]])
    assert not any(name.startswith("crp_") for name in featurizer.get_feature_names_out())
    features = featurizer.transform(PATIENTS)
    assert features.loc["b", "esr_count_all"] == 1
    # Nothing "a" has is read by this featurizer (its CRP has no feature): no record.
    assert features.loc["a"].isna().all()


def test_in_a_pipeline_with_per_patient_labels():
    pipeline = make_pipeline(
        EHRFeaturizer(EVENTS), SimpleImputer(keep_empty_features=True), LogisticRegression()
    )
    pipeline.fit(PATIENTS, [1, 0, 0])
    assert pipeline.predict_proba(PATIENTS).shape == (3, 2)


def test_bad_input_messages():
    with pytest.raises(ValueError, match="needs the events table"):
        EHRFeaturizer().fit(PATIENTS)
    with pytest.raises(ValueError, match="'index_date' column"):
        EHRFeaturizer(EVENTS).fit(PATIENTS.drop(columns="index_date"))
    with pytest.raises(ValueError, match="no index_date"):
        EHRFeaturizer(EVENTS).fit(PATIENTS.assign(index_date=pd.NaT))
    with pytest.raises(ValueError, match="Unknown aggregations"):
        EHRFeaturizer(EVENTS, aggregations=("median",)).fit(PATIENTS)
    with pytest.raises(ValueError, match="leakage guard removes"):
        EHRFeaturizer(EVENTS, concepts=("crp", "dmard")).fit(PATIENTS)
    with pytest.raises(ValueError, match="lacks columns"):
        EHRFeaturizer(EVENTS.drop(columns="code")).fit(PATIENTS)


def test_scores_match_the_score_functions(features):
    # DAS28 and CDAI need joint counts and globals that "b" lacks: NaN, as the functions.
    assert np.isnan(features.loc["b", "das28_crp"])
    assert np.isnan(scores.das28_crp(np.nan, 0, 1, 50))


def test_facts_no_feature_reads_give_no_modality():
    # A mimic's diagnosis (not aggregated), a smoking status it cannot read, a CRP without
    # its result: none is a usable fact of the record.
    events = as_events([
        event("gout", "2021-01-09", "SNOMED/90560007"),
        event("smoke", "2021-01-09", SMOKING, text="SNOMED/266927001"),  # unknown
        event("no-result", "2021-01-09", CRP),
        event("result", "2021-01-09", CRP, 4.0),
    ])  # fmt: skip
    index = pd.Index(["gout", "smoke", "no-result", "result"], name="subject_id")
    patients = pd.DataFrame({"index_date": pd.Timestamp("2021-01-10")}, index=index)
    features = EHRFeaturizer(events).set_output(transform="pandas").fit_transform(patients)
    assert features.notna().any(axis=1).to_dict() == {
        "gout": False, "smoke": False, "no-result": False, "result": True,
    }  # fmt: skip


def test_index_dates_keep_the_clinics_wall_clock_and_refuse_other_strings():
    events = as_events([event("p", "2020-03-01T23:00:00", CRP, 5.0)])
    at = pd.Timestamp("2020-03-01 23:30", tz="-12:00")  # 2 March in UTC
    patients = pd.DataFrame({"index_date": [at]}, index=pd.Index(["p"], name="subject_id"))
    features = EHRFeaturizer(events, lookback_days=(90,), aggregations=("count",))
    features = features.set_output(transform="pandas").fit_transform(patients)
    assert features.loc["p", "crp_count_90d"] == 1.0
    with pytest.raises(ValueError, match="not an ISO 8601 date"):
        EHRFeaturizer(events).fit(patients.assign(index_date=["12/03/2022"]))


def test_a_qualitative_antibody_result_is_no_titre_and_scores_as_the_criteria_say(tmp_path):
    # RF known only as "positive" (a FHIR valueCodeableConcept, a CSV word) is not 1 IU/mL,
    # which would read as negative; the 2010 criteria score it as low positive (2).
    from ramultimodal.io import read_fhir, read_wide_csv

    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "a"}},
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "subject": {"reference": "Patient/a"},
                    "effectiveDateTime": "2021-02-01",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "11572-5"}]},
                    "valueCodeableConcept": {
                        "coding": [{"system": "http://snomed.info/sct", "code": "10828004"}]
                    },
                }
            },
        ],
    }
    (tmp_path / "a.json").write_text(__import__("json").dumps(bundle))
    (tmp_path / "w.csv").write_text("id,time,rf\nb,2021-02-01,Positive\nc,2021-02-01,negative\n")
    events = pd.concat(
        [
            read_fhir(tmp_path / "a.json"),
            read_wide_csv(
                tmp_path / "w.csv", mapping={"rf": RF}, subject_column="id", time_column="time"
            ),
            as_events([event("d", "2021-02-01", RF, 50.0), event("e", "2021-02-01", CRP, 3.0)]),
        ]
    )
    patients = pd.DataFrame(
        {"index_date": pd.to_datetime(["2021-03-01"] * 5)},
        index=pd.Index(list("abcde"), name="subject_id"),
    )
    X = EHRFeaturizer(events=events, lookback_days=(90,)).set_output(transform="pandas")
    X = X.fit_transform(patients)
    assert X["rf_last_90d"].isna().tolist() == [True, True, True, False, True]
    assert X["rf_count_90d"].tolist() == [1.0, 1.0, 1.0, 1.0, 0.0]
    np.testing.assert_array_equal(X["acr_eular_serology"], [2.0, 2.0, 0.0, 3.0, np.nan])
    # A qualitative result is a fact of the EHR: the patient is not "without data".
    assert X.loc["c"].notna().any()


def test_a_titre_outranks_a_qualitative_result_in_the_score():
    components = scores.acr_eular_2010_score(
        small_joints=[1, 1], large_joints=[0, 0], rf=[10.0, np.nan], anti_ccp=[np.nan] * 2,
        crp=[1, 1], esr=[5, 5], symptom_duration_weeks=[8, 8], rf_positive=[1.0, 0.0],
        return_components=True,
    )  # fmt: skip
    assert components["serology"].tolist() == [0.0, 0.0]  # 10 IU/mL is under the ULN
