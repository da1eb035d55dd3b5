"""Write a synthetic cohort to disk in the layout of docs/data-model.md ("A cohort directory").

The folder is built under a hidden temporary name next to `out_dir` and renamed into place
at the end, so a crash or Ctrl-C never leaves a half-written folder that looks complete.
Nothing in the files comes from the clock or a random source: the same cohort gives the
same bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from ramultimodal import __version__
from ramultimodal._staging import check_output, safe_file_stem, staged_folder
from ramultimodal.io import events_to_fhir, write_fhir_bundles, write_fhir_ndjson
from ramultimodal.io._events import EVENT_COLUMNS, as_events
from ramultimodal.io._write_dicom import write_dicom, write_png
from ramultimodal.io._write_omop import write_omop

__all__ = ["DEFAULT_FORMATS", "FORMATS", "write_cohort"]

#: What `write_cohort` can write, and writes by default.
FORMATS: tuple[str, ...] = ("fhir-bundles", "fhir-ndjson", "csv", "dicom", "png", "omop")
#: What `write_cohort` writes when no formats are given (OMOP only when asked for).
DEFAULT_FORMATS: tuple[str, ...] = ("fhir-bundles", "fhir-ndjson", "csv", "dicom", "png")

_DICOM_SEX = {"female": "F", "male": "M", "other": "O"}


def write_cohort(
    cohort: Any,
    out_dir: str | os.PathLike[str],
    *,
    formats: Iterable[str] = DEFAULT_FORMATS,
    gzip: bool = False,
    overwrite: bool = False,
    verbose: int = 0,
) -> Path:
    """Write a cohort as a hospital would export it: FHIR, CSV, DICOM and PNG.

    The layout (docs/data-model.md)::

        out_dir/cohort.json         {"synthetic": true, the generator's arguments}
        out_dir/patients.csv        subject_id, sex, birth_date, index_date
        out_dir/labels.csv          subject_id, ra (1/0), diagnosis, time_to_ra_days, event,
                                    time_to_acr_eular_days, acr_eular_event
        out_dir/events.csv          the events table, long format       ("csv")
        out_dir/images.csv          subject_id, path, body_part, laterality, study_time
        out_dir/fhir/bundles/<subject_id>.json    transaction Bundles   ("fhir-bundles")
        out_dir/fhir/ndjson/<ResourceType>.ndjson Bulk Data NDJSON      ("fhir-ndjson")
        out_dir/images/<image_id>.dcm and/or .png                       ("dicom", "png")
        out_dir/omop.duckdb         OMOP CDM v5.4 tables and concept    ("omop")
        out_dir/joints.csv          image_id, subject_id, laterality, joint, x, y,
                                    erosion, narrowing (with the images)

    ``patients.csv`` and ``labels.csv`` (the truth) are always written; ``images.csv`` is
    written with the images and lists the DICOM files, or the PNG files when only PNG is
    asked for. ``joints.csv``, also written with the images, is the joint-level truth: one
    row per image and joint of `ramultimodal.terminology.joints.JOINTS`, where the joint
    lies on the written pixels (``x`` the column, ``y`` the row, 0 at the centre of the
    first pixel, as the DICOM and PNG store them; the writer neither resizes nor pads)
    and its Sharp/van der Heijde grades.

    Parameters
    ----------
    cohort : Cohort
        What `ramultimodal.synthetic.make_cohort` returns.
    out_dir : path-like
        The cohort folder. It must not exist, or be empty, unless `overwrite` is True and it
        holds a cohort written by ramultimodal.
    formats : iterable of str, default `DEFAULT_FORMATS`
        Which of ``"fhir-bundles"``, ``"fhir-ndjson"``, ``"csv"``, ``"dicom"``, ``"png"``,
        ``"omop"`` to write (``"omop"``: a DuckDB file, `ramultimodal.io.write_omop`; not
        written by default).
    gzip : bool, default False
        Write the NDJSON files as ``.ndjson.gz``.
    overwrite : bool, default False
        Replace an existing cohort written by ramultimodal (only once the new one is
        complete); a folder of anything else is never replaced.
    verbose : int, default 0
        Show progress bars when > 0.

    Returns
    -------
    Path
        `out_dir`.

    Raises
    ------
    ValueError
        For an unknown format, or images asked for from a cohort made without pixels.
    OSError
        When `out_dir` cannot be written (see `check_out_dir`): a FileExistsError
        (``OutputError``) for a folder that may not be replaced, NotADirectoryError for a
        file in the path.

    Examples
    --------
    >>> import tempfile
    >>> from ramultimodal.synthetic import make_cohort
    >>> cohort = make_cohort(3, image_size=64, seed=0)
    >>> out = write_cohort(cohort, tempfile.mkdtemp() + "/cohort", formats=["csv"])
    >>> sorted(path.name for path in out.iterdir())
    ['.ramultimodal', 'cohort.json', 'events.csv', 'labels.csv', 'patients.csv']
    """
    formats = _check_formats(formats)
    out_dir = Path(out_dir)
    check_out_dir(out_dir, overwrite=overwrite)
    image_suffixes = [s for s, f in ((".dcm", "dicom"), (".png", "png")) if f in formats]
    if image_suffixes and len(cohort.images) and not cohort.pixels:
        raise ValueError(
            "The cohort has no pixels (made with render_images=False): drop 'dicom' and "
            "'png' from formats, or make it with render_images=True."
        )

    with staged_folder(out_dir, "cohort", overwrite=overwrite) as partial:
        _write_tables(cohort, partial, with_events="csv" in formats)
        if "fhir-bundles" in formats or "fhir-ndjson" in formats:
            resources = events_to_fhir(cohort.events, images=cohort.images)
            if "fhir-bundles" in formats:
                bundles = partial / "fhir" / "bundles"
                for subject_id in tqdm(
                    resources, desc="FHIR bundles", unit="patient", disable=verbose <= 0
                ):
                    write_fhir_bundles({subject_id: resources[subject_id]}, bundles)
            if "fhir-ndjson" in formats:
                write_fhir_ndjson(resources, partial / "fhir" / "ndjson", gzip=gzip)
        if image_suffixes:
            _write_images(cohort, partial, image_suffixes, verbose)
        if "omop" in formats:
            write_omop(cohort.events, partial / "omop.duckdb")
    return out_dir


def _check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = [formats]
    formats = tuple(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(
            f"Unknown format(s) {unknown}; choose one or more of {list(FORMATS)}."
            if unknown
            else f"No format given; choose one or more of {list(FORMATS)}."
        )
    return formats


def check_out_dir(out_dir: str | os.PathLike[str], *, overwrite: bool = False) -> None:
    """Raise an OSError when `write_cohort` could not write `out_dir`.

    `out_dir` may be missing or an empty folder; a cohort written by ramultimodal only with
    `overwrite`; and its nearest existing parent must be a writable folder. Callers that
    spend minutes making a cohort (the ``synth`` command) call it first.

    Raises
    ------
    ramultimodal._staging.OutputError
        When `out_dir` is a file, a non-empty folder and `overwrite` is False, or a folder
        that ramultimodal did not write as a cohort (see `ramultimodal._staging`).
    NotADirectoryError
        When a parent of `out_dir` is a file.
    PermissionError
        When the folder that would hold `out_dir` is not writable.
    """
    out_dir = Path(out_dir)
    check_output(out_dir, "cohort", overwrite=overwrite)
    parent = out_dir.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"{parent} is a file, so {out_dir} cannot be created.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{parent} is not writable, so {out_dir} cannot be created.")


def _write_tables(cohort: Any, out_dir: Path, *, with_events: bool) -> None:
    patients = cohort.patients.reset_index()[["subject_id", "sex", "birth_date", "index_date"]]
    _write_csv(patients, out_dir / "patients.csv")
    labels = cohort.labels
    if "subject_id" not in labels.columns:
        labels = labels.reset_index()
    columns = ["subject_id", "ra", "diagnosis"]
    # Follow-up in time (`make_cohort` writes it; a cohort of another origin may lack it).
    columns += [
        c
        for c in ("time_to_ra_days", "event", "time_to_acr_eular_days", "acr_eular_event")
        if c in labels.columns
    ]
    labels = labels[columns].assign(ra=labels["ra"].astype(int))
    for flag in ("event", "acr_eular_event"):
        if flag in labels.columns:
            labels[flag] = labels[flag].astype(int)
    _write_csv(labels, out_dir / "labels.csv")
    if with_events:
        _write_csv(as_events(cohort.events)[list(EVENT_COLUMNS)], out_dir / "events.csv")
    # Marks the folder as synthetic, so that a report made from it says so, and records how
    # it was made (the generator's arguments; no clock, so the bytes stay reproducible).
    description = {
        "synthetic": True,
        "generator": "ramultimodal.synthetic.make_cohort",
        "ramultimodal_version": __version__,
        "params": cohort.params,
    }
    (out_dir / "cohort.json").write_text(json.dumps(description, indent=2, sort_keys=True) + "\n")


def _write_images(cohort: Any, out_dir: Path, suffixes: list[str], verbose: int) -> None:
    folder = out_dir / "images"
    folder.mkdir()
    images = cohort.images
    patients = cohort.patients[["sex", "birth_date"]].to_dict("index")

    def write_one(image_id: Any, image: pd.Series) -> None:
        stem, pixels = safe_file_stem(str(image_id), "An image_id"), cohort.pixels[image_id]
        if ".dcm" in suffixes:
            patient = patients[image["subject_id"]]
            write_dicom(
                folder / f"{stem}.dcm",
                pixels,
                patient_id=str(image["subject_id"]),
                study_date=image["study_time"],
                study_uid=image["study_uid"],
                series_uid=image["series_uid"],
                sop_uid=image["sop_uid"],
                laterality=image["laterality"],
                pixel_spacing_mm=float(image["pixel_spacing_mm"]),
                body_part=image["body_part"],
                monochrome1=bool(image["monochrome1"]),
                patient_sex=_DICOM_SEX.get(str(patient["sex"]).lower(), ""),
                patient_birth_date=patient["birth_date"],
            )
        if ".png" in suffixes:
            write_png(folder / f"{stem}.png", pixels)

    # Threads, not processes: zlib (PNG) releases the GIL, so PNG compression overlaps
    # with the DICOM encoding in pure Python, and no pixels are copied between processes.
    pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
    try:
        written = pool.map(write_one, images.index, (row for _, row in images.iterrows()))
        for _ in tqdm(
            written, total=len(images), desc="images", unit="image", disable=verbose <= 0
        ):
            pass
    finally:
        pool.shutdown(cancel_futures=True)
    manifest = pd.DataFrame(
        {
            "subject_id": images["subject_id"].to_numpy(),
            "path": [
                f"images/{safe_file_stem(str(i), 'An image_id')}{suffixes[0]}" for i in images.index
            ],
            "body_part": images["body_part"].to_numpy(),
            "laterality": images["laterality"].to_numpy(),
            "study_time": images["study_time"].to_numpy(),
        }
    )
    _write_csv(manifest, out_dir / "images.csv")
    _write_joints(cohort, out_dir / "joints.csv")


def _write_joints(cohort: Any, path: Path) -> None:
    """The joint-level truth: where each joint lies on the written image and its grades."""
    table = cohort.joint_places.merge(cohort.damage, on=["image_id", "joint"], how="right")
    sides = cohort.images.loc[table["image_id"], ["subject_id", "laterality"]]
    table = pd.DataFrame(
        {
            "image_id": table["image_id"].to_numpy(),
            "subject_id": sides["subject_id"].to_numpy(),
            "laterality": sides["laterality"].to_numpy(),
            "joint": table["joint"].to_numpy(),
            # Two decimals: a hundredth of a pixel is far below any reader's precision,
            # and keeps the file short and its bytes stable.
            "x": table["x"].astype(float).round(2).to_numpy(),
            "y": table["y"].astype(float).round(2).to_numpy(),
            "erosion": table["erosion"].astype(int).to_numpy(),
            "narrowing": table["narrowing"].astype(int).to_numpy(),
        }
    )
    _write_csv(table, path)


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    table = table.copy()
    for column in table.columns:
        if pd.api.types.is_datetime64_any_dtype(table[column]):
            table[column] = _iso_times(table[column])
    table.to_csv(path, index=False, lineterminator="\n")


def _iso_times(times: pd.Series) -> pd.Series:
    """ISO 8601 text: dates when every time of the column is midnight, else date-times."""
    present = times.dropna()
    if (present == present.dt.normalize()).all():
        pattern = "%Y-%m-%d"
    elif (present.dt.microsecond == 0).all():
        pattern = "%Y-%m-%dT%H:%M:%S"
    else:
        pattern = "%Y-%m-%dT%H:%M:%S.%f"
    return times.dt.strftime(pattern).astype(object).where(times.notna(), None)
