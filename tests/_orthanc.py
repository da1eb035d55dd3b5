"""A real Orthanc with its DICOMweb plugin, on loopback ports, for the tests and benchmarks.

`running_orthanc` writes a configuration into a temporary folder (storage and index there,
HTTP and DICOM ports free on 127.0.0.1, the DICOMweb plugin at ``/dicom-web/``, HTTP Basic
authentication with one registered user), starts ``/usr/sbin/Orthanc`` on it, waits for
``/system`` to answer, and stops it on exit. `upload` stores DICOM files with STOW-RS.

Debian packages it as ``orthanc`` and ``orthanc-dicomweb``; `missing_reason` says what to
install when either is absent, for ``pytest.skip``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

ORTHANC = Path("/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
INSTALL = "apt-get install orthanc orthanc-dicomweb"

#: The one user the test server knows (HTTP Basic).
USER, PASSWORD = "radiologist", "s3cret-Pa55"


@dataclass(frozen=True)
class Orthanc:
    """A running test server: where it answers and who may ask."""

    port: int
    folder: Path
    user: str = USER
    password: str = PASSWORD

    @property
    def http(self) -> str:
        """``http://127.0.0.1:PORT`` (Orthanc's REST API)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb(self) -> str:
        """The DICOMweb root as ``dicomweb://`` (how images.csv and --pacs name it)."""
        return f"dicomweb://127.0.0.1:{self.port}/dicom-web"


def missing_reason() -> str | None:
    """Why Orthanc cannot run here (with the command to install it), or None."""
    if not ORTHANC.is_file():
        return f"{ORTHANC} is absent: {INSTALL}"
    if not DICOMWEB_PLUGIN.exists():
        return f"{DICOMWEB_PLUGIN} is absent: {INSTALL}"
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _config(folder: Path, http_port: int, dicom_port: int) -> dict:
    # Keys as Orthanc's Configuration.json names them (Orthanc 1.10, DICOMweb plugin 1.7).
    return {
        "Name": "ramultimodal-tests",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {USER: PASSWORD},
        "Plugins": [str(DICOMWEB_PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        # Quiet and quick: no Orthanc Explorer, no jobs kept, nothing to find on disk later.
        "HttpDescribeErrors": True,
        "SaveJobs": False,
        "StableAge": 1,
    }


@contextlib.contextmanager
def running_orthanc(folder: Path, *, start_timeout_s: float = 30.0) -> Iterator[Orthanc]:
    """Start Orthanc with a configuration in `folder`; stop it (and only it) on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    http_port, dicom_port = free_port(), free_port()
    config = folder / "orthanc.json"
    config.write_text(json.dumps(_config(folder, http_port, dicom_port), indent=2))
    log = (folder / "orthanc.log").open("wb")
    process = subprocess.Popen(
        [str(ORTHANC), "--no-jobs", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    server = Orthanc(http_port, folder)
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"Orthanc exited with {process.returncode}: see {folder / 'orthanc.log'}"
                )
            try:
                answer = requests.get(f"{server.http}/system", auth=(USER, PASSWORD), timeout=2)
                if answer.ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Orthanc did not answer in {start_timeout_s} s")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def upload(server: Orthanc, files: Iterable[Path]) -> int:
    """Store DICOM files on `server` with STOW-RS; return how many were stored."""
    import pydicom
    from dicomweb_client import DICOMwebClient
    from dicomweb_client.session_utils import create_session_from_user_pass

    client = DICOMwebClient(
        f"{server.http}/dicom-web",
        session=create_session_from_user_pass(server.user, server.password),
    )
    datasets = [pydicom.dcmread(path) for path in files]
    if datasets:
        client.store_instances(datasets)
    return len(datasets)
