"""Fuzzing every reader: any bytes give events (or an image), or the project's own error.

The property, for FHIR (Bundles, NDJSON, gzip), long and wide CSV, DICOM, PNG and the cohort
folder: reading random or mutated input returns, or raises the reader's documented error
(`FHIRReadError`, `CSVReadError`, `ImageReadError`, `DatasetError`), within a time limit;
never another exception type, never a hang.

Two profiles: by default a few dozen cases per reader, derandomised, as part of the suite
(well under two minutes); ``RAMULTIMODAL_FUZZ=long`` runs 100,000 random cases per reader
and ``RAMULTIMODAL_FUZZ=2000`` that many (``python benchmarks/fuzz_readers.py`` runs and
times them).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import signal
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramultimodal.io import (
    CSVReadError,
    DatasetError,
    FHIRReadError,
    ImageReadError,
    events_to_fhir,
    read_cohort,
    read_events_csv,
    read_fhir,
    read_image,
    read_wide_csv,
    write_dicom,
    write_png,
)

# "long": 100,000 random cases per reader; a number: that many; unset: the suite's few.
_PROFILE = os.environ.get("RAMULTIMODAL_FUZZ", "")
LONG = bool(_PROFILE)
FUZZ = settings(
    max_examples=100_000 if _PROFILE == "long" else int(_PROFILE or 25),
    deadline=None,
    database=None,
    derandomize=not LONG,
    suppress_health_check=list(HealthCheck),
)
# A case that takes longer than this has hung (the slowest seed reads in about 0.1 s).
TIME_LIMIT_S = 20


@contextlib.contextmanager
def time_limit(seconds: float = TIME_LIMIT_S):
    """Raise TimeoutError in the block after `seconds` (a hang fails the test)."""

    def expire(signum, frame):
        raise TimeoutError(f"the reader took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def read_or_refuse(read, allowed: tuple[type[BaseException], ...]):
    """Call `read`; a documented error is a refusal, anything else fails the test."""
    with time_limit(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return read()
        except allowed as error:
            assert "\n" not in str(error).strip() or isinstance(error, FHIRReadError), error
            return None


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """The seed truncated, with bytes flipped, inserted or deleted; or random bytes."""
    n = len(seed)
    truncated = st.integers(0, n).map(lambda i: seed[:i])
    flipped = st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 255)), max_size=8).map(
        lambda flips: _flip(seed, flips)
    )
    spliced = st.tuples(st.integers(0, n), st.integers(0, n), st.binary(max_size=32)).map(
        lambda t: seed[: min(t[0], t[1])] + t[2] + seed[max(t[0], t[1]) :]
    )
    return st.one_of(truncated, flipped, spliced, st.binary(max_size=512))


def _flip(seed: bytes, flips: list[tuple[int, int]]) -> bytes:
    data = bytearray(seed)
    for position, value in flips:
        data[position] = value
    return bytes(data)


# -- seeds: valid files of every kind -------------------------------------------------------

EVENTS = pd.DataFrame(
    {
        "subject_id": ["p1"] * 5,
        "time": [None, "1960-04-01", "2020-01-02", "2020-01-02", "2020-01-03"],
        "code": ["GENDER/female", "MEDS_BIRTH", "LOINC/1988-5", "LOINC/4537-7", "SNOMED/57676002"],
        "numeric_value": [None, None, 12.5, 30.0, None],
        "text_value": [None] * 5,
        "unit": [None, None, "mg/L", "mm/h", None],
    }
)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seeds")
    (resources,) = events_to_fhir(EVENTS).values()
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": r} for r in resources]}  # fmt: skip
    ndjson = "".join(json.dumps(r) + "\n" for r in resources).encode()
    csv = EVENTS.to_csv(index=False).encode()
    wide = b"id,sex,born,visit,crp,smoker\np1,female,1960-05-01,2020-01-02,1.5,former\n"
    pixels = (np.arange(64 * 48).reshape(64, 48) % 4096).astype(np.uint16)
    write_dicom(folder / "hand.dcm", pixels, patient_id="p1", study_date="2020-01-02",
                study_uid="1.2.3", series_uid="1.2.3.4", sop_uid="1.2.3.4.5", laterality="R",
                pixel_spacing_mm=0.1)  # fmt: skip
    write_png(folder / "hand.png", pixels)
    return {
        "bundle": json.dumps(bundle).encode(),
        "ndjson": ndjson,
        "ndjson.gz": gzip.compress(ndjson),
        "csv": csv,
        "wide": wide,
        "dicom": (folder / "hand.dcm").read_bytes(),
        "png": (folder / "hand.png").read_bytes(),
    }


@pytest.fixture(scope="module")
def cohort_folder(tmp_path_factory, seeds):
    folder = tmp_path_factory.mktemp("cohort")
    (folder / "images").mkdir()
    (folder / "images" / "hand.png").write_bytes(seeds["png"])
    (folder / "events.csv").write_bytes(seeds["csv"])
    (folder / "patients.csv").write_text("subject_id,index_date\np1,2020-06-01\np2,2020-06-01\n")
    (folder / "labels.csv").write_text("subject_id,ra\np1,1\np2,0\n")
    (folder / "images.csv").write_text(
        "subject_id,path,body_part,study_time\np1,images/hand.png,HAND,2020-01-02\n"
    )
    return folder


# -- FHIR ---------------------------------------------------------------------------------

FIELDS = [
    "resourceType", "id", "status", "subject", "patient", "code", "coding", "system",
    "valueQuantity", "value", "unit", "component", "effectiveDateTime", "issued", "entry",
    "resource", "fullUrl", "reference", "verificationStatus", "medicationReference",
    "medicationCodeableConcept", "birthDate", "gender", "meta", "lastUpdated", "item",
    "answer", "linkId", "valueCoding", "modality", "series", "period", "start", "type",
]  # fmt: skip
TYPES = [
    "Patient", "Observation", "Condition", "Procedure", "MedicationRequest",
    "MedicationStatement", "Encounter", "DiagnosticReport", "QuestionnaireResponse",
    "ImagingStudy", "Medication", "Bundle", "Claim",
]  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=4), children, max_size=5)
    ),
    max_leaves=24,
)
RESOURCES = st.builds(
    lambda kind, fields: {"resourceType": kind, **fields},
    st.sampled_from(TYPES),
    st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=8),
)


def fhir_file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@FUZZ
@given(data=st.data(), errors=st.sampled_from(["raise", "skip"]))
def test_fhir_files_of_any_bytes(seeds, tmp_path, data, errors):
    kind = data.draw(st.sampled_from(["bundle", "ndjson", "ndjson.gz"]))
    name = {"bundle": "b.json", "ndjson": "r.ndjson", "ndjson.gz": "r.ndjson.gz"}[kind]
    path = fhir_file(tmp_path, name, data.draw(mutated(seeds[kind])))
    events = read_or_refuse(lambda: read_fhir(path, errors=errors), (FHIRReadError,))
    assert events is None or isinstance(events, pd.DataFrame)


@FUZZ
@given(resources=st.lists(RESOURCES | JSON, max_size=6), errors=st.sampled_from(["raise", "skip"]))
def test_fhir_resources_of_any_shape(tmp_path, resources, errors):
    bundle = {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]}
    for name, text in (
        ("b.json", json.dumps(bundle)),
        ("r.ndjson", "".join(json.dumps(r) + "\n" for r in resources)),
    ):
        path = fhir_file(tmp_path, name, text.encode())
        events = read_or_refuse(lambda p=path: read_fhir(p, errors=errors), (FHIRReadError,))
        assert events is None or isinstance(events, pd.DataFrame)
        path.unlink()


# -- CSV ----------------------------------------------------------------------------------

CSV_TEXT = st.text(alphabet=st.sampled_from(list('ab1.,;"\n-/: é<')), max_size=300)


@FUZZ
@given(data=st.data(), errors=st.sampled_from(["raise", "skip"]))
def test_csv_files_of_any_bytes(seeds, tmp_path, data, errors):
    wide = data.draw(st.booleans())
    raw = data.draw(mutated(seeds["wide" if wide else "csv"]) | CSV_TEXT.map(str.encode))
    path = tmp_path / "e.csv"
    path.write_bytes(raw)
    if wide:
        mapping = {"sex": "GENDER", "born": "MEDS_BIRTH", "crp": "LOINC/1988-5",
                   "smoker": "LOINC/72166-2"}  # fmt: skip

        def read():
            return read_wide_csv(
                path, mapping=mapping, subject_column="id", time_column="visit", errors=errors
            )
    else:

        def read():
            return read_events_csv(path, errors=errors)

    events = read_or_refuse(read, (CSVReadError,))
    assert events is None or isinstance(events, pd.DataFrame)


# -- images -------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_images_of_any_bytes(seeds, tmp_path, data):
    kind = data.draw(st.sampled_from(["dicom", "png"]))
    path = tmp_path / f"x.{'dcm' if kind == 'dicom' else 'png'}"
    path.write_bytes(data.draw(mutated(seeds[kind])))
    result = read_or_refuse(lambda: read_image(path, target_size=32), (ImageReadError,))
    if result is not None:
        pixels, _ = result
        assert pixels.ndim == 2 and np.isfinite(pixels).all()


# -- the cohort folder ----------------------------------------------------------------------

TABLES = {
    "patients.csv": b"subject_id,index_date\np1,2020-06-01\np2,2020-06-01\n",
    "labels.csv": b"subject_id,ra\np1,1\np2,0\n",
    "images.csv": b"subject_id,path,body_part,study_time\np1,images/hand.png,HAND,2020-01-02\n",
}


@FUZZ
@given(data=st.data(), errors=st.sampled_from(["raise", "skip"]))
def test_cohort_folders_of_any_tables(cohort_folder, tmp_path, data, errors):
    folder = tmp_path / "cohort"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(cohort_folder, folder)
    name = data.draw(st.sampled_from(sorted(TABLES)))
    (folder / name).write_bytes(data.draw(mutated(TABLES[name]) | CSV_TEXT.map(str.encode)))
    records = read_or_refuse(
        lambda: read_cohort(folder, errors=errors),
        (DatasetError, CSVReadError, FHIRReadError),
    )
    assert records is None or len(records) == len(records.patients)


# -- MEDS ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def meds_folder(tmp_path_factory):
    from ramultimodal.io import as_events, write_meds

    return write_meds(as_events(EVENTS.assign(source=None)), tmp_path_factory.mktemp("m") / "meds")


@FUZZ
@given(data=st.data())
def test_meds_files_of_any_bytes(meds_folder, tmp_path, data):
    from ramultimodal.io import MEDSReadError, read_meds

    folder = tmp_path / "meds"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(meds_folder, folder)
    name = data.draw(st.sampled_from(["data/0.parquet", "metadata/subjects.parquet"]))
    (folder / name).write_bytes(data.draw(mutated((meds_folder / name).read_bytes())))
    events = read_or_refuse(lambda: read_meds(folder), (MEDSReadError,))
    assert events is None or list(events["subject_id"].unique()) == ["p1"]
