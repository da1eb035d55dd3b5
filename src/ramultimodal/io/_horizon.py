"""Binary labels at a prediction horizon, derived from time to RA without leakage.

``labels.csv`` may give each patient ``time_to_ra_days`` (days from the index date to the
RA diagnosis, or to the end of follow-up) and ``event`` (1: RA diagnosed then; 0: still
free of RA when follow-up ended). "RA within h days" is then 1 when ``event`` is 1 and
``time_to_ra_days <= h``, and 0 when the patient was followed past h free of RA. A patient
censored before h (lost to follow-up, or a register closed early) has no known label:

- ``censored="exclude"`` (the default) leaves such patients out and logs how many: the
  label is then known for everyone kept. The price is a small selection: the patients
  kept were followed longer.
- ``censored="negative"`` counts them as free of RA, which is what a naive extract of "no
  RA code within a year" does; it biases the label towards 0 (some of them get RA before
  h) and is offered only to reproduce such extracts.

Only the outcome columns decide the label: nothing of the follow-up reaches the features,
which `ramultimodal.ehr.EHRFeaturizer` cuts at the index date.
"""

from __future__ import annotations

import logging
import re
from typing import Literal

import numpy as np
import pandas as pd

from ramultimodal.io._cohort_events import DatasetError

__all__ = ["CENSORED", "HORIZONS", "HorizonError", "horizon_days", "horizon_labels"]

logger = logging.getLogger(__name__)

Censored = Literal["exclude", "negative"]
#: What a patient censored before the horizon becomes.
CENSORED: tuple[str, ...] = ("exclude", "negative")
#: The named horizons, in days (a month is 365.25 / 12 days, rounded).
HORIZONS: dict[str, int] = {"6m": 183, "12m": 365, "24m": 730}
#: The horizon of labels.csv's binary ``ra``: RA diagnosed within 12 months.
LABEL_HORIZON_DAYS = HORIZONS["12m"]

_TEXT = re.compile(r"\s*(\d+)\s*([dmy]?)\s*")


class HorizonError(DatasetError):
    """A horizon asked of a cohort that cannot give it, or a horizon that is not one.

    Examples
    --------
    >>> from ramultimodal.io import DatasetError
    >>> issubclass(HorizonError, DatasetError)
    True
    """


def horizon_outcome(
    time: np.ndarray, event: np.ndarray, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """RA by the horizon, and whether that is known, from time to RA and its event flag.

    A patient has RA by `days` when the event came on or before it; the answer is unknown
    for a patient censored (followed without RA) for less than `days`.

    Examples
    --------
    >>> ra, known = horizon_outcome(np.array([100, 400, 100]), np.array([True, True, False]), 365)
    >>> ra.tolist(), known.tolist()
    ([True, False, False], [True, True, False])
    """
    return event & (time <= days), event | (time >= days)


def label_horizon_days(horizon: str | int | None) -> int:
    """`horizon_days`, or `LABEL_HORIZON_DAYS` (labels.csv's ``ra``) for None.

    Examples
    --------
    >>> label_horizon_days(None), label_horizon_days("6m")
    (365, 183)
    """
    return LABEL_HORIZON_DAYS if horizon is None else horizon_days(horizon)


def horizon_days(horizon: str | int) -> int:
    """A horizon in days: ``"6m"``, ``"12m"``, ``"24m"``, ``"2y"``, ``"90d"`` or a number of days.

    Examples
    --------
    >>> horizon_days("12m"), horizon_days("6m"), horizon_days(90), horizon_days("2y")
    (365, 183, 90, 730)
    """
    if isinstance(horizon, bool):
        raise HorizonError(f"Horizon {horizon!r} is not a time; give 6m, 12m, 24m or days.")
    if isinstance(horizon, int | np.integer):
        days = int(horizon)
    else:
        match = _TEXT.fullmatch(str(horizon).lower())
        if not match:
            raise HorizonError(
                f"Horizon {horizon!r} is not a time; give 6m, 12m, 24m, a number of years "
                "(2y) or of days (90 or 90d)."
            )
        number, unit = int(match.group(1)), match.group(2)
        days = {"": number, "d": number, "m": round(number * 365.25 / 12),
                "y": round(number * 365.25)}[unit]  # fmt: skip
    if days < 1:
        raise HorizonError(f"Horizon {horizon!r} must be at least one day.")
    return days


def horizon_labels(
    follow_up: pd.DataFrame, horizon: str | int, censored: Censored = "exclude"
) -> pd.Series:
    """RA within the horizon (1/0) for each patient whose label is known there.

    Parameters
    ----------
    follow_up : DataFrame
        ``time_to_ra_days`` and ``event`` per patient (labels.csv's columns).
    horizon : str or int
        See `horizon_days`.
    censored : {"exclude", "negative"}, default "exclude"
        What a patient censored before the horizon becomes: left out (logged with a
        count), or counted free of RA (see the module's notes: biased).

    Returns
    -------
    Series of int named ``ra``
        Indexed as `follow_up`, without the patients left out.

    Examples
    --------
    >>> follow_up = pd.DataFrame({"time_to_ra_days": [40, 500, 100, 800],
    ...                           "event": [1, 1, 0, 0]}, index=list("abcd"))
    >>> horizon_labels(follow_up, "12m").to_dict()
    {'a': 1, 'b': 0, 'd': 0}
    >>> horizon_labels(follow_up, "12m", censored="negative").to_dict()
    {'a': 1, 'b': 0, 'c': 0, 'd': 0}
    """
    if censored not in CENSORED:
        raise HorizonError(f"censored={censored!r}; choose one of {list(CENSORED)}.")
    days = horizon_days(horizon)
    time = follow_up["time_to_ra_days"].to_numpy(dtype=float)
    event = follow_up["event"].to_numpy(dtype=float).astype(bool)
    ra, known = horizon_outcome(time, event, days)
    unknown = ~known
    labels = pd.Series(ra.astype(int), index=follow_up.index, name="ra")
    if censored == "exclude" and unknown.any():
        logger.info(
            "Horizon %d days: %d of %d patients were censored before it (RA unknown) and "
            "are left out (censored='exclude').",
            days,
            int(unknown.sum()),
            len(labels),
        )
        labels = labels[~unknown]
    elif unknown.any():
        logger.info(
            "Horizon %d days: %d of %d patients censored before it are counted free of RA "
            "(censored='negative').",
            days,
            int(unknown.sum()),
            len(labels),
        )
    return labels
