"""Radiographs from a real Orthanc with its DICOMweb plugin: dicomweb:// paths, --pacs,
credentials, the cache, and one clear line for each way a server fails.

Skipped, with the command that installs them, where Debian's ``orthanc`` and
``orthanc-dicomweb`` are absent.
"""

from __future__ import annotations

import http.server
import importlib.util
import json
import logging
import shutil
import socket
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ramultimodal.cli import main
from ramultimodal.io import DatasetError, DICOMwebError, read_cohort, read_image
from ramultimodal.io._dicomweb import forget_clients
from ramultimodal.io._dicomweb_auth import credentials_for
from ramultimodal.io._write_dicom import write_dicom
from ramultimodal.synthetic import make_cohort, write_cohort

# tests/ is no package (pytest imports its files by path): the helper is loaded the same way.
_spec = importlib.util.spec_from_file_location(
    "ramultimodal_tests_orthanc", Path(__file__).with_name("_orthanc.py")
)
_orthanc = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(_orthanc)

pytestmark = pytest.mark.skipif(
    _orthanc.missing_reason() is not None, reason=str(_orthanc.missing_reason())
)

N_PATIENTS = 24


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """A small synthetic cohort with its radiographs as DICOM files (64 px)."""
    folder = tmp_path_factory.mktemp("files") / "cohort"
    write_cohort(make_cohort(N_PATIENTS, image_size=64, seed=3), folder, formats=["csv", "dicom"])
    return folder


@pytest.fixture(scope="module")
def orthanc(files, tmp_path_factory):
    """Orthanc on loopback ports, holding the cohort's DICOM files (sent with STOW-RS)."""
    with _orthanc.running_orthanc(tmp_path_factory.mktemp("orthanc")) as server:
        assert _orthanc.upload(server, sorted((files / "images").glob("*.dcm"))) > 0
        yield server


@pytest.fixture(autouse=True)
def environment(tmp_path, monkeypatch):
    """A fresh cache; the test server's user in the environment; no netrc of the machine."""
    monkeypatch.setenv("RAMULTIMODAL_DICOMWEB_CACHE", str(tmp_path / "dicomweb-cache"))
    monkeypatch.setenv("RAMULTIMODAL_DICOMWEB_USER", _orthanc.USER)
    monkeypatch.setenv("RAMULTIMODAL_DICOMWEB_PASSWORD", _orthanc.PASSWORD)
    monkeypatch.delenv("RAMULTIMODAL_DICOMWEB_TOKEN", raising=False)
    monkeypatch.delenv("RAMULTIMODAL_DICOMWEB_TIMEOUT", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    forget_clients()
    yield
    forget_clients()


def _instance_urls(folder: Path, root: str) -> list[str]:
    """The dicomweb:// URL of each file of images.csv, by the UIDs in the file."""
    import pydicom

    urls = []
    for path in pd.read_csv(folder / "images.csv")["path"]:
        header = pydicom.dcmread(folder / path, stop_before_pixels=True)
        urls.append(
            f"{root}/studies/{header.StudyInstanceUID}/series/{header.SeriesInstanceUID}"
            f"/instances/{header.SOPInstanceUID}"
        )
    return urls


def _dicomweb_cohort(files: Path, out: Path, root: str) -> Path:
    """The same cohort with images.csv naming the instances on the server, no files."""
    shutil.copytree(files, out, ignore=shutil.ignore_patterns("images"))
    manifest = pd.read_csv(files / "images.csv")
    manifest["path"] = _instance_urls(files, root)
    manifest.to_csv(out / "images.csv", index=False)
    return out


@pytest.fixture
def retrievals(monkeypatch) -> list[str]:
    """The SOP Instance UIDs of every WADO-RS retrieve made, in order."""
    from dicomweb_client import DICOMwebClient

    made: list[str] = []
    retrieve = DICOMwebClient.retrieve_instance

    def counted(self, study, series, sop, *args, **kwargs):
        made.append(sop)
        return retrieve(self, study, series, sop, *args, **kwargs)

    monkeypatch.setattr(DICOMwebClient, "retrieve_instance", counted)
    return made


def _subject_ids(files: Path) -> list[str]:
    return pd.read_csv(files / "patients.csv", dtype=str)["subject_id"].tolist()


# -- reading ----------------------------------------------------------------------------------


def test_read_image_gives_the_pixels_of_the_file(files, orthanc, tmp_path):
    paths = pd.read_csv(files / "images.csv")["path"]
    for path, url in zip(paths, _instance_urls(files, orthanc.dicomweb), strict=True):
        from_server, meta = read_image(url)
        from_file, file_meta = read_image(files / path)
        np.testing.assert_array_equal(from_server, from_file)
        assert meta.path == url
        assert (meta.laterality, meta.modality) == (file_meta.laterality, file_meta.modality)
    cached = sorted((tmp_path / "dicomweb-cache").iterdir())
    assert len(cached) == len(paths)
    assert all(path.suffix == ".dcm" and ".partial" not in path.name for path in cached)


def test_a_second_read_makes_no_request(files, orthanc, retrievals, tmp_path):
    url = _instance_urls(files, orthanc.dicomweb)[0]
    first, _ = read_image(url)
    second, _ = read_image(url)
    np.testing.assert_array_equal(first, second)
    assert retrievals == [url.rsplit("/", 1)[1]]  # one request, for this instance
    assert (tmp_path / "dicomweb-cache" / f"{retrievals[0]}.dcm").is_file()


def test_read_cohort_prefetches_every_instance_once(files, orthanc, retrievals, tmp_path):
    folder = _dicomweb_cohort(files, tmp_path / "web", orthanc.dicomweb)
    records = read_cohort(folder)
    urls = _instance_urls(files, orthanc.dicomweb)
    assert records.images["path"].tolist() == urls
    assert sorted(retrievals) == sorted(url.rsplit("/", 1)[1] for url in urls)
    read_cohort(folder)  # all in the cache now
    assert len(retrievals) == len(urls)


def test_pacs_finds_the_latest_radiographs_on_or_before_the_index_date(files, orthanc, tmp_path):
    folder = tmp_path / "pacs"
    shutil.copytree(files, folder, ignore=shutil.ignore_patterns("images", "images.csv"))
    manifest = pd.read_csv(files / "images.csv", dtype={"subject_id": str})
    patients = pd.read_csv(files / "patients.csv", dtype=str)
    # One patient gets an older study and one after the index date: neither is used.
    subject = manifest["subject_id"].iloc[0]
    index_date = pd.Timestamp(patients.set_index("subject_id").loc[subject, "index_date"])
    extra = []
    for n, day in enumerate(
        [index_date - pd.Timedelta(days=800), index_date + pd.Timedelta(days=5)]
    ):
        path = tmp_path / f"extra-{n}.dcm"
        write_dicom(
            path,
            np.full((64, 64), 100 * (n + 1), dtype=np.uint16),
            patient_id=subject,
            study_date=day,
            study_uid=f"2.25.{9000 + n}",
            series_uid=f"2.25.{9100 + n}",
            sop_uid=f"2.25.{9200 + n}",
            laterality="R",
            pixel_spacing_mm=0.2,
        )
        extra.append(path)
    _orthanc.upload(orthanc, extra)
    # Another patient's index date moves before their study: no radiograph for them.
    other = manifest["subject_id"].iloc[1]
    study_day = pd.Timestamp(manifest["study_time"].iloc[1])
    patients.loc[patients["subject_id"] == other, "index_date"] = (
        study_day - pd.Timedelta(days=1)
    ).strftime("%Y-%m-%d")
    patients.to_csv(folder / "patients.csv", index=False)

    records = read_cohort(folder, pacs=orthanc.dicomweb)
    expected = dict(
        zip(manifest["subject_id"], _instance_urls(files, orthanc.dicomweb), strict=True)
    )
    del expected[other]
    found = records.images.set_index("subject_id")["path"].to_dict()
    assert found == expected
    assert (
        records.images["study_time"]
        <= records.patients.loc[records.images["subject_id"], "index_date"].to_numpy()
    ).all()


def test_pacs_and_images_csv_together_are_refused(files, orthanc):
    with pytest.raises(DatasetError, match=r"images\.csv and a PACS"):
        read_cohort(files, pacs=orthanc.dicomweb)


def test_predict_from_dicomweb_equals_predict_from_files(files, orthanc, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "image_params": {"image_size": 64, "max_epochs": 1, "batch_size": 8},
                "fusion_params": {"cv": 2},
            }
        )
    )
    model = tmp_path / "model"
    train = ["train", "--data", str(files), "--model", "late", "--config", str(config)]
    assert main([*train, "--out", str(model), "-q"]) == 0
    web = _dicomweb_cohort(files, tmp_path / "web", orthanc.dicomweb)
    pacs = tmp_path / "pacs"
    shutil.copytree(files, pacs, ignore=shutil.ignore_patterns("images", "images.csv"))
    runs = {
        "files": ["--data", str(files)],
        "dicomweb": ["--data", str(web)],
        "pacs": ["--data", str(pacs), "--pacs", orthanc.dicomweb],
    }
    predictions = {}
    for name, data in runs.items():
        out = tmp_path / f"{name}.csv"
        assert main(["predict", "--model", str(model), *data, "--out", str(out), "-q"]) == 0
        predictions[name] = pd.read_csv(out, index_col="subject_id")
    assert predictions["files"]["has_image"].sum() > 0
    pd.testing.assert_frame_equal(predictions["dicomweb"], predictions["files"])
    pd.testing.assert_frame_equal(predictions["pacs"], predictions["files"])


# -- credentials ------------------------------------------------------------------------------


def test_credentials_from_netrc_by_host(files, orthanc, tmp_path, monkeypatch):
    monkeypatch.delenv("RAMULTIMODAL_DICOMWEB_USER")
    monkeypatch.delenv("RAMULTIMODAL_DICOMWEB_PASSWORD")
    netrc = tmp_path / "netrc"
    netrc.write_text(
        f"machine other.example.org login nobody password nothing\n"
        f"machine 127.0.0.1 login {_orthanc.USER} password {_orthanc.PASSWORD}\n"
    )
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert credentials_for(orthanc.http).source == str(netrc)
    pixels, _ = read_image(_instance_urls(files, orthanc.dicomweb)[0])
    assert pixels.ndim == 2


def test_a_bearer_token_is_sent_as_authorization_and_never_shown(monkeypatch):
    monkeypatch.setenv("RAMULTIMODAL_DICOMWEB_TOKEN", "tok-123")
    credentials = credentials_for("https://pacs.example.org/dicom-web")
    request = credentials.session().prepare_request(
        __import__("requests").Request("GET", "https://pacs.example.org/dicom-web/studies")
    )
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert "tok-123" not in repr(credentials) + repr(credentials.auth)


def test_no_credentials_is_one_line_that_says_how_to_give_them(files, orthanc, monkeypatch):
    monkeypatch.delenv("RAMULTIMODAL_DICOMWEB_USER")
    monkeypatch.delenv("RAMULTIMODAL_DICOMWEB_PASSWORD")
    url = _instance_urls(files, orthanc.dicomweb)[0]
    with pytest.raises(DICOMwebError) as caught:
        read_image(url)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"WADO-RS {url}: HTTP 401: the server asks for credentials")
    assert "RAMULTIMODAL_DICOMWEB_USER" in message and "~/.netrc" in message


def test_a_wrong_password_is_refused_and_never_shown(files, orthanc, monkeypatch):
    monkeypatch.setenv("RAMULTIMODAL_DICOMWEB_PASSWORD", "wrong-Pa55word")
    url = _instance_urls(files, orthanc.dicomweb)[0]
    with pytest.raises(
        DICOMwebError, match="HTTP 401: the server refused the credentials of RAMULTIMODAL"
    ) as caught:
        read_image(url)
    assert "wrong-Pa55word" not in str(caught.value)


def test_credentials_in_images_csv_are_refused_without_echoing_them(files, orthanc, tmp_path):
    folder = _dicomweb_cohort(files, tmp_path / "web", orthanc.dicomweb)
    manifest = pd.read_csv(folder / "images.csv")
    manifest.loc[0, "path"] = manifest.loc[0, "path"].replace(
        "dicomweb://", "dicomweb://radiologist:leaked-Pa55@"
    )
    manifest.to_csv(folder / "images.csv", index=False)
    with pytest.raises(DatasetError, match="line 2: the DICOMweb URL holds credentials") as caught:
        read_cohort(folder, errors="skip")  # not skippable: the file itself must change
    assert "leaked-Pa55" not in str(caught.value)


# -- one line per failure ---------------------------------------------------------------------

_UIDS = "/studies/1.2.3/series/1.2.4/instances/1.2.5"


def _assert_one_line(error: Exception, *needles: str) -> None:
    message = str(error)
    assert "\n" not in message, message
    for needle in needles:
        assert needle in message, message


def test_connection_refused(tmp_path):
    port = _orthanc.free_port()  # nothing listens there
    url = f"dicomweb://127.0.0.1:{port}/dicom-web{_UIDS}"
    with pytest.raises(DICOMwebError) as caught:
        read_image(url)
    _assert_one_line(caught.value, f"WADO-RS {url}", "refused", "Check that the server runs")


def test_a_server_that_never_answers_times_out(monkeypatch):
    monkeypatch.setenv("RAMULTIMODAL_DICOMWEB_TIMEOUT", "0.5")
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"dicomweb://127.0.0.1:{silent.getsockname()[1]}/dicom-web{_UIDS}"
        with pytest.raises(DICOMwebError) as caught:
            read_image(url)
    _assert_one_line(
        caught.value, f"WADO-RS {url}", "no answer within 0.5 s", "RAMULTIMODAL_DICOMWEB_TIMEOUT"
    )


def test_an_unknown_instance_is_a_404(orthanc):
    url = f"{orthanc.dicomweb}{_UIDS}"
    with pytest.raises(DICOMwebError) as caught:
        read_image(url)
    _assert_one_line(caught.value, f"WADO-RS {url}: HTTP 404", "Check the UIDs")


class _WebPage(http.server.BaseHTTPRequestHandler):
    """A web server that answers every GET with a page, with `status`."""

    status = 200

    def do_GET(self):
        body = b"<html><body>Welcome</body></html>"
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _read_from_web_page(status: int) -> tuple[str, DICOMwebError]:
    handler = type("_Page", (_WebPage,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"dicomweb://127.0.0.1:{server.server_address[1]}/dicom-web{_UIDS}"
        with pytest.raises(DICOMwebError) as caught:
            read_image(url)
    finally:
        server.shutdown()
        server.server_close()
    return url, caught.value


def test_an_answer_that_is_not_dicom():
    url, error = _read_from_web_page(200)
    _assert_one_line(error, f"WADO-RS {url}", "not a DICOM instance", "DICOMweb root")


def test_a_forbidden_instance_names_where_the_credentials_came_from():
    url, error = _read_from_web_page(403)
    _assert_one_line(
        error,
        f"WADO-RS {url}: HTTP 403: the credentials of RAMULTIMODAL_DICOMWEB_USER/PASSWORD may "
        "not read this",
    )
    assert _orthanc.PASSWORD not in str(error)


def test_a_malformed_url_in_images_csv_names_the_line(files, orthanc, tmp_path):
    folder = _dicomweb_cohort(files, tmp_path / "web", orthanc.dicomweb)
    manifest = pd.read_csv(folder / "images.csv")
    manifest.loc[2, "path"] = f"{orthanc.dicomweb}/studies/1.2/instances/1.3"
    manifest.to_csv(folder / "images.csv", index=False)
    with pytest.raises(DatasetError, match=r"images.csv, line 4: the path is not dicomweb"):
        read_cohort(folder)
    with pytest.warns(UserWarning, match="bad DICOMweb URL"):
        records = read_cohort(folder, errors="skip")
    assert len(records.images) == len(manifest) - 1


def test_patient_identifiers_stay_out_of_errors_and_logs(files, orthanc, tmp_path, caplog):
    folder = tmp_path / "pacs"
    shutil.copytree(files, folder, ignore=shutil.ignore_patterns("images", "images.csv"))
    with caplog.at_level(logging.DEBUG):
        read_cohort(folder, pacs=orthanc.dicomweb)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "PatientID=<hidden>" in logged  # the HTTP libraries' own DEBUG lines
    assert not [subject for subject in _subject_ids(files) if subject in logged]

    port = _orthanc.free_port()
    with pytest.raises(DICOMwebError) as caught:
        read_cohort(folder, pacs=f"dicomweb://127.0.0.1:{port}/dicom-web")
    _assert_one_line(
        caught.value, f"QIDO-RS dicomweb://127.0.0.1:{port}/dicom-web/instances", "refused"
    )
    assert "patients.csv" in str(caught.value)
    assert not [subject for subject in _subject_ids(files) if subject in str(caught.value)]


def test_the_error_travels_back_from_a_dask_worker_whole():
    import pickle

    error = DICOMwebError("WADO-RS dicomweb://pacs/dicom-web/x", "HTTP 500", "Ask.")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is DICOMwebError and str(again) == str(error)
