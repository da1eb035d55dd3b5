"""read_omop on DuckDB: the same events and features as FHIR and CSV, push-down, errors."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from ramultimodal.ehr import EHRFeaturizer
from ramultimodal.io import (
    OMOPReadError,
    as_events,
    read_cohort,
    read_events_csv,
    read_fhir,
    read_omop,
    write_omop,
)
from ramultimodal.synthetic import make_cohort, write_cohort

_COLUMNS = ["subject_id", "time", "code", "numeric_value", "text_value", "unit"]


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory):
    cohort = make_cohort(24, seed=3, render_images=False)
    return write_cohort(
        cohort, tmp_path_factory.mktemp("omop") / "c", formats=["csv", "fhir-ndjson", "omop"]
    )


def _sorted(events: pd.DataFrame) -> pd.DataFrame:
    return events[_COLUMNS].sort_values(_COLUMNS).reset_index(drop=True)


def _features(events: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    return EHRFeaturizer(events).set_output(transform="pandas").fit_transform(patients)


def test_omop_gives_the_csv_events_but_the_study_uid(cohort_dir):
    omop = read_omop(cohort_dir / "omop.duckdb")
    csv = read_events_csv(cohort_dir / "events.csv")
    # OMOP has no place for an imaging study's UID (docs/omop.md): the rest is equal.
    csv = csv.assign(text_value=csv["text_value"].where(~csv["code"].str.startswith("DICOM/")))
    pd.testing.assert_frame_equal(_sorted(omop), _sorted(csv))
    assert (
        omop["source"]
        .str.match(
            r"^(person|measurement|observation|condition_occurrence"
            r"|drug_exposure|procedure_occurrence|visit_occurrence)/\d+$"
        )
        .all()
    )


def test_same_features_from_omop_fhir_and_csv(cohort_dir):
    records = read_cohort(cohort_dir, source="csv")
    pushed = read_omop(
        f"duckdb:///{cohort_dir / 'omop.duckdb'}",
        patients=records.patients,
        codes=EHRFeaturizer().required_codes(),
    )
    from_csv = _features(records.events, records.patients)
    pd.testing.assert_frame_equal(_features(pushed, records.patients), from_csv)
    fhir = read_fhir(cohort_dir / "fhir" / "ndjson")
    pd.testing.assert_frame_equal(_features(fhir, records.patients), from_csv)


def test_push_down_keeps_only_asked_codes_before_the_index_date(cohort_dir):
    records = read_cohort(cohort_dir, source="csv")
    index = records.patients["index_date"]
    events = read_omop(
        cohort_dir / "omop.duckdb", patients=index, codes=["LOINC/1988-5"], lookback=365
    )
    assert set(events["code"]) <= {"LOINC/1988-5", "MEDS_BIRTH", "GENDER/female", "GENDER/male"}
    crp = events[events["code"] == "LOINC/1988-5"]
    day = index.reindex(crp["subject_id"]).to_numpy()
    assert (crp["time"].dt.normalize().to_numpy() <= day).all()
    assert (crp["time"].dt.normalize().to_numpy() >= day - np.timedelta64(365, "D")).all()
    every = records.events
    expected = every[(every["code"] == "LOINC/1988-5")]
    expected_day = index.reindex(expected["subject_id"]).to_numpy()
    expected = expected[
        (expected["time"].to_numpy() <= expected_day)
        & (expected["time"].to_numpy() >= expected_day - np.timedelta64(365, "D"))
    ]
    assert len(crp) == len(expected) > 0
    # A list of ids: those persons, every date.
    some = list(index.index[:3])
    assert set(read_omop(cohort_dir / "omop.duckdb", patients=some)["subject_id"]) == set(some)


def test_small_chunks_give_the_same_events(cohort_dir):
    whole = read_omop(cohort_dir / "omop.duckdb")
    chunked = read_omop(cohort_dir / "omop.duckdb", chunksize=7)
    pd.testing.assert_frame_equal(_sorted(whole), _sorted(chunked))


def _database(tmp_path, events, edit=None):
    path = write_omop(as_events(events), tmp_path / "cdm.duckdb")
    if edit:
        with duckdb.connect(str(path)) as connection:
            connection.execute(edit)
    return path


_CRP = {"subject_id": "p1", "time": "2020-01-02", "code": "LOINC/1988-5",
        "numeric_value": 1.5, "unit": "mg/dL"}  # fmt: skip


def test_units_are_normalised_and_source_values_honoured(tmp_path):
    # The standard concept unmapped (0): the source value, one of our codes, is used.
    path = _database(
        tmp_path, [_CRP], "UPDATE measurement SET measurement_concept_id = 0, unit_concept_id = 0"
    )
    events = read_omop(path)
    crp = events[events["code"] == "LOINC/1988-5"]
    assert crp[["numeric_value", "unit"]].to_dict("records") == [
        {"numeric_value": 15.0, "unit": "mg/L"}
    ]


def test_unmapped_concept_is_one_line_or_skipped(tmp_path):
    path = _database(
        tmp_path,
        [_CRP],
        "UPDATE measurement SET measurement_concept_id = 123, measurement_source_value = 'crp'",
    )
    with pytest.raises(OMOPReadError) as caught:
        read_omop(path)
    message = str(caught.value)
    assert "\n" not in message and "unmapped concept" in message
    assert "measurement_concept_id 123" in message and "errors='skip'" in message
    events = read_omop(path, errors="skip")
    assert "LOINC/1988-5" not in set(events["code"])
    assert events.attrs["read_report"].skipped["unmapped concept"] == 1


def test_missing_table_and_column_are_one_line(tmp_path):
    path = _database(tmp_path, [_CRP], "DROP TABLE drug_exposure")
    with pytest.raises(OMOPReadError, match=r"has no table drug_exposure.*schema"):
        read_omop(path)
    (tmp_path / "b").mkdir()
    path = _database(tmp_path / "b", [_CRP], "ALTER TABLE measurement DROP COLUMN unit_concept_id")
    with pytest.raises(OMOPReadError, match=r"measurement lacks the columns \['unit_concept_id'\]"):
        read_omop(path)


def test_missing_file_and_bad_url_are_one_line(tmp_path):
    with pytest.raises(OMOPReadError, match="not found: give the path of an OMOP CDM DuckDB"):
        read_omop(tmp_path / "none.duckdb")
    with pytest.raises(OMOPReadError, match="not a SQLAlchemy URL"):
        read_omop("postgresql://user:pw@[::1")


def test_refused_connection_names_the_server_without_the_password():
    secret = "s3cr3t-Pa55"
    with pytest.raises(OMOPReadError) as caught:
        read_omop(f"postgresql://alice:{secret}@127.0.0.1:9/cdm?connect_timeout=2")
    message = str(caught.value)
    assert secret not in message and "***" in message
    assert message.startswith("Cannot connect to postgresql+psycopg://alice:***@127.0.0.1:9/cdm")
    assert "\n" not in message


def test_duckdb_connection_and_sqlalchemy_forms(cohort_dir):
    import sqlalchemy as sa

    expected = _sorted(read_omop(cohort_dir / "omop.duckdb"))
    with duckdb.connect(str(cohort_dir / "omop.duckdb"), read_only=True) as connection:
        pd.testing.assert_frame_equal(_sorted(read_omop(connection)), expected)
    with pytest.raises(OMOPReadError, match="Cannot read OMOP from a dict"):
        read_omop({})
    assert sa  # SQLAlchemy engines are tested against PostgreSQL (test_omop_postgres.py)


def test_read_cohort_from_the_folder_database_or_a_url(cohort_dir):
    from_csv = read_cohort(cohort_dir, source="csv")
    for records in (
        read_cohort(cohort_dir, source="omop"),
        read_cohort(cohort_dir, omop=f"duckdb:///{cohort_dir / 'omop.duckdb'}"),
    ):
        pd.testing.assert_frame_equal(records.patients, from_csv.patients)
        pd.testing.assert_series_equal(records.labels, from_csv.labels)
        # Only the facts up to each index day come out of the database.
        day = records.patients["index_date"].reindex(records.events["subject_id"]).to_numpy()
        timed = records.events["time"].notna().to_numpy()
        assert (records.events["time"].to_numpy()[timed] <= day[timed]).all()
        pd.testing.assert_frame_equal(
            _features(records.events, records.patients),
            _features(from_csv.events, from_csv.patients),
        )
    with pytest.raises(Exception, match="reads the events from that database"):
        read_cohort(cohort_dir, source="csv", omop=cohort_dir / "omop.duckdb")


def test_cohort_query_with_the_ra_label(cohort_dir, tmp_path):
    from ramultimodal.io import ra_label_sql

    from_csv = read_cohort(cohort_dir, source="csv")
    query = tmp_path / "cohort.sql"
    # Index dates from the database: 30 days after each person's first visit.
    query.write_text(
        "WITH cohort AS (SELECT p.person_id, p.person_source_value, "
        "MIN(v.visit_start_date) + 30 AS index_date FROM person p "
        "JOIN visit_occurrence v ON v.person_id = p.person_id GROUP BY 1, 2) "
        "SELECT c.person_source_value, c.index_date, l.label FROM cohort c "
        f"JOIN ({ra_label_sql()}) l ON l.person_id = c.person_id"
    )
    records = read_cohort(cohort_dir, omop=cohort_dir / "omop.duckdb", omop_cohort_sql=query)
    assert set(records.patients.index) == set(from_csv.patients.index)
    # The label by hand from the events: an RA diagnosis and a csDMARD within a year.
    events, index = from_csv.events, records.patients["index_date"]
    day = index.reindex(events["subject_id"]).to_numpy()
    near = (events["time"].to_numpy() >= day) & (
        events["time"].to_numpy() <= day + np.timedelta64(365, "D")
    )
    ra = {"SNOMED/69896004", "SNOMED/239791005", "SNOMED/239792003"}
    dmard = {"RXNORM/6851", "RXNORM/9524", "RXNORM/5521", "RXNORM/27169"}
    diagnosed = set(events.loc[near & events["code"].isin(ra).to_numpy(), "subject_id"])
    treated = set(events.loc[near & events["code"].isin(dmard).to_numpy(), "subject_id"])
    expected = pd.Series(records.patients.index.isin(list(diagnosed & treated)).astype(int))
    assert records.labels.tolist() == expected.tolist()
    assert records.labels.sum() > 0


def test_cohort_query_errors_are_one_line(cohort_dir, tmp_path):
    query = tmp_path / "bad.sql"
    query.write_text("SELECT person_id FROM person")
    with pytest.raises(OMOPReadError, match=r"must return person_source_value .* and index_date"):
        read_cohort(cohort_dir, omop=cohort_dir / "omop.duckdb", omop_cohort_sql=query)
    query.write_text("SELECT * FROM no_such_table")
    with pytest.raises(OMOPReadError, match=r"the cohort query .*bad.sql failed: .*no_such_table"):
        read_cohort(cohort_dir, omop=cohort_dir / "omop.duckdb", omop_cohort_sql=query)


def test_synth_command_writes_the_omop_database(tmp_path):
    from ramultimodal.cli import main

    out = tmp_path / "c"
    assert main(["synth", str(out), "--n-patients", "6", "--formats", "omop", "-q"]) == 0
    with duckdb.connect(str(out / "omop.duckdb"), read_only=True) as connection:
        tables = {name for (name,) in connection.sql("SHOW TABLES").fetchall()}
        unmapped = connection.sql(
            "SELECT COUNT(*) FROM measurement m LEFT JOIN concept c "
            "ON c.concept_id = m.measurement_concept_id WHERE c.concept_id IS NULL"
        ).fetchall()[0][0]
    assert tables == {
        "person", "observation_period", "measurement", "observation", "condition_occurrence",
        "drug_exposure", "procedure_occurrence", "visit_occurrence", "concept",
        "concept_ancestor",
    }  # fmt: skip
    assert unmapped == 0  # every concept the generator uses is in concept
    records = read_cohort(out)  # the only events source: found by source="auto"
    assert len(records) == 6 and len(records.events) > 0


def test_index_dates_outside_the_observation_periods_are_counted(cohort_dir, caplog):
    records = read_cohort(cohort_dir, source="csv")
    index = records.patients["index_date"].copy()
    index.iloc[:2] = pd.Timestamp("1900-01-01")  # before anyone's record
    read_omop(cohort_dir / "omop.duckdb", patients=index, codes=["LOINC/1988-5"])
    assert "2 patients have an index date outside their observation periods" in caplog.text


def test_load_dataset_is_the_same_from_omop_fhir_and_csv(cohort_dir):
    import ramultimodal

    X_csv, y_csv = ramultimodal.load_dataset(cohort_dir, source="csv")
    for source in ("omop", "fhir-ndjson"):
        X, y = ramultimodal.load_dataset(cohort_dir, source=source)
        pd.testing.assert_frame_equal(X, X_csv)
        pd.testing.assert_series_equal(y, y_csv)
