"""Which hand a radiograph shows: what the caller knows, the DICOM's Image Laterality, the thumb.

The hand diagrams (`ramultimodal.evaluation.plot_hand_diagram`) and the fusion's per-hand
joint features (`JointScoreFeatures`) both need it, in this order: what the caller knows
(an image manifest's ``laterality``), a ``laterality`` column of the scores, the file's own
DICOM Image Laterality (`file_laterality`), and last the image itself: on a
posteroanterior radiograph shown fingers up, a right hand's thumb is on the image's left
(the generator's convention, and the radiographic one). An image none of these settles
(too few joints found, a side "B" for both) has no side; it is never guessed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ramultimodal.terminology.joints import HAND_SIDES, JOINTS

__all__ = ["file_laterality", "hand_sides", "score_by_place", "side_from_joints"]

#: The sides a radiograph of one hand can show (DICOM Image Laterality's codes).
SIDES = tuple(HAND_SIDES)

# Joints on the thumb's side of the hand, and on the little finger's.
_THUMB = ["cmc1", "mcp1", "ip1"]
_LITTLE = ["mcp5", "pip5", "dip5", "ulnar_styloid"]


def side_from_joints(rows: pd.DataFrame) -> str | None:
    """R or L from where the thumb's joints lie against the little finger's, or None.

    Parameters
    ----------
    rows : DataFrame
        One image's rows of `JointScoreTransformer.score_images`: ``joint``, ``found``,
        ``x`` (file pixels).

    Returns
    -------
    str or None
        ``"R"`` when the thumb's found joints lie left of the little finger's (a
        posteroanterior right hand, fingers up), ``"L"`` when right of them, None when
        either side has no found joint.

    Examples
    --------
    >>> rows = pd.DataFrame({"joint": ["mcp1", "mcp5"], "found": [True, True],
    ...                      "x": [50.0, 10.0]})
    >>> side_from_joints(rows)
    'L'
    """
    found = rows[rows["found"].astype(bool)].set_index("joint")
    thumb = found.index.intersection(_THUMB)
    little = found.index.intersection(_LITTLE)
    if thumb.empty or little.empty:
        return None
    return "R" if found.loc[thumb, "x"].mean() < found.loc[little, "x"].mean() else "L"


def file_laterality(source: Any) -> str | None:
    """A DICOM file's Image Laterality (else its series' Laterality): "R", "L" or None.

    Only the header is read (no pixels). Anything else (a PNG, an array, a file that is not
    DICOM or cannot be read, a side other than R or L) gives None: the caller then reads
    the side from the image, and the file's own errors come from whoever reads its pixels.

    Parameters
    ----------
    source : path-like, array or anything

    Returns
    -------
    str or None

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from ramultimodal.io import write_dicom
    >>> path = tempfile.mkdtemp() + "/a.dcm"
    >>> write_dicom(path, np.zeros((8, 8), np.uint16), patient_id="p1", study_date="2020-03-01",
    ...             study_uid="1.2.3", series_uid="1.2.3.1", sop_uid="1.2.3.1.1",
    ...             laterality="L", pixel_spacing_mm=0.2)
    >>> file_laterality(path), file_laterality(np.zeros((8, 8)))
    ('L', None)
    """
    if not isinstance(source, str | os.PathLike):
        return None
    import pydicom

    try:
        with open(source, "rb") as file:
            if file.read(132)[128:] != b"DICM":  # the DICOM Part 10 preamble's marker
                return None
        header = pydicom.dcmread(
            source, stop_before_pixels=True, specific_tags=["ImageLaterality", "Laterality"]
        )
    except (OSError, ValueError, pydicom.errors.InvalidDicomError):
        return None
    side = str(header.get("ImageLaterality") or header.get("Laterality") or "").strip().upper()
    return side if side in SIDES else None


def score_by_place(model: Any, images: list[Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One patient's radiographs scored by `model` (`JointScoreTransformer.score_images`),
    each image's rows named by its place (``"0"``, ``"1"``: two files of one patient may
    share a name), and each image's side as its file gives it (`file_laterality`; None
    for a PNG), ready for `hand_sides`."""
    ids = [str(n) for n in range(len(images))]
    scores = model.score_images(list(images))
    # score_images gives each image's rows together, one per joint.
    scores = scores.assign(image_id=np.repeat(ids, len(JOINTS)))
    return scores, {i: file_laterality(image) for i, image in zip(ids, images, strict=True)}


def hand_sides(
    scores: pd.DataFrame, sides: Mapping[str, str | None] | None = None
) -> dict[str, tuple[str | None, str]]:
    """Which hand each image shows, and how that is known.

    Parameters
    ----------
    scores : DataFrame
        `JointScoreTransformer.score_images` rows; a ``laterality`` column (``L``/``R``)
        is used when present.
    sides : mapping of image id to "L" or "R", optional
        What the caller knows (a DICOM's Image Laterality, an image manifest); first. An
        image mapped to None is read as if it were not given.

    Returns
    -------
    dict
        Image id -> (``"L"``, ``"R"`` or None, source): the source is ``"given"``,
        ``"laterality column"``, ``"thumb side"`` (read from the found joints) or
        ``"unknown"`` (too few joints found to tell).

    Raises
    ------
    ValueError
        For a given side other than L or R.

    Examples
    --------
    >>> table = pd.DataFrame({"image_id": ["a", "a"], "joint": ["mcp1", "mcp5"],
    ...                       "found": [True, True], "x": [10.0, 50.0], "y": [5.0, 5.0]})
    >>> hand_sides(table)
    {'a': ('R', 'thumb side')}
    >>> hand_sides(table, {"a": "L"})
    {'a': ('L', 'given')}
    """
    sides = dict(sides or {})
    known: dict[str, tuple[str | None, str]] = {}
    for image_id, rows in scores.groupby(scores["image_id"].astype(str), sort=False):
        side, source = sides.get(image_id), "given"
        if side is None and "laterality" in rows.columns:
            values = rows["laterality"].dropna().astype(str).str.upper().unique()
            side, source = (values[0], "laterality column") if len(values) == 1 else (None, "")
        if side is None:
            side, source = side_from_joints(rows), "thumb side"
            if side is None:
                source = "unknown"
        if side is not None and str(side).upper() not in SIDES:
            raise ValueError(f"Image {image_id}: laterality {side!r} is neither 'L' nor 'R'.")
        known[image_id] = (None if side is None else str(side).upper(), source)
    return known
