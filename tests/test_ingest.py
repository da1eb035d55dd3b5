"""FHIR NDJSON read in byte ranges and ingested to MEDS: the events of read_fhir, row for row."""

from __future__ import annotations

import filecmp
import gzip
import json
from pathlib import Path

import orjson
import pandas as pd
import pytest

from ramultimodal.cli import main
from ramultimodal.distributed import ingest_fhir
from ramultimodal.io import FHIRReadError, read_fhir, read_meds
from ramultimodal.io._ndjson_chunks import ndjson_ranges
from ramultimodal.io._range_merge import read_ranges
from ramultimodal.io._range_reader import read_range
from ramultimodal.synthetic import make_cohort, write_cohort


@pytest.fixture(scope="module")
def cohort():
    return make_cohort(20, image_size=32, seed=5)


@pytest.fixture(scope="module")
def ndjson(cohort, tmp_path_factory) -> Path:
    out = write_cohort(cohort, tmp_path_factory.mktemp("nd") / "c", formats=["fhir-ndjson"])
    return out / "fhir" / "ndjson"


def sorted_rows(events: pd.DataFrame) -> pd.DataFrame:
    return events.sort_values(list(events.columns), na_position="first").reset_index(drop=True)


def test_every_line_is_read_by_exactly_one_range(ndjson):
    path = ndjson / "Condition.ndjson"
    lines = path.read_bytes().count(b"\n")
    for chunk_bytes in (997, 4096, 10**9):
        ranges = ndjson_ranges(path, chunk_bytes=chunk_bytes)
        assert sum(read_range(r).lines for r in ranges) == lines


@pytest.mark.parametrize("chunk_bytes", [2000, 50_000, 10**9])
def test_ranges_give_the_events_of_read_fhir(ndjson, chunk_bytes):
    expected = read_fhir(ndjson)
    ranges = ndjson_ranges(ndjson, chunk_bytes=chunk_bytes)
    events = read_ranges(ranges)
    assert len(ranges) >= len(list(ndjson.iterdir()))
    # Row for row, in read_fhir's order (ties broken by reading order as in read_fhir).
    pd.testing.assert_frame_equal(sorted_rows(events), sorted_rows(expected))
    assert str(events.attrs["read_report"]) == str(expected.attrs["read_report"])


def test_gzip_files_are_one_range_each(cohort, tmp_path):
    out = write_cohort(cohort, tmp_path / "c", formats=["fhir-ndjson"], gzip=True)
    folder = out / "fhir" / "ndjson"
    ranges = ndjson_ranges(folder, chunk_bytes=1000)
    assert len(ranges) == len(list(folder.glob("*.ndjson.gz")))
    assert all(r.whole for r in ranges)
    expected = read_fhir(folder)
    # Read whole, and in parts of 3000 bytes of lines (a task holds one part at a time).
    for part_bytes in (10**9, 3000):
        events = read_ranges(ranges, part_bytes=part_bytes)
        pd.testing.assert_frame_equal(sorted_rows(events), sorted_rows(expected))
        assert str(events.attrs["read_report"]) == str(expected.attrs["read_report"])
    report = ingest_fhir(folder, tmp_path / "meds", n_shards=2, chunk_bytes=3000)
    assert str(report) == str(expected.attrs["read_report"])
    pd.testing.assert_frame_equal(sorted_rows(read_meds(tmp_path / "meds")), sorted_rows(expected))


def test_a_gzip_file_cut_short_is_named_as_read_fhir_names_it(tmp_path):
    data = b"".join(orjson.dumps(observation(i, "x")) + b"\n" for i in range(50))
    path = tmp_path / "Observation.ndjson.gz"
    path.write_bytes(gzip.compress(data)[:-200])
    with pytest.raises(FHIRReadError) as whole:
        read_fhir(path)
    for part_bytes in (10**9, 500):
        with pytest.raises(FHIRReadError) as chunked:
            read_ranges(ndjson_ranges(path), part_bytes=part_bytes)
        assert str(chunked.value) == str(whole.value)
        skipped = read_ranges(ndjson_ranges(path), part_bytes=part_bytes, errors="skip")
        pd.testing.assert_frame_equal(skipped, read_fhir(path, errors="skip"))


def observation(number: int, text: str) -> dict:
    return {
        "resourceType": "Observation",
        "id": f"o{number}",
        "status": "final",
        "subject": {"reference": f"Patient/p{number % 3}"},
        "effectiveDateTime": "2020-01-02",
        "code": {"coding": [{"system": "http://loinc.org", "code": "72166-2"}]},
        "valueString": text,
    }


def test_a_range_boundary_inside_a_multibyte_character(tmp_path):
    path = tmp_path / "Observation.ndjson"
    text = "Raucher – früher 😀 ✓"
    path.write_bytes(b"".join(orjson.dumps(observation(i, text)) + b"\n" for i in range(6)))
    data = path.read_bytes()
    inside = data.index("😀".encode()) + 2  # the third of its four bytes
    expected = read_fhir(path)
    for chunk_bytes in (inside, inside - 1, inside + 1, 7):
        events = read_ranges(ndjson_ranges(path, chunk_bytes=chunk_bytes))
        pd.testing.assert_frame_equal(events, expected)
    assert set(expected["text_value"]) == {text}


def test_a_bad_line_is_named_by_its_file_and_true_line(ndjson, tmp_path):
    lines = (ndjson / "Observation.ndjson").read_bytes().splitlines(keepends=True)
    lines[136] = b'{"resourceType": "Observation", "id": \n'  # line 137
    path = tmp_path / "Observation.ndjson"
    path.write_bytes(b"".join(lines))
    with pytest.raises(FHIRReadError, match="line 137") as whole:
        read_fhir(path)
    ranges = ndjson_ranges(path, chunk_bytes=5000)
    with pytest.raises(FHIRReadError) as chunked:
        read_ranges(ranges)
    assert str(chunked.value) == str(whole.value)
    assert chunked.value.problems == whole.value.problems
    skipped = read_ranges(ranges, errors="skip").attrs["read_report"]
    assert skipped.problems == read_fhir(path, errors="skip").attrs["read_report"].problems


def medication_request(number: int, reference: str) -> dict:
    return {
        "resourceType": "MedicationRequest",
        "id": f"m{number}",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/p{number}"},
        "authoredOn": "2020-03-01",
        "medicationReference": {"reference": reference},
    }


RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def test_a_medication_in_another_file_or_range(tmp_path):
    medication = {
        "resourceType": "Medication",
        "id": "mtx",
        "code": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "6851"}]
        },
    }
    requests = [medication_request(i, "Medication/mtx") for i in range(30)]
    (tmp_path / "MedicationRequest.ndjson").write_bytes(
        b"".join(orjson.dumps(r) + b"\n" for r in requests)
    )
    # Read after the requests, in name order.
    (tmp_path / "Z.ndjson").write_bytes(orjson.dumps(medication) + b"\n")
    expected = read_fhir(tmp_path)
    events = read_ranges(ndjson_ranges(tmp_path, chunk_bytes=500))
    pd.testing.assert_frame_equal(events, expected)
    assert set(events["code"]) == {"RXNORM/6851"}

    requests[17] = medication_request(17, "Medication/gone")
    (tmp_path / "MedicationRequest.ndjson").write_bytes(
        b"".join(orjson.dumps(r) + b"\n" for r in requests)
    )
    with pytest.raises(FHIRReadError) as whole:
        read_fhir(tmp_path)
    with pytest.raises(FHIRReadError) as chunked:
        read_ranges(ndjson_ranges(tmp_path, chunk_bytes=500))
    assert "MedicationRequest.ndjson, line 18, MedicationRequest/m17" in str(whole.value)
    assert str(chunked.value) == str(whole.value)


def with_updated(resource: dict, when: str | None) -> dict:
    return {**resource, "meta": {"lastUpdated": when}} if when else resource


@pytest.mark.parametrize(
    ("second", "first_updated", "second_updated"),
    [
        ("same", None, None),  # identical: the first stands
        ("other", "2021-01-01T00:00:00Z", "2022-01-01T00:00:00Z"),  # the newer stands
        ("other", "2022-01-01T00:00:00Z", "2021-01-01T00:00:00Z"),  # the older goes
    ],
)
def test_versions_in_other_ranges_are_those_read_fhir_keeps(
    tmp_path, second, first_updated, second_updated
):
    resources = [observation(i, f"value {i}") for i in range(20)]
    version = observation(7, "value 7" if second == "same" else "corrected")
    path = tmp_path / "A.ndjson"
    lines = [with_updated(r, first_updated if i == 7 else None) for i, r in enumerate(resources)]
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in lines))
    (tmp_path / "B.ndjson").write_bytes(orjson.dumps(with_updated(version, second_updated)))
    expected = read_fhir(tmp_path)
    for chunk_bytes in (300, 10**6):
        events = read_ranges(ndjson_ranges(tmp_path, chunk_bytes=chunk_bytes))
        pd.testing.assert_frame_equal(events, expected)
        assert str(events.attrs["read_report"]) == str(expected.attrs["read_report"])
    report = ingest_fhir(tmp_path, tmp_path.parent / f"{tmp_path.name}-meds", n_shards=2)
    assert str(report) == str(expected.attrs["read_report"])


def test_conflicting_versions_in_other_files(tmp_path):
    (tmp_path / "A.ndjson").write_bytes(orjson.dumps(observation(1, "one")) + b"\n")
    (tmp_path / "B.ndjson").write_bytes(orjson.dumps(observation(1, "two")) + b"\n")
    with pytest.raises(FHIRReadError, match="does not tell"):
        read_fhir(tmp_path)
    with pytest.raises(FHIRReadError, match=r"B\.ndjson, Observation/o1: another version .* A\.nd"):
        read_ranges(ndjson_ranges(tmp_path))
    expected = read_fhir(tmp_path, errors="skip")
    events = read_ranges(ndjson_ranges(tmp_path), errors="skip")
    pd.testing.assert_frame_equal(events, expected)
    assert str(events.attrs["read_report"]) == str(expected.attrs["read_report"])


def test_ingest_gives_the_events_of_read_fhir(ndjson, tmp_path):
    report = ingest_fhir(ndjson, tmp_path / "meds", n_shards=3, chunk_bytes=20_000)
    expected = read_fhir(ndjson)
    pd.testing.assert_frame_equal(sorted_rows(read_meds(tmp_path / "meds")), sorted_rows(expected))
    assert report.events == len(expected)
    assert str(report) == str(expected.attrs["read_report"])
    assert sorted(p.name for p in (tmp_path / "meds" / "data").iterdir()) == [
        "0.parquet",
        "1.parquet",
        "2.parquet",
    ]
    assert not list(tmp_path.glob("meds/.ingest-parts"))


def test_ingest_of_files_without_events(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "Observation.ndjson").write_bytes(b"")
    (folder / "Claim.ndjson").write_bytes(b'{"resourceType": "Claim", "id": "c1"}\n')
    (folder / "notes.txt").write_text("not FHIR")
    report = ingest_fhir(folder, tmp_path / "meds", n_shards=2)
    assert str(report) == str(read_fhir(folder).attrs["read_report"])
    assert report.files_ignored == 1 and report.events == 0
    assert len(read_meds(tmp_path / "meds")) == 0


def test_ingest_writes_nothing_on_a_bad_line(tmp_path):
    path = tmp_path / "in" / "Observation.ndjson"
    path.parent.mkdir()
    path.write_bytes(orjson.dumps(observation(1, "x")) + b"\nnot json\n")
    with pytest.raises(FHIRReadError, match=r"Observation\.ndjson, line 2"):
        ingest_fhir(path.parent, tmp_path / "meds", n_shards=2, chunk_bytes=10)
    assert not (tmp_path / "meds").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in"]


def test_ingest_on_a_local_cluster_writes_the_same_folder(ndjson, tmp_path):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_cluster = ingest_fhir(
            ndjson, tmp_path / "dask", n_shards=3, chunk_bytes=50_000, client=client
        )
        # A problem raised on a worker reaches the caller whole, with its file and line.
        bad = tmp_path / "bad" / "Observation.ndjson"
        bad.parent.mkdir()
        bad.write_bytes(b"\n" * 40 + b"[1]\n")
        with pytest.raises(FHIRReadError, match=r"Observation\.ndjson, line 41") as error:
            ingest_fhir(bad.parent, tmp_path / "never", chunk_bytes=8, client=client)
        assert error.value.problems[0].line == 41
        # The command line: convert --scheduler hands FHIR NDJSON to ingest_fhir.
        command = ["convert", str(ndjson), "--to", "meds", str(tmp_path / "cli"), "-q"]
        assert main([*command, "--n-shards", "3", "--scheduler", cluster.scheduler_address]) == 0
    here = ingest_fhir(ndjson, tmp_path / "here", n_shards=3, chunk_bytes=50_000)
    assert str(on_cluster) == str(here)
    files = sorted(p.relative_to(tmp_path / "here") for p in (tmp_path / "here").rglob("*.*"))
    assert files == sorted(
        p.relative_to(tmp_path / "dask") for p in (tmp_path / "dask").rglob("*.*")
    )
    for name in files:
        if name.name == "dataset.json":  # holds when it was written
            continue
        assert filecmp.cmp(tmp_path / "here" / name, tmp_path / "dask" / name, shallow=False), name
    dataset = json.loads((tmp_path / "dask" / "metadata" / "dataset.json").read_text())
    assert dataset["dataset_name"] == "ramultimodal"
    # convert without a scheduler reads in this process (read_fhir, write_meds): same events.
    assert main([*command[:4], str(tmp_path / "cli-here"), "-q", "--n-shards", "3"]) == 0
    pd.testing.assert_frame_equal(
        sorted_rows(read_meds(tmp_path / "cli")), sorted_rows(read_meds(tmp_path / "cli-here"))
    )
    for name in files:
        if name.parts[0] == "data":
            assert filecmp.cmp(tmp_path / "cli" / name, tmp_path / "here" / name), name
