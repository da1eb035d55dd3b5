"""The pictures of a joint model's reading: a radiograph per image, a hand diagram per patient.

`write_joint_figures` writes, into one folder, ``radiograph-0001.png``... (the joints found
on each image, `plot_joints_on_radiograph`), ``hands-0001.png``... (each patient's hand
diagram, `plot_hand_diagram`), ``figures.csv`` (which file shows which image and patient)
and ``index.html``, a page that shows them all. Files are numbered, never named by an
identifier; the identifiers are inside ``figures.csv`` and the page, the user's own output.
"""

from __future__ import annotations

import html
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ramultimodal._staging import staged_folder
from ramultimodal.evaluation._hand_diagram import check_scores, plot_hand_diagram
from ramultimodal.evaluation._joint_overlay import draw_joints, radiograph_pixels, save_figure

__all__ = ["write_joint_figures"]


def write_joint_figures(
    scores: pd.DataFrame,
    images: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    truth: pd.DataFrame | None = None,
    patients: Mapping[str, str] | None = None,
    sides: Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Write the radiograph and hand-diagram PNGs of a joint model's scores, and a page.

    Parameters
    ----------
    scores : DataFrame
        `JointScoreTransformer.score_images` of `images`.
    images : sequence of path-like
        The radiograph files, whose stems are the ``image_id`` of `scores`.
    out_dir : path-like
        Folder to write (made whole, then moved in place: a folder that is there only once
        every picture is).
    truth : DataFrame, optional
        True grades (``joints.csv``), drawn beside the predicted ones; its ``subject_id``
        and ``laterality`` say whose and which hand an image is unless given below.
    patients : mapping of image id to patient, optional
        Which images belong together on one diagram; by default `truth`'s ``subject_id``,
        else one diagram per image.
    sides : mapping of image id to "L" or "R", optional
        Which hand each image shows; by default a DICOM's Image Laterality, `truth`'s
        ``laterality``, else the thumb's side on the image.
    overwrite : bool, default False
        Replace `out_dir` if it holds pictures this function wrote (``--force``); a folder
        of anything else is never replaced.

    Returns
    -------
    DataFrame
        ``figure`` (file name), ``kind`` (``radiograph``, ``hands``), ``patient`` and
        ``images`` (the image ids shown), as written to ``figures.csv``.

    Raises
    ------
    ValueError
        For scores that are not `score_images`' or do not cover `images`, or two images
        with one file stem.
    ramultimodal._staging.OutputError
        When `out_dir` exists and may not be replaced.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from ramultimodal.terminology.joints import JOINTS
    >>> folder = Path(tempfile.mkdtemp())
    >>> Image.fromarray(np.zeros((64, 64), np.uint8)).save(folder / "a.png")
    >>> scores = pd.DataFrame({"image_id": "a", "joint": JOINTS, "found": False,
    ...                        "x": np.nan, "y": np.nan, "confidence": 0.1,
    ...                        "erosion": np.nan, "narrowing": np.nan})
    >>> write_joint_figures(scores, [folder / "a.png"], folder / "figures")["figure"].tolist()
    ['radiograph-0001.png', 'hands-0001.png']
    """
    scores = check_scores(scores)
    keys = [Path(image).stem for image in images]
    twice = sorted(key for key, count in Counter(keys).items() if count > 1)
    if twice:
        raise ValueError(
            f"{len(twice)} file name(s) are given twice (e.g. the stem {twice[0]!r}): an "
            "image's id is its file's stem, so give each image once, with a name of its own."
        )
    absent = sorted(set(keys) - set(scores["image_id"]))
    if absent:
        raise ValueError(
            f"scores has no rows for {len(absent)} of the images (e.g. the file stem "
            f"{absent[0]!r}); score the same files as you pass."
        )
    with staged_folder(out_dir, "joint-figures", overwrite=overwrite) as staging:
        return _write_figures(scores, images, keys, staging, truth, patients, sides)


def _write_figures(
    scores: pd.DataFrame,
    images: Sequence[str | os.PathLike[str]],
    keys: list[str],
    out_dir: Path,
    truth: pd.DataFrame | None,
    patients: Mapping[str, str] | None,
    sides: Mapping[str, str] | None,
) -> pd.DataFrame:
    """`write_joint_figures`' pictures, table and page, into the staging folder `out_dir`."""
    known_sides: dict[str, str] = {}
    if truth is not None and "laterality" in truth.columns:
        known_sides.update(truth.groupby(truth["image_id"].astype(str))["laterality"].first())
    if patients is None and truth is not None and "subject_id" in truth.columns:
        patients = truth.groupby(truth["image_id"].astype(str))["subject_id"].first().to_dict()
    rows = []
    for number, (image, key) in enumerate(zip(images, keys, strict=True), start=1):
        pixels, shape, side = radiograph_pixels(image)
        if side is not None:
            known_sides.setdefault(key, side)
        name = f"radiograph-{number:04d}.png"
        figure = draw_joints(
            (pixels, shape), scores[scores["image_id"] == key], f"Radiograph {number}"
        )
        save_figure(figure, out_dir / name)
        patient = (patients or {}).get(key, key)
        rows.append({"figure": name, "kind": "radiograph", "patient": patient, "images": key})
    known_sides.update(sides or {})
    by_patient: dict[Any, list[str]] = {}
    for key in keys:
        by_patient.setdefault((patients or {}).get(key, key), []).append(key)
    for number, (patient, members) in enumerate(by_patient.items(), start=1):
        name = f"hands-{number:04d}.png"
        part = scores[scores["image_id"].isin(members)]
        figure = plot_hand_diagram(
            part,
            truth,
            sides={k: v for k, v in known_sides.items() if k in members},
            title=f"Patient {number}",
        )
        save_figure(figure, out_dir / name)
        rows.append({"figure": name, "kind": "hands", "patient": patient,
                     "images": " ".join(members)})  # fmt: skip
    table = pd.DataFrame(rows, columns=["figure", "kind", "patient", "images"])
    table.to_csv(out_dir / "figures.csv", index=False, lineterminator="\n")
    _write_page(table, out_dir / "index.html")
    return table


def _write_page(table: pd.DataFrame, path: Path) -> None:
    """A page with each patient's diagram above the radiographs it was read from."""
    parts = [
        "<!doctype html><meta charset='utf-8'><title>Joint by joint</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto}"
        "img{max-width:100%}</style>",
        "<h1>Joint by joint</h1><p>Each patient's hands (predicted grade in each joint, "
        "true grade in brackets when known; n.f.: not found), then the joints found on "
        "each radiograph. A model trained on synthetic radiographs: see docs/joints.md.</p>",
    ]
    for patient, group in table.groupby("patient", sort=False):
        parts.append(f"<h2>{html.escape(str(patient))}</h2>")
        for row in group.sort_values("kind").itertuples():
            parts.append(f"<p><img src='{html.escape(row.figure)}' alt='{row.kind}'></p>")
    from ramultimodal._staging import atomic_file

    with atomic_file(path) as partial:
        partial.write_text("\n".join(parts) + "\n", encoding="utf-8")
