"""Clinical scores of RA: 2010 ACR/EULAR criteria, DAS28, CDAI, SDAI, HAQ-DI, RAPID3.

Every function is vectorised: arguments are scalars, numpy arrays or pandas Series
(broadcast together), and a missing input gives a missing score (NaN) unless the
published rule says otherwise. A Series argument makes the result a Series with the same
index; scalars give a float. Formulas and cut-offs: ../shared/CLINICAL.md, with the
original publication named at each function.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ramultimodal.terminology.codes import HAQ_DI_CATEGORIES, upper_normal

__all__ = [
    "acr_eular_2010_score",
    "cdai",
    "das28_category",
    "das28_crp",
    "das28_esr",
    "haq_di",
    "rapid3",
    "rapid3_category",
    "sdai",
]

# Upper limits of normal (CLINICAL.md, "Reference ranges"): RF 14 IU/mL, anti-CCP 20 U/mL,
# CRP 5 mg/L, ESR 20 mm/h in women and 15 mm/h in men.
_RF_ULN = upper_normal("rf")
_ANTI_CCP_ULN = upper_normal("anti_ccp")
_CRP_ULN = upper_normal("crp")
_ESR_ULN_WOMEN, _ESR_ULN_MEN = upper_normal("esr", "female"), upper_normal("esr", "male")

ArrayLike = Any  # scalar, sequence, numpy array or pandas Series


def _numbers(values: ArrayLike) -> np.ndarray:
    """Return float64 values with pandas' NA and None as NaN."""
    if isinstance(values, (pd.Series, pd.Index)):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(values if values is not None else np.nan, dtype=np.float64)


def _like(result: np.ndarray, *inputs: ArrayLike, name: str) -> Any:
    """Give `result` the container of the inputs: a Series when one is, else array/float."""
    for value in inputs:
        if isinstance(value, pd.Series):
            return pd.Series(np.broadcast_to(result, value.shape), index=value.index, name=name)
    return float(result) if np.ndim(result) == 0 else result


def _ladder(values: np.ndarray, upper_normal: float) -> np.ndarray:
    """Serology points of one test: 0 up to the ULN, 2 up to 3x the ULN, 3 above; NaN stays."""
    points = np.where(values > 3 * upper_normal, 3.0, np.where(values > upper_normal, 2.0, 0.0))
    return np.where(np.isnan(values), np.nan, points)


def _serology_points(titre: ArrayLike, positive: ArrayLike, upper_normal: float) -> np.ndarray:
    """Points of one antibody test: by its titre, else by its qualitative result (2 or 0)."""
    points = _ladder(_numbers(titre), upper_normal)
    if positive is None:
        return points
    qualitative = _numbers(positive)
    by_result = np.where(np.isnan(qualitative), np.nan, np.where(qualitative > 0, 2.0, 0.0))
    return np.where(np.isnan(points), by_result, points)


def _max_measured(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Points of a pair of tests: the higher one; one measured test suffices; NaN if neither."""
    return np.fmax(first, second)  # fmax ignores a NaN unless both are NaN


def _esr_upper_normal(sex: ArrayLike) -> np.ndarray:
    """ESR ULN per patient: 15 mm/h for men, else 20 mm/h (women, or sex unknown)."""
    if sex is None:
        return np.asarray(_ESR_ULN_WOMEN)
    first_letter = pd.Series(np.atleast_1d(np.asarray(sex, dtype=object))).astype("string")
    male = first_letter.str.strip().str.lower().str.startswith("m").fillna(False).to_numpy(bool)
    upper = np.where(male, _ESR_ULN_MEN, _ESR_ULN_WOMEN)
    return upper if np.ndim(sex) else upper[0]


def acr_eular_2010_score(
    *,
    small_joints: ArrayLike,
    large_joints: ArrayLike,
    rf: ArrayLike,
    anti_ccp: ArrayLike,
    crp: ArrayLike,
    esr: ArrayLike,
    symptom_duration_weeks: ArrayLike,
    sex: ArrayLike = None,
    rf_positive: ArrayLike = None,
    anti_ccp_positive: ArrayLike = None,
    return_components: bool = False,
) -> Any:
    """Score the 2010 ACR/EULAR classification criteria for RA (0-10; >= 6 is definite RA).

    Aletaha et al., Arthritis Rheum 2010;62:2569 (table in CLINICAL.md). Four categories:

    - A, joints (0-5): 0 for 0-1 large joint, 1 for 2-10 large joints, 2 for 1-3 small
      joints, 3 for 4-10 small joints, 5 for more than 10 joints with at least one small.
      More than 10 large joints and no small one score 1 (the table has no other row).
    - B, serology (0-3): the higher of RF and anti-CCP: 0 at or below the upper limit of
      normal (ULN; RF 14 IU/mL, anti-CCP 20 U/mL), 2 above it up to 3x the ULN ("low
      positive"), 3 above 3x the ULN ("high positive"). A test known only as positive or
      negative (`rf_positive`, `anti_ccp_positive`) scores 2 or 0 where its titre is
      missing: the paper scores a qualitative positive result as low positive (Aletaha
      et al., Table 3, footnote).
    - C, acute phase (0-1): 1 when CRP > 5 mg/L or ESR > its ULN (20 mm/h for women and
      when `sex` is unknown, 15 mm/h for men).
    - D, symptom duration (0-1): 1 from 6 weeks on.

    Missing values: the paper requires "at least 1 test result" for serology and for
    the acute-phase reactants (footnotes to its Table 3), so when one test of a pair was
    measured, the unmeasured one counts as normal; when neither was, the category, and so
    the total, is NaN (not classifiable). Missing joint counts or duration give NaN too.

    Parameters
    ----------
    small_joints, large_joints : array-like
        Number of involved (tender or swollen) small and large joints.
    rf : array-like
        Rheumatoid factor, IU/mL.
    anti_ccp : array-like
        Anti-CCP (ACPA), U/mL.
    crp : array-like
        C-reactive protein, mg/L.
    esr : array-like
        Erythrocyte sedimentation rate, mm/h.
    symptom_duration_weeks : array-like
        Duration of the symptoms of the joints examined, weeks.
    sex : array-like of str, optional
        ``"female"``/``"male"`` (or anything starting with f/m); sets the ESR ULN.
    rf_positive, anti_ccp_positive : array-like, optional
        A qualitative result of the test (1 positive, 0 negative, NaN unknown), read
        where its titre (`rf`, `anti_ccp`) is missing.
    return_components : bool, default False
        Return a DataFrame with columns ``joints``, ``serology``, ``acute_phase``,
        ``duration`` and ``total`` instead of the total alone.

    Returns
    -------
    float, ndarray, Series or DataFrame
        The total score (0-10), or the components and total.

    Examples
    --------
    Five small joints (3), RF 50 IU/mL = 3.6x ULN (3), CRP 12 mg/L (1), 8 weeks (1):

    >>> acr_eular_2010_score(small_joints=5, large_joints=0, rf=50, anti_ccp=None,
    ...                      crp=12, esr=None, symptom_duration_weeks=8)
    8.0

    RF known only as positive scores as low positive (2), anti-CCP 15 U/mL as negative:

    >>> acr_eular_2010_score(small_joints=5, large_joints=0, rf=None, anti_ccp=15,
    ...                      crp=12, esr=None, symptom_duration_weeks=8, rf_positive=1)
    7.0
    >>> acr_eular_2010_score(small_joints=[0, 2], large_joints=[1, 0], rf=[10, 20],
    ...                      anti_ccp=[15, 30], crp=[3, 3], esr=[18, 18],
    ...                      symptom_duration_weeks=[4, 10], sex=["female", "male"],
    ...                      return_components=True)
       joints  serology  acute_phase  duration  total
    0     0.0       0.0          0.0       0.0    0.0
    1     2.0       2.0          1.0       1.0    6.0
    """
    small, large = _numbers(small_joints), _numbers(large_joints)
    small, large = np.broadcast_arrays(small, large)
    joints = np.select(
        [small + large > 10, small >= 4, small >= 1, large >= 2],
        [5.0, 3.0, 2.0, 1.0],
        default=0.0,
    )
    joints = np.where(small + large > 10, np.where(small >= 1, 5.0, 1.0), joints)
    joints = np.where(np.isnan(small) | np.isnan(large), np.nan, joints)

    serology = _max_measured(
        _serology_points(rf, rf_positive, _RF_ULN),
        _serology_points(anti_ccp, anti_ccp_positive, _ANTI_CCP_ULN),
    )
    crp_values, esr_values = _numbers(crp), _numbers(esr)
    crp_points = np.where(np.isnan(crp_values), np.nan, (crp_values > _CRP_ULN).astype(float))
    esr_points = np.where(
        np.isnan(esr_values), np.nan, (esr_values > _esr_upper_normal(sex)).astype(float)
    )
    acute_phase = _max_measured(crp_points, esr_points)

    weeks = _numbers(symptom_duration_weeks)
    duration = np.where(np.isnan(weeks), np.nan, (weeks >= 6).astype(float))

    components = np.broadcast_arrays(joints, serology, acute_phase, duration)
    total = np.sum(components, axis=0)  # NaN in any category -> NaN total
    inputs = (
        small_joints, large_joints, rf, anti_ccp, crp, esr, symptom_duration_weeks, sex,
        rf_positive, anti_ccp_positive,
    )  # fmt: skip
    if not return_components:
        return _like(total, *inputs, name="acr_eular_2010")
    index = next((value.index for value in inputs if isinstance(value, pd.Series)), None)
    names = ("joints", "serology", "acute_phase", "duration", "total")
    return pd.DataFrame(
        {name: np.atleast_1d(part) for name, part in zip(names, (*components, total), strict=True)},
        index=index,
    )


def das28_esr(
    tender_joints: ArrayLike,
    swollen_joints: ArrayLike,
    esr: ArrayLike,
    patient_global_mm: ArrayLike,
) -> Any:
    """Disease Activity Score on 28 joints with ESR.

    ``0.56*sqrt(TJC28) + 0.28*sqrt(SJC28) + 0.70*ln(ESR) + 0.014*GH`` (Prevoo et al.,
    Arthritis Rheum 1995;38:44; CLINICAL.md).

    Parameters
    ----------
    tender_joints, swollen_joints : array-like
        Tender and swollen joint counts of 28.
    esr : array-like
        ESR, mm/h (must be positive: ln).
    patient_global_mm : array-like
        Patient global health on a 0-100 mm scale (a 0-10 score times 10).

    Returns
    -------
    float, ndarray or Series

    Examples
    --------
    0.56*sqrt(4) + 0.28*sqrt(9) + 0.70*ln(30) + 0.014*50 = 1.12 + 0.84 + 2.3808 + 0.70:

    >>> round(das28_esr(4, 9, 30, 50), 4)
    5.0408
    """
    tender, swollen = _numbers(tender_joints), _numbers(swollen_joints)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (
            0.56 * np.sqrt(tender)
            + 0.28 * np.sqrt(swollen)
            + 0.70 * np.log(_numbers(esr))
            + 0.014 * _numbers(patient_global_mm)
        )
    return _like(score, tender_joints, swollen_joints, esr, patient_global_mm, name="das28_esr")


def das28_crp(
    tender_joints: ArrayLike,
    swollen_joints: ArrayLike,
    crp: ArrayLike,
    patient_global_mm: ArrayLike,
) -> Any:
    """Disease Activity Score on 28 joints with CRP (mg/L).

    ``0.56*sqrt(TJC28) + 0.28*sqrt(SJC28) + 0.36*ln(CRP + 1) + 0.014*GH + 0.96``
    (CLINICAL.md; CRP in mg/L).

    Parameters
    ----------
    tender_joints, swollen_joints : array-like
        Tender and swollen joint counts of 28.
    crp : array-like
        CRP, mg/L.
    patient_global_mm : array-like
        Patient global health, 0-100 mm.

    Returns
    -------
    float, ndarray or Series

    Examples
    --------
    0.56*sqrt(4) + 0.28*sqrt(9) + 0.36*ln(10 + 1) + 0.014*50 + 0.96
    = 1.12 + 0.84 + 0.86323 + 0.70 + 0.96:

    >>> round(das28_crp(4, 9, 10, 50), 4)
    4.4832
    """
    tender, swollen = _numbers(tender_joints), _numbers(swollen_joints)
    score = (
        0.56 * np.sqrt(tender)
        + 0.28 * np.sqrt(swollen)
        + 0.36 * np.log(_numbers(crp) + 1.0)
        + 0.014 * _numbers(patient_global_mm)
        + 0.96
    )
    return _like(score, tender_joints, swollen_joints, crp, patient_global_mm, name="das28_crp")


def das28_category(das28: ArrayLike) -> Any:
    """Disease activity of a DAS28: remission < 2.6, low <= 3.2, moderate <= 5.1, high.

    Cut-offs from CLINICAL.md (Fransen & van Riel, Clin Exp Rheumatol 2005).

    Examples
    --------
    >>> das28_category([2.0, 2.6, 3.2, 5.1, 5.2, float("nan")]).tolist()
    ['remission', 'low', 'low', 'moderate', 'high', nan]
    """
    numbers = _numbers(das28)
    labels = np.select(
        [numbers < 2.6, numbers <= 3.2, numbers <= 5.1, numbers > 5.1],
        ["remission", "low", "moderate", "high"],
        default="",
    )
    return _labels(labels, numbers, das28, name="das28_category")


def cdai(
    tender_joints: ArrayLike,
    swollen_joints: ArrayLike,
    patient_global: ArrayLike,
    evaluator_global: ArrayLike,
) -> Any:
    """Clinical Disease Activity Index: TJC28 + SJC28 + patient global + evaluator global.

    Both globals on 0-10 scales; range 0-76 (Aletaha & Smolen, Clin Exp Rheumatol 2005).

    Examples
    --------
    >>> cdai(4, 3, 6.5, 5)
    18.5
    """
    score = (
        _numbers(tender_joints)
        + _numbers(swollen_joints)
        + _numbers(patient_global)
        + _numbers(evaluator_global)
    )
    return _like(
        score, tender_joints, swollen_joints, patient_global, evaluator_global, name="cdai"
    )


def sdai(
    tender_joints: ArrayLike,
    swollen_joints: ArrayLike,
    patient_global: ArrayLike,
    evaluator_global: ArrayLike,
    crp: ArrayLike,
) -> Any:
    """Simplified Disease Activity Index: the CDAI plus CRP in mg/dL.

    `crp` is taken in mg/L, the unit of the events table, and divided by 10 here because
    the SDAI adds CRP in mg/dL (Smolen et al., Rheumatology 2003;42:244).

    Examples
    --------
    CDAI 18.5 plus CRP 12 mg/L = 1.2 mg/dL:

    >>> sdai(4, 3, 6.5, 5, crp=12)
    19.7
    """
    score = cdai(tender_joints, swollen_joints, patient_global, evaluator_global)
    score = _numbers(score) + _numbers(crp) / 10.0
    return _like(
        score, tender_joints, swollen_joints, patient_global, evaluator_global, crp, name="sdai"
    )


_HAQ_ITEM = re.compile(r"(?:^|[/_-])(" + "|".join(HAQ_DI_CATEGORIES) + r")[-_](\d+)$")


def haq_di(
    items: pd.DataFrame | Mapping[str, float],
    *,
    aids_or_help: pd.DataFrame | Mapping[str, bool] | None = None,
) -> Any:
    """Health Assessment Questionnaire Disability Index (0-3) from its 20 items.

    Fries et al., Arthritis Rheum 1980;23:137 (CLINICAL.md): each of the 8 categories
    scores its highest item (0-3); when aids/devices or help are used in a category, a 0
    or 1 is raised to 2; the index is the sum over the categories answered divided by
    their number, and is missing when fewer than 6 categories were answered.

    Parameters
    ----------
    items : DataFrame or mapping
        One row per questionnaire, one column per item, scored 0-3 (NaN = unanswered);
        or one questionnaire as a mapping of item -> score, unanswered items left out.
        Items are recognised by their name ending in ``<category>-<n>`` or
        ``<category>_<n>``, as in the item codes ``QR/haq-di-grip-2``; categories are the
        keys of `ramultimodal.terminology.codes.HAQ_DI_CATEGORIES`. Other names are an error.
    aids_or_help : DataFrame or mapping, optional
        Same rows, one boolean column per category (named by the category) that is true
        when aids, devices or help were used for it; absent categories count as false.
        For a mapping of items, a mapping of category -> bool.

    Returns
    -------
    Series or float
        The HAQ-DI, indexed like `items`; a float (NaN when not scorable) for a mapping.

    Examples
    --------
    >>> items = pd.DataFrame([{"dressing-1": 1, "arising-1": 2, "eating-2": 0, "walking-1": 1,
    ...                        "hygiene-3": 0, "reach-1": 3, "grip-1": 1, "activities-1": 0}])
    >>> haq_di(items).round(4).tolist()  # (1 + 2 + 0 + 1 + 0 + 3 + 1 + 0) / 8
    [1.0]
    >>> haq_di(items, aids_or_help=pd.DataFrame([{"grip": True}])).tolist()  # grip 1 -> 2
    [1.125]
    >>> haq_di({"QR/haq-di-grip-1": 2.0, "QR/haq-di-grip-2": 3.0})  # one category of 8
    nan
    """
    if isinstance(items, Mapping):
        categories = [_haq_category(name, "item") for name in items]
        answers = np.array([list(items.values())], dtype=np.float64).reshape(1, len(items))
        aids = aids_or_help or {}
        used = [[bool(aids.get(name, False)) for name in dict.fromkeys(categories)]]
        return float(_haq_di_index(answers, categories, np.array(used, dtype=bool))[0])
    categories = [_haq_category(column, "column") for column in items.columns]
    numbers = items.apply(pd.to_numeric) if len(items.columns) else items
    answers = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    names = list(dict.fromkeys(categories))
    used = np.zeros((len(items), len(names)), dtype=bool)
    for j, name in enumerate(names):
        if aids_or_help is not None and name in aids_or_help.columns:
            aid = aids_or_help[name].reindex(items.index).fillna(False).astype(bool)
            used[:, j] = aid.to_numpy(dtype=bool)
    return pd.Series(_haq_di_index(answers, categories, used), index=items.index, name="haq_di")


def _haq_category(item: Any, what: str) -> str:
    """The HAQ-DI category of an item name (``QR/haq-di-grip-2`` -> ``grip``)."""
    match = _HAQ_ITEM.search(str(item))
    if match is None:
        raise ValueError(
            f"haq_di: {what} {item!r} is not a HAQ-DI item; name items "
            f"'<category>-<n>' with a category in {list(HAQ_DI_CATEGORIES)}."
        )
    return match.group(1)


def _haq_di_index(answers: np.ndarray, categories: list[str], aids: np.ndarray) -> np.ndarray:
    """The HAQ-DI of each row of `answers` (NaN = unanswered), whose columns are items of
    `categories`; `aids` (bool) has a column per category, in order of first appearance."""
    names = list(dict.fromkeys(categories))
    scores = np.full((len(names), answers.shape[0]), np.nan)  # a row per category
    for j, name in enumerate(names):
        block = answers[:, [i for i, category in enumerate(categories) if category == name]]
        answered = ~np.isnan(block)
        best = np.where(answered, block, -np.inf).max(axis=1)
        scores[j] = np.where(answered.any(axis=1), best, np.nan)
    scores = np.where(aids.T & (scores < 2), 2.0, scores)  # NaN < 2 is False: stays NaN
    answered = (~np.isnan(scores)).sum(axis=0)
    # Answers are whole numbers 0-3, so the sum is exact in any order.
    total = np.where(np.isnan(scores), 0.0, scores).sum(axis=0)
    # Fries 1980 / Stanford scoring: no score with fewer than 6 categories answered.
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(answered >= 6, total / answered, np.nan)


def rapid3(function: ArrayLike, pain: ArrayLike, patient_global: ArrayLike) -> Any:
    """Routine Assessment of Patient Index Data 3: function + pain + patient global (0-30).

    Each part on a 0-10 scale (Pincus et al., J Rheumatol 2008;35:2136; CLINICAL.md).

    Examples
    --------
    >>> rapid3(function=3.3, pain=6, patient_global=5)
    14.3
    """
    score = _numbers(function) + _numbers(pain) + _numbers(patient_global)
    return _like(score, function, pain, patient_global, name="rapid3")


def rapid3_category(score: ArrayLike) -> Any:
    """RAPID3 severity: remission <= 3, low <= 6, moderate <= 12, high > 12 (CLINICAL.md).

    Examples
    --------
    >>> rapid3_category([3, 3.3, 6, 12, 12.3]).tolist()
    ['remission', 'low', 'low', 'moderate', 'high']
    """
    numbers = _numbers(score)
    labels = np.select(
        [numbers <= 3, numbers <= 6, numbers <= 12, numbers > 12],
        ["remission", "low", "moderate", "high"],
        default="",
    )
    return _labels(labels, numbers, score, name="rapid3_category")


def _labels(labels: np.ndarray, numbers: np.ndarray, original: ArrayLike, *, name: str) -> Any:
    """Category labels as objects, NaN where the score is missing, shaped like `original`."""
    result = np.where(np.isnan(numbers), np.nan, labels.astype(object))
    if isinstance(original, pd.Series):
        return pd.Series(result, index=original.index, name=name)
    return result if np.ndim(result) else result.item()
