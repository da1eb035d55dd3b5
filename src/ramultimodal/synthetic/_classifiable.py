"""When each patient first fulfils the 2010 ACR/EULAR criteria, read off the record.

The RA diagnosis (``time_to_ra_days``) is one reference standard of early-arthritis
studies; fulfilling the 2010 ACR/EULAR classification criteria is the other (Radner et
al., Ann Rheum Dis 2014;73:114). Nothing new is drawn for it: the criteria are scored
at each visit of the record with a joint exam, on or after the index visit, as the
library scores them at an index date (`ramultimodal.ehr.EHRFeaturizer`'s category points,
summed as `ramultimodal.ehr.ACREULARClassifier` sums them), so the date is a fact of the
record a user could recompute, and the clinic's records stay as they were.

A visit fulfils the criteria when the score reaches `ACR_EULAR_DEFINITE_RA` and the
exam found at least one swollen joint: the criteria apply only to patients with clinical
synovitis (Aletaha et al. 2010), which seropositive arthralgia lacks until arthritis comes.
``time_to_acr_eular_days`` counts days from the index date to the first such visit, 0
when the index visit itself fulfils them (a prevalent case, already classifiable), or to
the end of follow-up (``acr_eular_event`` 0), censored as ``time_to_ra_days`` is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ramultimodal.terminology.codes import ACR_EULAR_DEFINITE_RA, CONCEPTS

__all__ = ["first_fulfilment"]

# Scored at the visits where the joints were examined: a joint count is the criteria's
# first category, and the entry criterion (a swollen joint) is read from the same exam.
_EXAM_CODES = frozenset(CONCEPTS["involved_small_joints"].codes)


def first_fulfilment(
    patients: pd.DataFrame, events: pd.DataFrame, follow_up_days: np.ndarray
) -> pd.DataFrame:
    """``time_to_acr_eular_days`` and ``acr_eular_event`` of each patient.

    Parameters
    ----------
    patients : DataFrame
        Indexed by ``subject_id``, with ``index_date``.
    events : DataFrame
        The patients' events table (`ramultimodal.io.as_events`).
    follow_up_days : ndarray of shape (n_patients,)
        Days from each patient's index date to the end of follow-up, in `patients` order.

    Returns
    -------
    DataFrame
        Indexed as `patients`: ``time_to_acr_eular_days`` (int) and ``acr_eular_event``
        (bool).

    Examples
    --------
    >>> from ramultimodal.synthetic import make_cohort
    >>> cohort = make_cohort(30, seed=2, render_images=False, population="undifferentiated")
    >>> labels = cohort.labels
    >>> bool((labels["time_to_acr_eular_days"] >= 0).all())
    True
    >>> neither = ~labels["acr_eular_event"] & ~labels["event"]  # censored at the same day
    >>> bool(labels.loc[neither, "time_to_acr_eular_days"].eq(
    ...     labels.loc[neither, "time_to_ra_days"]).all())
    True
    """
    from ramultimodal.ehr import EHRFeaturizer
    from ramultimodal.ehr._acr_eular import criteria_points

    index = pd.to_datetime(patients["index_date"]).dt.normalize()
    end = index + pd.to_timedelta(np.asarray(follow_up_days, dtype=np.int64), unit="D")
    subject = events["subject_id"].astype(str)
    time = pd.to_datetime(events["time"]).dt.normalize()
    exams = pd.DataFrame({"subject_id": subject, "day": time})[
        events["code"].isin(_EXAM_CODES).to_numpy(dtype=bool)
    ].drop_duplicates()
    ids = patients.index.astype(str)
    exams = exams[exams["subject_id"].isin(ids)]
    start = exams["subject_id"].map(pd.Series(index.to_numpy(), index=ids))
    stop = exams["subject_id"].map(pd.Series(end.to_numpy(), index=ids))
    exams = exams[(exams["day"] >= start) & (exams["day"] <= stop)].sort_values(
        ["subject_id", "day"], kind="stable"
    )
    # The featurizer takes one index date per patient: score the k-th exam of every
    # patient at once, k = 0, 1, ... (a handful of rounds: visits are months apart).
    exams["round"] = exams.groupby("subject_id").cumcount()
    featurizer = EHRFeaturizer(
        events,
        lookback_days=(None,),
        aggregations=("last",),
        concepts=("swollen_joints_28",),
        missing_indicators=False,
    ).set_output(transform="pandas")
    first = pd.Series(pd.NaT, index=ids, dtype="datetime64[ns]")
    for _, visits in exams.groupby("round", sort=True):
        visits = visits[first.reindex(visits["subject_id"]).isna().to_numpy()]
        if visits.empty:
            continue
        at = visits.set_index("subject_id")[["day"]].rename(columns={"day": "index_date"})
        features = pd.DataFrame(featurizer.fit_transform(at), index=at.index)
        if "swollen_joints_28_last_all" not in features:
            continue  # no one examined in this round had a 28-joint count
        fulfils = (criteria_points(features) >= ACR_EULAR_DEFINITE_RA) & (
            features["swollen_joints_28_last_all"].to_numpy() > 0
        )
        first.loc[at.index[fulfils]] = at.loc[fulfils, "index_date"].to_numpy()
    event = first.notna().to_numpy()
    days = np.where(
        event,
        (first.to_numpy() - index.to_numpy()) / np.timedelta64(1, "D"),
        np.asarray(follow_up_days, dtype=float),
    )
    return pd.DataFrame(
        {"time_to_acr_eular_days": np.rint(days).astype(np.int64), "acr_eular_event": event},
        index=patients.index,
    )
