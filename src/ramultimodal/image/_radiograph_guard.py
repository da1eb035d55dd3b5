"""The leakage guard of radiographs: those taken by the index date, of the body parts asked for.

A radiograph taken after a patient's index date shows what the model must predict (erosions
that came later), and one of another body part (a knee) is not what a hand model learned
from. `usable_radiographs` leaves both out and counts them in an `ImageGuardWarning`, with
the radiographs it cannot check (no study date, no body part), which it uses.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ramultimodal.io import parse_times

__all__ = ["ImageGuardWarning", "usable_radiographs"]


class ImageGuardWarning(UserWarning):
    """Radiographs left out by the leakage guard (after the index date, another body part),
    or used without its check (no study date, no body part)."""


def usable_radiographs(
    images: pd.DataFrame,
    index_day: pd.Series,
    body_parts: Sequence[str],
    *,
    check_dates: bool = True,
    stacklevel: int = 2,
) -> np.ndarray:
    """Which radiographs of an image manifest a model may use, and a warning that counts
    the others.

    Parameters
    ----------
    images : DataFrame
        The image manifest (docs/data-model.md): ``study_time`` and ``body_part`` are read
        where present.
    index_day : Series of datetime64, aligned with `images`
        The index date (midnight) of each image's patient. A radiograph taken on the index
        day is usable.
    body_parts : sequence of str
        DICOM Body Part Examined values the model is for, in any case
        (`ramultimodal.terminology.dicom.RA_BODY_PARTS`).
    check_dates : bool, default True
        False turns the date check off (the featurizer's ``max_time="all"``).
    stacklevel : int, default 2
        Of the warning, as in `warnings.warn`.

    Returns
    -------
    ndarray of bool
        True for each row of `images` to use.

    Examples
    --------
    >>> images = pd.DataFrame({"study_time": ["2020-01-05", "2020-03-01", "2020-01-05"],
    ...                        "body_part": ["HAND", "HAND", "KNEE"]})
    >>> index_day = pd.Series(pd.to_datetime(["2020-02-01"] * 3))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     usable_radiographs(images, index_day, ("HAND", "FOOT")).tolist()
    [True, False, False]
    >>> print(caught[0].message)  # doctest: +NORMALIZE_WHITESPACE
    Of 3 radiographs, 1 dated after the index date;
    1 of another body part than FOOT, HAND (KNEE 1): not used.
    """
    if isinstance(body_parts, str) or not all(isinstance(b, str) for b in body_parts):
        raise ValueError(f"body_parts must be a sequence of names, got {body_parts!r}.")
    accepted = {part.strip().upper() for part in body_parts}
    blank = pd.Series(None, index=images.index, dtype=object)
    study = parse_times(images.get("study_time", blank))
    part = images.get("body_part", blank).astype("string").str.strip().str.upper()
    if check_dates:
        later = (study.dt.normalize() > index_day).fillna(False).to_numpy(dtype=bool)
    else:
        later = np.zeros(len(images), dtype=bool)
    elsewhere = (part.notna() & ~part.isin(accepted)).to_numpy(dtype=bool)
    keep = ~later & ~elsewhere
    left_out = {
        "dated after the index date": int(later.sum()),
        f"of another body part than {', '.join(sorted(accepted))}": int(elsewhere.sum()),
    }
    unchecked = {
        "have no study date": int((study.isna().to_numpy() & keep).sum()),
        "have no body part": int((part.isna().to_numpy() & keep).sum()),
    }
    if any(left_out.values()) or any(unchecked.values()):
        others = Counter(part[elsewhere].dropna())
        message = "; ".join(f"{n} {why}" for why, n in left_out.items() if n)
        if others:
            message += f" ({', '.join(f'{name} {n}' for name, n in others.most_common())})"
        used = "; ".join(f"{n} {why}" for why, n in unchecked.items() if n)
        warnings.warn(
            f"Of {len(images)} radiographs, "
            + (f"{message}: not used" if message else "all are used")
            + (f"; {used}: used, which the leakage guard cannot check" if used else "")
            + ".",
            ImageGuardWarning,
            stacklevel=stacklevel + 1,
        )
    return keep
