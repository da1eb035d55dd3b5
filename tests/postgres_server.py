"""A throwaway PostgreSQL server for the tests: initdb and pg_ctl on a free loopback port.

The server lives in a temporary folder and is stopped (immediately) at the end. Run as
root (a CI container), the server runs as the ``postgres`` user, as PostgreSQL refuses
root. Without the binaries the tests that need it are skipped with how to install them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

#: Where Debian's postgresql package puts the server's programs.
_BIN_DIRS = [Path(f"/usr/lib/postgresql/{v}/bin") for v in (17, 16, 15, 14, 13)]
USER, PASSWORD = "cdm_reader", "pg-Secret-42"


def _bin_dir() -> Path | None:
    for folder in _BIN_DIRS:
        if (folder / "pg_ctl").is_file() and (folder / "initdb").is_file():
            return folder
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server in a temporary folder; yield its URL (with the test password); stop it
    and remove the folder."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed: apt-get install postgresql")
    # Its own folder under the system's temporary one: pytest's are private to the user,
    # which the postgres user could not enter.
    with tempfile.TemporaryDirectory(prefix="ramultimodal-pg-") as name:
        yield from _serve(bin_dir, Path(name))


def _serve(bin_dir: Path, folder: Path) -> Iterator[str]:
    folder.chmod(0o755)
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    data, log, password_file = folder / "data", folder / "server.log", folder / "password"
    password_file.write_text(PASSWORD + "\n")
    if as_user:
        shutil.chown(password_file, "postgres")
    port = _free_port()
    _run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", USER,
         f"--pwfile={password_file}", "--auth-host=scram-sha-256", "--auth-local=trust",
         "--encoding=UTF8", "--no-sync"]
    )  # fmt: skip
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    _run(
        [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log),
         "-w", "-t", "60", "start"]
    )  # fmt: skip
    try:
        yield f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{command[-1]} failed: {done.stderr.strip() or done.stdout.strip()}")


def load_omop(url: str, tables: dict, schema: str) -> None:
    """Create `schema` and load the CDM `tables` (`ramultimodal.io._write_omop.omop_tables`)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
        for name, frame in tables.items():
            dates = {c: sa.Date for c in frame.columns if c.endswith("_date")}
            frame.to_sql(name, connection, schema=schema, index=False, dtype=dates)
    engine.dispose()
