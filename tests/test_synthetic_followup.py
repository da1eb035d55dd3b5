"""The generator follows patients in time: populations, time to RA, censoring, the label."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ramultimodal.synthetic import POPULATIONS, make_cohort
from ramultimodal.synthetic._progression import population_mix
from ramultimodal.terminology.codes import (
    CONCEPTS,
    SERONEGATIVE_RA,
    SEROPOSITIVE_RA,
    upper_normal,
)


@pytest.fixture(scope="module")
def cohorts():
    return {
        name: make_cohort(800, seed=11, render_images=False, population=name)
        for name in ("clinic", "undifferentiated", "arthralgia")
    }


def test_label_follows_time_and_event(cohorts):
    for name, cohort in cohorts.items():
        patients = cohort.patients
        assert patients["time_to_ra_days"].gt(0).all(), name
        expected = patients["event"] & patients["time_to_ra_days"].le(365)
        assert (patients["ra"] == expected).all(), name
        assert set(patients["population"]) == {name}
        # An event is always an RA diagnosis in the record, on that day.
        ra_codes = {CONCEPTS["rheumatoid_arthritis"].code, SEROPOSITIVE_RA, SERONEGATIVE_RA}
        diagnosed = cohort.events[cohort.events["code"].isin(ra_codes)]
        first = diagnosed.groupby("subject_id")["time"].min()
        with_event = patients.index[patients["event"]]
        assert set(first.index) == set(with_event), name
        days = (first.loc[with_event] - patients.loc[with_event, "index_date"]).dt.days
        np.testing.assert_array_equal(days, patients.loc[with_event, "time_to_ra_days"])


def test_event_rates_match_the_literature(cohorts):
    # Leiden EAC: 177 of 570 (31%) with RA within a year of presenting with UA.
    ua = cohorts["undifferentiated"].patients
    assert 0.26 < ua["ra"].mean() < 0.38
    # van de Stadt 2013: 35% of seropositive arthralgia developed arthritis, median 12 months.
    arthralgia = cohorts["arthralgia"].patients
    assert 0.29 < arthralgia["event"].mean() < 0.41
    median = arthralgia.loc[arthralgia["event"], "time_to_ra_days"].median()
    assert 270 < median < 460
    # The clinic diagnoses its RA at the first follow-up, 2-8 weeks after index.
    clinic = cohorts["clinic"].patients
    assert clinic.loc[clinic["event"], "time_to_ra_days"].between(14, 56).all()
    # Some patients are lost to follow-up before a year, in every population.
    for cohort in cohorts.values():
        lost = ~cohort.patients["event"] & cohort.patients["time_to_ra_days"].lt(365)
        assert 0.0 < lost.mean() < 0.12


def test_arthralgia_is_seropositive_without_swelling_before_ra(cohorts):
    cohort = cohorts["arthralgia"]
    events, patients = cohort.events, cohort.patients
    swollen = events[events["code"].isin(CONCEPTS["swollen_joints_28"].codes)].merge(
        patients[["index_date", "time_to_ra_days", "event"]], left_on="subject_id",
        right_index=True,
    )  # fmt: skip
    before = swollen["time"] < swollen["index_date"] + pd.to_timedelta(
        np.where(swollen["event"], swollen["time_to_ra_days"], 10**5), unit="D"
    )
    assert swollen.loc[before, "numeric_value"].eq(0).all()
    rf = events[events["code"].isin(CONCEPTS["rf"].codes)]
    ccp = events[events["code"].isin(CONCEPTS["anti_ccp"].codes)]
    positive = rf.loc[rf["numeric_value"] > upper_normal("rf"), "subject_id"].tolist()
    positive += ccp.loc[ccp["numeric_value"] > upper_normal("anti_ccp"), "subject_id"].tolist()
    tested = set(rf["subject_id"]) | set(ccp["subject_id"])
    assert len(set(positive) & tested) / len(tested) > 0.9


def test_undifferentiated_ra_is_seen_earlier(cohorts):
    # RA comes months after the first visit, and the first visit is earlier in its course.
    ua = cohorts["undifferentiated"].patients
    clinic = cohorts["clinic"].patients
    assert ua.loc[ua["event"], "time_to_ra_days"].median() > 60
    ra_ua = ua["diagnosis"].str.endswith("_ra")
    ra_clinic = clinic["diagnosis"].str.endswith("_ra")
    assert (
        ua.loc[ra_ua, "symptom_duration_weeks"].median()
        < clinic.loc[ra_clinic, "symptom_duration_weeks"].median()
    )


def test_clinic_records_do_not_change_with_follow_up():
    # The default population is the clinic, drawn as before populations existed: the
    # mix {"clinic": 1.0} takes another path and must give the same records.
    default = make_cohort(30, seed=4, render_images=False)
    named = make_cohort(30, seed=4, render_images=False, population="clinic")
    pd.testing.assert_frame_equal(default.events, named.events)
    pd.testing.assert_frame_equal(default.patients, named.patients)
    assert "population" not in default.params


def test_mix_counts_and_params():
    cohort = make_cohort(
        20, seed=2, render_images=False, population={"clinic": 0.5, "arthralgia": 0.5}
    )
    assert cohort.patients["population"].value_counts().to_dict() == {
        "clinic": 10,
        "arthralgia": 10,
    }
    assert cohort.params["population"] == {"clinic": 0.5, "arthralgia": 0.5}
    assert population_mix("undifferentiated", 7) == {"undifferentiated": 7}
    with pytest.raises(ValueError, match="Unknown population"):
        make_cohort(5, render_images=False, population="rheumatology")
    assert set(POPULATIONS) == {"clinic", "undifferentiated", "arthralgia"}


def test_labels_csv_has_time_and_event(tmp_path):
    from ramultimodal.synthetic import write_cohort

    cohort = make_cohort(12, seed=3, render_images=False, population="undifferentiated")
    write_cohort(cohort, tmp_path / "c", formats=["csv"])
    labels = pd.read_csv(tmp_path / "c" / "labels.csv")
    assert labels.columns.tolist() == [
        "subject_id", "ra", "diagnosis", "time_to_ra_days", "event", "time_to_acr_eular_days",
        "acr_eular_event",
    ]  # fmt: skip
    assert set(labels["event"]) <= {0, 1} and set(labels["acr_eular_event"]) <= {0, 1}


def test_acr_eular_date_is_the_first_visit_that_fulfils_the_criteria(cohorts):
    from ramultimodal.ehr import acr_eular_2010_score

    exam_code = CONCEPTS["involved_small_joints"].code
    for name, cohort in cohorts.items():
        patients, events = cohort.patients, cohort.events
        days, fulfils = patients["time_to_acr_eular_days"], patients["acr_eular_event"]
        assert days.ge(0).all(), name
        # Censored as time to RA is: at the end of follow-up, which an RA-free patient's
        # time_to_ra_days is; a fulfilment is never after it.
        neither = ~fulfils & ~patients["event"]
        assert (days[neither] == patients.loc[neither, "time_to_ra_days"]).all(), name
        # Recomputed by hand from the exam and labs of that very day for a few patients:
        # at least 6 points and a swollen joint (the values carried from the index visit
        # where the day has none, as the featurizer does).
        for subject in patients.index[fulfils & days.gt(0)][:5]:
            day = patients.at[subject, "index_date"] + pd.Timedelta(days=int(days[subject]))
            mine = events[(events["subject_id"] == subject) & (events["time"] <= day)]

            def last(concept, mine=mine):
                rows = mine[mine["code"] == CONCEPTS[concept].code]
                return rows["numeric_value"].iloc[-1] if len(rows) else np.nan

            exam = mine[(mine["code"] == exam_code)]
            assert exam["time"].iloc[-1] == day  # a visit with a joint exam
            onset = mine.loc[mine["code"] == CONCEPTS["joint_pain"].code, "time"].min()
            score = acr_eular_2010_score(
                small_joints=last("involved_small_joints"),
                large_joints=last("involved_large_joints"),
                rf=last("rf"),
                anti_ccp=last("anti_ccp"),
                crp=last("crp"),
                esr=last("esr"),
                symptom_duration_weeks=(day - onset).days / 7,
                sex=patients.at[subject, "sex"],
                return_components=True,
            )
            assert np.nansum(score.drop(columns="total").to_numpy()) >= 6, name
            assert last("swollen_joints_28") > 0, name
    ua = cohorts["undifferentiated"].patients
    at_index = ua["acr_eular_event"] & ua["time_to_acr_eular_days"].eq(0)
    # Many with undifferentiated arthritis are classifiable at once; most RA in time.
    assert 0.3 < at_index.mean() < 0.5
    assert ua.loc[ua["event"], "acr_eular_event"].mean() > 0.75
    # Arthralgia has no synovitis, so no one is classifiable before arthritis comes.
    arthralgia = cohorts["arthralgia"].patients
    assert not arthralgia["acr_eular_event"][~arthralgia["event"]].any()
    assert arthralgia["time_to_acr_eular_days"][arthralgia["acr_eular_event"]].gt(0).all()
