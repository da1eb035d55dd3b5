"""Bring your own data: a CSV extract and a folder of DICOM files, as a cohort directory.

A hospital rarely exports FHIR. More often there is a CSV extract from the lab and clinic
systems, with its own column names, date format and units, and a folder of DICOM files from
the PACS. This script turns such an export into the cohort-directory layout of
docs/data-model.md ("A cohort directory") and loads it with ``load_dataset``:

0. The stand-in for your export, written into the output folder: a long lab and clinic
   extract (``extract/clinic_extract.csv``: ``mrn``, ``collected`` as dd/mm/yyyy,
   ``coding_system``, ``test_code``, ``result``, ``result_text``, ``units``, with CRP in mg/dL),
   a wide demographics table (``extract/demographics.csv``: ``mrn``, ``sex``, ``dob``),
   the referral list with the outcome (``extract/referrals.csv``), and DICOM files written
   with ``write_dicom`` from ``render_hand`` radiographs (``extract/pacs/*.dcm``). The
   values come from a synthetic cohort; with your own data, skip this step.
1. ``read_events_csv(columns=...)`` maps the extract's columns onto the events table,
   prefixes codes from the coding-system URIs and converts CRP to mg/L.
2. ``read_wide_csv(mapping=...)`` reads the demographics (sex and birth date).
3. The DICOM headers give the image manifest (patient, laterality, body part, study date).
4. The four files of a cohort directory are written: ``patients.csv`` (with each patient's
   index date, here the first rheumatology visit), ``events.csv``, ``images.csv`` and
   ``labels.csv``.
5. ``load_dataset`` reads the directory as ``(X, y)``, ready for any model of
   ``make_model``; a patient-grouped cross-validation of the EHR model and of the 2010
   ACR/EULAR criteria checks that the data carry signal.

Run it with ``python examples/bring_your_own_data.py --out my_data``; ``--tiny`` shrinks it
to seconds.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom

import ramultimodal
from ramultimodal.evaluation import patient_cross_validate
from ramultimodal.io import EVENT_COLUMNS, read_events_csv, read_wide_csv, write_dicom
from ramultimodal.models import make_model
from ramultimodal.synthetic import HandFindings, make_cohort, render_hand
from ramultimodal.terminology import PREFIX_SYSTEMS

# The extract's column names -> events table columns (or "system", the coding system).
EXTRACT_COLUMNS = {
    "mrn": "subject_id",
    "collected": "time",
    "coding_system": "system",
    "test_code": "code",
    "result": "numeric_value",
    "result_text": "text_value",
    "units": "unit",
}
CRP = "LOINC/1988-5"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a few seconds, for the tests")
    parser.add_argument("--out", type=Path, help="folder for the export and the cohort")
    parser.add_argument("--n-patients", type=int, help="patients (default 400; tiny 40)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def write_stand_in_export(export: Path, n_patients: int, image_size: int, seed: int) -> None:
    """Step 0: what a hospital might hand over, made from a synthetic cohort."""
    cohort = make_cohort(n_patients, render_images=False, seed=seed)
    export.mkdir(parents=True)
    events = cohort.events
    demographic = events["code"].eq("MEDS_BIRTH") | events["code"].str.startswith("GENDER/")
    facts = events[~demographic]
    prefix, code = (
        facts["code"].str.split("/", n=1).str[0],
        facts["code"].str.split("/", n=1).str[1],
    )
    is_crp = facts["code"].eq(CRP)
    pd.DataFrame(
        {
            "mrn": facts["subject_id"],
            "collected": facts["time"].dt.strftime("%d/%m/%Y"),
            "coding_system": prefix.map(lambda p: PREFIX_SYSTEMS.get(p, p)),
            "test_code": code,
            # This lab reports CRP in mg/dL; the reader converts it to mg/L.
            "result": facts["numeric_value"].where(~is_crp, facts["numeric_value"] / 10),
            "result_text": facts["text_value"],
            "units": facts["unit"].where(~is_crp, "mg/dL"),
        }
    ).to_csv(export / "clinic_extract.csv", index=False)

    patients = cohort.patients
    pd.DataFrame(
        {"mrn": patients.index, "sex": patients["sex"], "dob": patients["birth_date"].dt.date}
    ).to_csv(export / "demographics.csv", index=False)
    pd.DataFrame(
        {
            "mrn": patients.index,
            "first_rheumatology_visit": patients["index_date"].dt.date,
            "ra_within_12_months": patients["ra"].astype(int),
        }
    ).to_csv(export / "referrals.csv", index=False)

    pacs = export / "pacs"
    pacs.mkdir()
    damage = cohort.damage.set_index("image_id")
    for number, (image_id, image) in enumerate(cohort.images.iterrows()):
        joints = damage.loc[[image_id]]
        findings = HandFindings(
            erosion=dict(zip(joints["joint"], joints["erosion"], strict=True)),
            narrowing=dict(zip(joints["joint"], joints["narrowing"], strict=True)),
        )
        pixels, acquisition = render_hand(
            findings,
            size=image_size,
            laterality=image["laterality"],
            rng=np.random.default_rng([seed, number]),
        )
        write_dicom(
            pacs / f"IMG{number:05d}.dcm",
            pixels,
            patient_id=image["subject_id"],
            study_date=image["study_time"],
            study_uid=image["study_uid"],
            series_uid=image["series_uid"],
            sop_uid=image["sop_uid"],
            laterality=image["laterality"],
            pixel_spacing_mm=acquisition["pixel_spacing_mm"],
        )


def image_manifest(pacs: Path, cohort_dir: Path) -> pd.DataFrame:
    """Step 3: one row per DICOM file, from its header (the pixels are not read)."""
    rows = []
    for path in sorted(pacs.glob("*.dcm")):
        header = pydicom.dcmread(path, stop_before_pixels=True)
        rows.append(
            {
                "subject_id": str(header.PatientID),
                # Relative to the cohort directory, so that both can be moved together.
                "path": Path(os.path.relpath(path, cohort_dir)).as_posix(),
                "body_part": header.BodyPartExamined,
                "laterality": header.ImageLaterality,
                "study_time": pd.to_datetime(header.StudyDate),
            }
        )
    return pd.DataFrame(rows)


def main() -> int:
    args = parse_args()
    n_patients = args.n_patients or (40 if args.tiny else 400)
    image_size = 64 if args.tiny else 256
    start = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        export, cohort_dir = out / "extract", out / "cohort"
        write_stand_in_export(export, n_patients, image_size, args.seed)
        print(
            f"0. stand-in export in {export}: "
            + ", ".join(sorted(p.name for p in export.iterdir()))
            + f" ({len(list((export / 'pacs').glob('*.dcm')))} DICOM files)"
        )

        facts = read_events_csv(
            export / "clinic_extract.csv", columns=EXTRACT_COLUMNS, time_format="%d/%m/%Y"
        )
        crp = facts.loc[facts["code"].eq(CRP), "numeric_value"]
        print(
            f"1. read_events_csv: {len(facts)} events, {facts['code'].nunique()} codes; "
            f"CRP converted to mg/L (median {crp.median():.1f} mg/L)"
        )
        demographics = read_wide_csv(
            export / "demographics.csv",
            subject_column="mrn",
            mapping={"sex": "GENDER", "dob": "MEDS_BIRTH"},
        )
        print(f"2. read_wide_csv: {len(demographics)} events (sex and birth date)")

        cohort_dir.mkdir(parents=True)
        images = image_manifest(export / "pacs", cohort_dir)
        print(
            f"3. image manifest from the DICOM headers: {len(images)} radiographs of "
            f"{images['subject_id'].nunique()} patients"
        )

        referrals = pd.read_csv(export / "referrals.csv", dtype={"mrn": str})
        patients = referrals.rename(
            columns={"mrn": "subject_id", "first_rheumatology_visit": "index_date"}
        )
        patients[["subject_id", "index_date"]].to_csv(cohort_dir / "patients.csv", index=False)
        patients.rename(columns={"ra_within_12_months": "ra"})[["subject_id", "ra"]].to_csv(
            cohort_dir / "labels.csv", index=False
        )
        events = pd.concat([demographics, facts], ignore_index=True)
        events[list(EVENT_COLUMNS)].to_csv(cohort_dir / "events.csv", index=False)
        images.to_csv(cohort_dir / "images.csv", index=False)
        print(
            f"4. cohort directory {cohort_dir}: "
            + ", ".join(sorted(p.name for p in cohort_dir.iterdir()))
        )

        X, y = ramultimodal.load_dataset(cohort_dir)
        with_image = int(X["image"].map(len).gt(0).sum())
        print(
            f"5. load_dataset: X {X.shape[0]} patients x {X.shape[1]} columns, "
            f"{with_image} with a radiograph, {int(y.sum())} with RA"
        )
        ehr_columns = [column for column in X.columns if column != "image"]
        for name, kind in (("EHR model (LightGBM)", "ehr"), ("ACR/EULAR 2010", "criteria")):
            model = make_model(kind, ehr_columns=ehr_columns, random_state=args.seed)
            result = patient_cross_validate(model, X, y, cv=3, random_state=args.seed)
            print(f"   {name:<22} 3-fold AUROC {result.fold_scores['auroc'].mean():.3f}")
    print(f"Done in {time.perf_counter() - start:.0f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
