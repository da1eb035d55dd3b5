"""From an OMOP warehouse and a PACS: train and predict from an OMOP CDM database.

A research team rarely gets files: the record sits in an OMOP CDM warehouse, the
radiographs in a PACS. This script runs the whole way on the embedded DuckDB file that the
generator writes, and shows that the predictions equal those from the same patients' files:

1. ``make_cohort`` and ``write_cohort(formats=["csv", "dicom", "omop"])`` (what
   ``ramultimodal synth --formats csv dicom omop`` writes): ``events.csv`` and the DICOM
   files as before, and ``omop.duckdb``, the same record as OMOP CDM v5.4 tables.
2. What the database holds: the CDM tables, and how a concept id becomes one of our codes
   through ``concept`` (3020460 is LOINC 1988-5, CRP).
3. ``read_omop`` with the push-down the commands use: only each patient's facts on or
   before the index date, only the codes the featurizer reads; the features equal those
   from ``events.csv``.
4. ``ramultimodal train --data cohort --omop cohort/omop.duckdb``: the EHR from the
   database; ``patients.csv``, ``labels.csv`` and ``images.csv`` from the folder.
5. ``ramultimodal predict`` from the database and from the files (``--source csv``): the
   same predictions, to the last digit.
6. Optional servers. ``--postgres URL`` loads the tables into schema ``cdm`` of a
   PostgreSQL database of yours (a throwaway one: docs/tutorials/omop_pacs.md says how to
   start it) and predicts from there with ``--omop URL --omop-schema cdm``. When Orthanc
   and its DICOMweb plugin are installed (Debian: ``orthanc orthanc-dicomweb``), it starts
   one on a loopback port, stores the DICOM files with STOW-RS and predicts with
   ``--pacs``, each patient's radiographs found by QIDO-RS; ``--no-pacs`` skips it.

Run it with ``python examples/omop_pacs.py --out omop-demo``; ``--tiny`` shrinks it to
seconds. It needs no server.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import secrets
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd

from ramultimodal.cli import main as ramultimodal
from ramultimodal.ehr import EHRFeaturizer
from ramultimodal.io import read_cohort, read_omop
from ramultimodal.synthetic import make_cohort, write_cohort

ORTHANC = Path("/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a few seconds, for the tests")
    parser.add_argument("--out", type=Path, help="keep the cohort and model here")
    parser.add_argument("--n-patients", type=int, help="patients (default 120; tiny 40)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also load the tables into schema cdm of this PostgreSQL database and predict "
        "from it, e.g. postgresql://cdm_reader@127.0.0.1:5433/warehouse (password from "
        "PGPASSWORD or ~/.pgpass)",
    )
    parser.add_argument("--no-pacs", action="store_true", help="skip the Orthanc step")
    return parser.parse_args()


def features(events: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """The EHR features at each patient's index date."""
    return EHRFeaturizer(events).set_output(transform="pandas").fit_transform(patients)


def run(*arguments: str | os.PathLike) -> None:
    """Run a ``ramultimodal`` command as from a shell, quietly (``-q``, and its result
    line, "Saved the model to ...", left out: this script says what it did)."""
    with contextlib.redirect_stdout(io.StringIO()):
        status = ramultimodal([*map(str, arguments), "-q"])
    if status:
        raise SystemExit(f"ramultimodal {arguments[0]} failed ({status})")


def same_predictions(a: Path, b: Path) -> bool:
    """Whether two predictions.csv hold the same patients and numbers."""
    return pd.read_csv(a).equals(pd.read_csv(b))


def load_into_postgres(duckdb_file: Path, url: str, schema: str = "cdm") -> None:
    """Copy every table of the DuckDB file into `schema` of a PostgreSQL database."""
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with duckdb.connect(str(duckdb_file), read_only=True) as duck, engine.begin() as pg:
        pg.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
        for (name,) in duck.sql("SHOW TABLES").fetchall():
            table = duck.sql(f"SELECT * FROM {name}").df()
            # pandas holds DATE columns as timestamps: keep them dates, as the CDM has them.
            dates = {column: sa.Date for column in table.columns if column.endswith("_date")}
            table.to_sql(name, pg, schema=schema, index=False, dtype=dates)
    engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def orthanc(folder: Path, user: str, password: str) -> Iterator[int]:
    """An Orthanc with its DICOMweb plugin on a loopback port; yields the HTTP port."""
    import requests

    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {
        "Name": "ramultimodal-tutorial",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "HttpPort": port,
        "DicomPort": free_port(),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {user: password},
        "Plugins": [str(DICOMWEB_PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "HttpDescribeErrors": True,
        "SaveJobs": False,
        "StableAge": 1,
    }
    (folder / "orthanc.json").write_text(json.dumps(config, indent=2))
    with (folder / "orthanc.log").open("wb") as log:
        server = subprocess.Popen(
            [str(ORTHANC), "--no-jobs", str(folder / "orthanc.json")], stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"Orthanc did not start: see {folder / 'orthanc.log'}")
                with contextlib.suppress(requests.ConnectionError):
                    answer = requests.get(
                        f"http://127.0.0.1:{port}/system", auth=(user, password), timeout=2
                    )
                    if answer.ok:
                        break
                time.sleep(0.2)
            yield port
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def store_instances(port: int, files: list[Path], user: str, password: str) -> None:
    """STOW-RS: what ``dicomweb_client --url ... store instances FILES`` does."""
    import pydicom
    from dicomweb_client import DICOMwebClient
    from dicomweb_client.session_utils import create_session_from_user_pass

    client = DICOMwebClient(
        f"http://127.0.0.1:{port}/dicom-web",
        session=create_session_from_user_pass(user, password),
    )
    client.store_instances([pydicom.dcmread(path) for path in files])


def main() -> int:
    args = parse_args()
    n_patients = args.n_patients or (40 if args.tiny else 120)
    image_size, epochs, cv = (32, 1, 2) if args.tiny else (64, 3, 3)
    start = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        cohort = make_cohort(n_patients, image_size=image_size, seed=args.seed)
        cohort_dir = write_cohort(cohort, out / "cohort", formats=["csv", "dicom", "omop"])
        database = cohort_dir / "omop.duckdb"
        print(f"1. {cohort} written to {cohort_dir}: events.csv, images/*.dcm, omop.duckdb")

        with duckdb.connect(str(database), read_only=True) as connection:
            tables = [name for (name,) in connection.sql("SHOW TABLES").fetchall()]
            rows = {
                name: connection.sql(f"SELECT count(*) FROM {name}").fetchall()[0][0]
                for name in tables
            }
            crp = connection.sql(
                "SELECT concept_id, vocabulary_id, concept_code, concept_name FROM concept "
                "WHERE concept_id = 3020460"
            ).fetchall()[0]
        print("2. omop.duckdb: " + ", ".join(f"{name} {count}" for name, count in rows.items()))
        print(f"   concept {crp[0]} = {crp[1]} {crp[2]} ({crp[3]}) -> code {crp[1]}/{crp[2]}")

        # The files of the folder give the patients and their index dates; the database,
        # the facts up to those dates, and only the codes the featurizer reads.
        from_files = read_cohort(cohort_dir, source="csv")
        pushed = read_omop(
            database,
            patients=from_files.patients["index_date"],
            codes=EHRFeaturizer().required_codes(),
        )
        everything = read_omop(database)
        day = from_files.patients["index_date"].reindex(pushed["subject_id"]).to_numpy()
        timed = pushed["time"].notna().to_numpy()
        after = int((pushed["time"].to_numpy()[timed] > day[timed]).sum())
        equal = features(pushed, from_files.patients).equals(
            features(from_files.events, from_files.patients)
        )
        print(
            f"3. read_omop: {len(pushed)} of the database's {len(everything)} events "
            f"(those on or before each index date, of the codes the featurizer reads); "
            f"{after} after an index date; features equal to those from events.csv: {equal}"
        )

        config = out / "quick.json"
        config.write_text(
            json.dumps(
                {
                    "image_params": {"image_size": image_size, "max_epochs": epochs},
                    "fusion_params": {"cv": cv},
                    "random_state": args.seed,
                }
            )
        )
        model = out / "model"
        run("train", "--data", cohort_dir, "--omop", database, "--model", "late",
            "--config", config, "--out", model, "--force")  # fmt: skip
        print(f"4. ramultimodal train --data cohort --omop cohort/omop.duckdb -> {model}")

        predictions = {}
        for name, source in (
            ("omop", ["--omop", database]),
            ("files", ["--source", "csv"]),
        ):
            predictions[name] = out / f"predictions-{name}.csv"
            run("predict", "--model", model, "--data", cohort_dir, *source,
                "--out", predictions[name], "--force")  # fmt: skip
        scored = pd.read_csv(predictions["omop"])
        print(
            f"5. predict: {len(scored)} patients; from the database and from the files "
            f"the same: {same_predictions(predictions['omop'], predictions['files'])}"
        )

        if args.postgres:
            load_into_postgres(database, args.postgres)
            predictions["postgres"] = out / "predictions-postgres.csv"
            run("predict", "--model", model, "--data", cohort_dir, "--omop", args.postgres,
                "--omop-schema", "cdm", "--out", predictions["postgres"], "--force")  # fmt: skip
            same = same_predictions(predictions["postgres"], predictions["files"])
            print(f"6. PostgreSQL, schema cdm: the same predictions: {same}")
        else:
            print("6. PostgreSQL: skipped (--postgres URL to try a server of yours)")

        if args.no_pacs or not (ORTHANC.is_file() and DICOMWEB_PLUGIN.is_file()):
            print("   Orthanc: skipped (apt-get install orthanc orthanc-dicomweb to try it)")
        else:
            # The credentials go through the environment, never a file of the cohort, and
            # the fetched instances into a cache of this run's own.
            user, password = "radiologist", secrets.token_urlsafe(12)
            os.environ.update(
                RAMULTIMODAL_DICOMWEB_USER=user,
                RAMULTIMODAL_DICOMWEB_PASSWORD=password,
                RAMULTIMODAL_DICOMWEB_CACHE=str(out / "dicomweb-cache"),
            )
            pacs_cohort = out / "pacs-cohort"  # the cohort without images.csv
            pacs_cohort.mkdir(exist_ok=True)
            for name in ("patients.csv", "labels.csv", "omop.duckdb"):
                (pacs_cohort / name).write_bytes((cohort_dir / name).read_bytes())
            with orthanc(out / "orthanc", user, password) as port:
                files = sorted((cohort_dir / "images").glob("*.dcm"))
                store_instances(port, files, user, password)
                predictions["pacs"] = out / "predictions-pacs.csv"
                run("predict", "--model", model, "--data", pacs_cohort, "--source", "omop",
                    "--pacs", f"dicomweb://127.0.0.1:{port}/dicom-web",
                    "--out", predictions["pacs"], "--force")  # fmt: skip
            same = same_predictions(predictions["pacs"], predictions["files"])
            print(
                f"   Orthanc: {len(files)} radiographs stored with STOW-RS; predict --source "
                f"omop --pacs dicomweb://127.0.0.1:{port}/dicom-web, the same predictions: {same}"
            )
    print(f"Done in {time.perf_counter() - start:.0f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
