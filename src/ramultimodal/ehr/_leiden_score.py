"""`leiden_score`: the Leiden prediction rule (0-14), vectorised, item by item.

The points and cut-offs are in `ramultimodal.terminology.leiden`, with their sources.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ramultimodal.ehr.scores import _like, _numbers
from ramultimodal.terminology.codes import upper_normal
from ramultimodal.terminology.leiden import (
    LEIDEN_AGE_POINTS_PER_YEAR,
    LEIDEN_COUNT_POINTS,
    LEIDEN_CRP_POINTS,
    LEIDEN_ITEMS,
    LEIDEN_LOCALISATION_POINTS,
    LEIDEN_SEROLOGY_POINTS,
    LEIDEN_SEX_POINTS,
    LEIDEN_STIFFNESS_MINUTES_POINTS,
    LEIDEN_STIFFNESS_VAS_POINTS,
)

__all__ = ["leiden_score"]

ArrayLike = Any  # scalar, sequence, numpy array or pandas Series; None: not recorded


def _ladder(values: np.ndarray, steps: tuple[tuple[float, float, bool], ...]) -> np.ndarray:
    """Points of a measured value by the thresholds `steps`; NaN stays NaN."""
    points = np.zeros_like(values)
    for bound, step_points, inclusive in steps:
        reached = values >= bound if inclusive else values > bound
        points = np.where(reached, step_points, points)
    return np.where(np.isnan(values), np.nan, points)


def _flag(values: ArrayLike) -> np.ndarray:
    """A finding as 1.0 (present) / 0.0 (absent) / NaN (unknown)."""
    numbers = _numbers(values)
    return np.where(np.isnan(numbers), np.nan, (numbers > 0).astype(float))


def _female(sex: ArrayLike) -> np.ndarray:
    """1.0 for a woman, 0.0 for a man, NaN if unknown: from 1/0 or from words (f..., m...)."""
    if sex is None:
        return np.asarray(np.nan)
    values = np.asarray(sex.to_numpy() if isinstance(sex, pd.Series) else sex, dtype=object)
    try:
        return _flag(values.astype(np.float64))
    except (TypeError, ValueError):
        words = pd.Series(np.atleast_1d(values)).astype("string").str.strip().str.lower()
        female = np.where(
            words.str.startswith("f").fillna(False),
            1.0,
            np.where(words.str.startswith("m").fillna(False), 0.0, np.nan),
        )
        return female if np.ndim(values) else female[0]


def _positive(titre: ArrayLike, positive: ArrayLike, concept: str) -> np.ndarray:
    """A test as positive (above its upper limit of normal) by its titre, else its result."""
    above = _numbers(titre)
    by_titre = np.where(np.isnan(above), np.nan, (above > upper_normal(concept)).astype(float))
    if positive is None:
        return by_titre
    return np.where(np.isnan(by_titre), _flag(positive), by_titre)


def leiden_score(
    *,
    age: ArrayLike = None,
    sex: ArrayLike = None,
    small_joints_hands_feet: ArrayLike = None,
    symmetric: ArrayLike = None,
    upper_extremities: ArrayLike = None,
    lower_extremities: ArrayLike = None,
    morning_stiffness_vas: ArrayLike = None,
    morning_stiffness_minutes: ArrayLike = None,
    tender_joints: ArrayLike = None,
    swollen_joints: ArrayLike = None,
    crp: ArrayLike = None,
    rf: ArrayLike = None,
    anti_ccp: ArrayLike = None,
    rf_positive: ArrayLike = None,
    anti_ccp_positive: ArrayLike = None,
    return_components: bool = False,
) -> Any:
    """Score the Leiden prediction rule for RA within a year in undifferentiated arthritis.

    van der Helm-van Mil et al., Arthritis Rheum 2007;56:433 (validated in Arthritis Rheum
    2008;58:2241). The points, item by item (`ramultimodal.terminology.leiden`, which says
    where each number was checked):

    - age: 0.02 per year; sex: 1 for a woman;
    - localisation of complaints: small joints of hands or feet 0.5, symmetric 0.5, upper
      extremities 1 or upper and lower extremities 1.5 (lower only: 0);
    - morning stiffness, severity on a 100 mm VAS: 26-90 mm 1, above 90 mm 2; where the VAS
      is missing, its duration when given (the 2008 re-derivation: 30-59 min 0.5, 60 min or
      more 1);
    - tender joints and swollen joints, each: 4-10 0.5, 11 or more 1;
    - CRP: 5-50 mg/L 0.5, above 50 mg/L (51 or more in the paper) 1.5;
    - RF positive 1, anti-CCP positive 2: above the upper limit of normal (RF 14 IU/mL,
      anti-CCP 20 U/mL, `ramultimodal.terminology.upper_normal`), or by the qualitative
      result (`rf_positive`, `anti_ccp_positive`) where the titre is missing.

    Missing values: an item that was not recorded (None, or NaN for a patient) is NaN in
    the components, and so is the total; the score never treats an unknown finding as
    absent by itself (`ramultimodal.ehr.LeidenRuleClassifier` has the policy that does, and
    counts it).

    Parameters
    ----------
    age : array-like
        Years.
    sex : array-like
        ``"female"``/``"male"`` (anything starting with f/m), or 1 (female) / 0.
    small_joints_hands_feet, symmetric, upper_extremities, lower_extremities : array-like
        Localisation of the complaints: 1 present, 0 absent, NaN unknown. A count (of
        involved small joints) works too: above 0 is present.
    morning_stiffness_vas : array-like
        Severity of morning stiffness, 0-100 mm.
    morning_stiffness_minutes : array-like
        Its duration in minutes, read where the VAS is missing.
    tender_joints, swollen_joints : array-like
        Tender and swollen joint counts.
    crp : array-like
        C-reactive protein, mg/L.
    rf, anti_ccp : array-like
        RF (IU/mL) and anti-CCP (U/mL) titres.
    rf_positive, anti_ccp_positive : array-like, optional
        Their qualitative results (1 positive, 0 negative), read where the titre is missing.
    return_components : bool, default False
        Return a DataFrame with one column of points per item
        (`ramultimodal.terminology.leiden.LEIDEN_ITEMS`) and ``total``.

    Returns
    -------
    float, ndarray, Series or DataFrame
        The total (0-14), or the components and total.

    Examples
    --------
    A woman of 50 (1 + 1), small hand joints, symmetric, upper and lower extremities
    (0.5 + 0.5 + 1.5), stiffness VAS 60 mm (1), 6 tender (0.5) and 12 swollen joints (1),
    CRP 20 mg/L (0.5), RF negative, anti-CCP 80 U/mL (2): 9.5, high risk.

    >>> leiden_score(age=50, sex="female", small_joints_hands_feet=1, symmetric=1,
    ...              upper_extremities=1, lower_extremities=1, morning_stiffness_vas=60,
    ...              tender_joints=6, swollen_joints=12, crp=20, rf=5, anti_ccp=80)
    9.5

    A man of 30 (0.6), one knee (no points), no stiffness, 1 tender and 1 swollen joint,
    CRP 3, both antibodies negative: 0.6, low risk. Without the localisation, NaN:

    >>> round(leiden_score(age=30, sex="male", small_joints_hands_feet=0, symmetric=0,
    ...                    upper_extremities=0, lower_extremities=1, morning_stiffness_vas=0,
    ...                    tender_joints=1, swollen_joints=1, crp=3, rf=5, anti_ccp=3), 2)
    0.6
    >>> leiden_score(age=30, sex="male", morning_stiffness_vas=0, tender_joints=1,
    ...              swollen_joints=1, crp=3, rf=5, anti_ccp=3)
    nan
    """
    upper, lower = _flag(upper_extremities), _flag(lower_extremities)
    extremities = np.select(
        [(upper == 1) & (lower == 1), upper == 1],
        [
            LEIDEN_LOCALISATION_POINTS["upper_and_lower_extremities"],
            LEIDEN_LOCALISATION_POINTS["upper_extremities"],
        ],
        default=0.0,
    )
    # Upper extremities alone decide 1 point only when the lower ones are known; upper
    # absent is 0 whatever the lower ones are.
    extremities = np.where(np.isnan(upper) | ((upper == 1) & np.isnan(lower)), np.nan, extremities)
    vas = _ladder(_numbers(morning_stiffness_vas), LEIDEN_STIFFNESS_VAS_POINTS)
    minutes = _ladder(_numbers(morning_stiffness_minutes), LEIDEN_STIFFNESS_MINUTES_POINTS)
    parts = {
        "age": _numbers(age) * LEIDEN_AGE_POINTS_PER_YEAR,
        "sex": _female(sex) * LEIDEN_SEX_POINTS,
        "small_joints_hands_feet": _flag(small_joints_hands_feet)
        * LEIDEN_LOCALISATION_POINTS["small_joints_hands_feet"],
        "symmetric": _flag(symmetric) * LEIDEN_LOCALISATION_POINTS["symmetric"],
        "extremities": extremities,
        "morning_stiffness": np.where(np.isnan(vas), minutes, vas),
        "tender_joints": _ladder(_numbers(tender_joints), LEIDEN_COUNT_POINTS),
        "swollen_joints": _ladder(_numbers(swollen_joints), LEIDEN_COUNT_POINTS),
        "crp": _ladder(_numbers(crp), LEIDEN_CRP_POINTS),
        "rf": _positive(rf, rf_positive, "rf") * LEIDEN_SEROLOGY_POINTS["rf"],
        "anti_ccp": _positive(anti_ccp, anti_ccp_positive, "anti_ccp")
        * LEIDEN_SEROLOGY_POINTS["anti_ccp"],
    }
    assert tuple(parts) == LEIDEN_ITEMS
    components = np.broadcast_arrays(*parts.values())
    total = np.sum(components, axis=0)  # NaN in any item -> NaN total
    inputs = (
        age, sex, small_joints_hands_feet, symmetric, upper_extremities, lower_extremities,
        morning_stiffness_vas, morning_stiffness_minutes, tender_joints, swollen_joints, crp,
        rf, anti_ccp, rf_positive, anti_ccp_positive,
    )  # fmt: skip
    if not return_components:
        return _like(total, *inputs, name="leiden")
    index = next((value.index for value in inputs if isinstance(value, pd.Series)), None)
    columns = {name: np.atleast_1d(part) for name, part in zip(parts, components, strict=True)}
    return pd.DataFrame({**columns, "total": np.atleast_1d(total)}, index=index)
