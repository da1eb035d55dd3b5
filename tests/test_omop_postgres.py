"""OMOP on a real PostgreSQL server (started here; skipped without PostgreSQL): the CLI
trains and predicts from it with the same predictions as from the cohort's files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

from ramultimodal.cli import main
from ramultimodal.io import OMOPReadError, ra_label_sql, read_cohort, read_omop
from ramultimodal.io._write_omop import omop_tables
from ramultimodal.synthetic import make_cohort, write_cohort

# The server helper beside this file (tests are not a package; benchmarks load it too).
_spec = importlib.util.spec_from_file_location(
    "postgres_server", Path(__file__).with_name("postgres_server.py")
)
postgres_server_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(postgres_server_module)
PASSWORD = postgres_server_module.PASSWORD
load_omop, postgres_server = (
    postgres_server_module.load_omop,
    postgres_server_module.postgres_server,
)

_CONFIG = {"image_params": {"image_size": 32, "max_epochs": 1, "batch_size": 16},
           "fusion_params": {"cv": 2}}  # fmt: skip


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """(cohort folder with CSV and PNG, URL of a server holding its OMOP tables in cdm)."""
    root = tmp_path_factory.mktemp("pg")
    cohort = make_cohort(40, seed=1, image_size=32)
    folder = write_cohort(cohort, root / "cohort", formats=["csv", "png", "omop"])
    with postgres_server() as url:
        load_omop(url, omop_tables(cohort.events), schema="cdm")
        yield folder, url


def test_train_and_predict_from_postgres_match_the_files(warehouse, tmp_path):
    folder, url = warehouse
    config = tmp_path / "config.json"
    config.write_text(json.dumps(_CONFIG))
    model = tmp_path / "model"
    common = ["--omop", url, "--omop-schema", "cdm", "-q"]
    train = ["train", "--data", str(folder), "--model", "late", "--config", str(config)]
    assert main([*train, "--out", str(model), *common]) == 0
    from_db, from_files = tmp_path / "db.csv", tmp_path / "files.csv"
    predict = ["predict", "--model", str(model), "--data", str(folder)]
    assert main([*predict, "--out", str(from_db), *common]) == 0
    assert main([*predict, "--out", str(from_files), "--source", "csv", "-q"]) == 0
    db, files = pd.read_csv(from_db), pd.read_csv(from_files)
    assert len(db) == 40
    pd.testing.assert_frame_equal(db, files)
    # And the same as the embedded DuckDB file of the same patients.
    duck = tmp_path / "duck.csv"
    assert main([*predict, "--out", str(duck), "--source", "omop", "-q"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(duck), files)
    report = tmp_path / "report"
    evaluate = ["evaluate", "--data", str(folder), "--model", str(model), "--n-boot", "20"]
    assert main([*evaluate, "--report", str(report), *common]) == 0
    assert (report / "report.html").is_file()


def test_postgres_gives_the_duckdb_events_in_every_connection_form(warehouse):
    import psycopg
    import sqlalchemy as sa

    folder, url = warehouse
    columns = ["subject_id", "time", "code", "numeric_value", "text_value", "unit"]
    expected = read_omop(folder / "omop.duckdb")[columns]
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    patients = read_cohort(folder, source="csv").patients["index_date"]
    with psycopg.connect(url) as connection, engine.connect() as borrowed:
        for form in (url, engine, connection, borrowed):
            pd.testing.assert_frame_equal(read_omop(form, schema="cdm")[columns], expected)
        # With a cohort: the temporary table is dropped from a caller's Connection, which
        # stays open.
        read_omop(borrowed, schema="cdm", patients=patients)
        assert not sa.inspect(borrowed).has_table("ramultimodal_cohort")
        assert not borrowed.closed
    engine.dispose()


def test_cohort_query_and_ra_label_on_postgres(warehouse, tmp_path):
    folder, url = warehouse
    query = tmp_path / "cohort.sql"
    query.write_text(
        "WITH cohort AS (SELECT p.person_id, p.person_source_value, "
        "MIN(v.visit_start_date) + 30 AS index_date FROM cdm.person p "
        "JOIN cdm.visit_occurrence v ON v.person_id = p.person_id GROUP BY 1, 2) "
        "SELECT c.person_source_value, c.index_date, l.label FROM cohort c "
        f"JOIN ({ra_label_sql(schema='cdm')}) l ON l.person_id = c.person_id"
    )
    on_postgres = read_cohort(folder, omop=url, omop_schema="cdm", omop_cohort_sql=query)
    query.write_text(query.read_text().replace("cdm.", "").replace('"cdm".', ""))
    on_duckdb = read_cohort(folder, omop=folder / "omop.duckdb", omop_cohort_sql=query)
    # A query without ORDER BY: the rows come in each database's own order.
    pd.testing.assert_frame_equal(
        on_postgres.patients.sort_index(), on_duckdb.patients.sort_index()
    )
    pd.testing.assert_series_equal(on_postgres.labels.sort_index(), on_duckdb.labels.sort_index())
    assert on_postgres.labels.sum() > 0


def test_postgres_errors_are_one_line_without_the_password(warehouse, caplog):
    folder, url = warehouse
    caplog.set_level("DEBUG")
    read_omop(url, schema="cdm", patients=["nobody"])
    assert "***" in caplog.text and PASSWORD not in caplog.text  # what the log says
    with pytest.raises(OMOPReadError) as caught:
        read_omop(url.replace(PASSWORD, "Wrong-Pass-99"), schema="cdm")
    message = str(caught.value)
    assert "password authentication failed" in message and "***" in message
    assert "Wrong-Pass-99" not in message and PASSWORD not in message and "\n" not in message
    with pytest.raises(OMOPReadError) as caught:
        read_omop(url, schema="no_such_schema")
    message = str(caught.value)
    assert "(schema no_such_schema) has no table" in message and PASSWORD not in message
    assert main(["predict", "--model", "nowhere", "--data", str(folder), "--out", "x.csv",
                 "--omop", url.replace(PASSWORD, "Wrong-Pass-99")]) == 1  # fmt: skip
