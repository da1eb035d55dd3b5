"""`read_joints_csv`: the joint-level truth of radiographs, as ``synth`` writes ``joints.csv``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ramultimodal.terminology.joints import EROSION_MAX, JOINTS, NARROWING_MAX

__all__ = ["JOINTS_COLUMNS", "read_joints_csv"]

#: The columns ``joints.csv`` must have; ``subject_id``, ``laterality``, ``erosion`` and
#: ``narrowing`` are read when present.
JOINTS_COLUMNS: tuple[str, ...] = ("image_id", "joint", "x", "y")
_GRADES = {"erosion": EROSION_MAX, "narrowing": NARROWING_MAX}


def read_joints_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a joints table: one row per image and joint, its place and its grades.

    Parameters
    ----------
    path : path-like
        A CSV with ``image_id``, ``joint`` (one of
        `ramultimodal.terminology.joints.JOINTS`), ``x`` and ``y`` (column and row in the
        image's own pixels, 0 at the centre of the first pixel; empty when the joint is not
        on the image), and optionally ``subject_id``, ``laterality``, ``erosion`` (0-5)
        and ``narrowing`` (0-4) as whole Sharp/van der Heijde grades.

    Returns
    -------
    DataFrame
        ``image_id`` and ``joint`` as text, ``x``/``y`` as float, the grades as float
        (NaN where not graded).

    Raises
    ------
    ValueError
        Naming the file and line of the first bad cell: a missing column, an unknown joint,
        a coordinate that is not a number, a grade outside its range or not whole, an image
        and joint given twice.

    Examples
    --------
    >>> import tempfile
    >>> path = tempfile.mkdtemp() + "/joints.csv"
    >>> _ = open(path, "w").write("image_id,joint,x,y,erosion\\na,mcp2,10.5,20,1\\n")
    >>> read_joints_csv(path)[["joint", "x", "erosion"]].to_dict("records")
    [{'joint': 'mcp2', 'x': 10.5, 'erosion': 1.0}]
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise ValueError(f"{path}: cannot be read as CSV ({type(error).__name__}).") from None
    missing = [c for c in JOINTS_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(
            f"{path}: no column {missing[0]!r}; a joints table needs {list(JOINTS_COLUMNS)}."
        )

    def fail(row: int, message: str) -> ValueError:
        return ValueError(f"{path}, line {row + 2}: {message}")

    unknown = ~table["joint"].isin(JOINTS)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise fail(row, f"unknown joint {table['joint'].iloc[row]!r}; use one of {list(JOINTS)}.")
    empty = table["image_id"].str.strip() == ""
    if empty.any():
        raise fail(int(np.flatnonzero(empty)[0]), "an empty image_id.")
    for column in ("x", "y", *[g for g in _GRADES if g in table.columns]):
        text = table[column].str.strip()
        numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
        bad = numbers.isna() & (text != "")
        bad |= ~np.isfinite(numbers.fillna(0.0))
        if column in _GRADES:
            top = _GRADES[column]
            bad |= numbers.notna() & ~(numbers.between(0, top) & (numbers % 1 == 0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            what = f"a whole grade 0-{_GRADES[column]}" if column in _GRADES else "a number"
            raise fail(row, f"{column} {table[column].iloc[row]!r} is not {what}.")
        table[column] = numbers.astype(float)
    twice = table.duplicated(["image_id", "joint"])
    if twice.any():
        row = int(np.flatnonzero(twice)[0])
        raise fail(row, f"joint {table['joint'].iloc[row]!r} of this image is given twice.")
    return table
