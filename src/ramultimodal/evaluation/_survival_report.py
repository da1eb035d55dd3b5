"""The report's "Time to RA" section: risk scores against the follow-up, and Kaplan-Meier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ramultimodal.evaluation._survival import survival_metric_table
from ramultimodal.evaluation._survival_plots import plot_kaplan_meier

__all__ = ["SURVIVAL_HORIZONS", "time_to_ra_evaluation"]

#: Horizons at which the report gives the time-dependent AUROC (6, 12, 24 months); those
#: beyond the longest follow-up are left out.
SURVIVAL_HORIZONS: tuple[int, ...] = (183, 365, 730)


def time_to_ra_evaluation(
    follow_up: pd.DataFrame,
    risks: Mapping[str, Any],
    *,
    horizon_days: int = 365,
    by: str | None = None,
    groups: Mapping[str, Any] | None = None,
    n_boot: int = 1000,
    random_state: int | None = 0,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Each risk score's C-indices and AUROC at the horizons, and Kaplan-Meier figures.

    Parameters
    ----------
    follow_up : DataFrame
        ``time_to_ra_days`` and ``event`` per patient.
    risks : mapping of name to array-like
        Risk scores (or probabilities) aligned with `follow_up`; NaN where not scored.
    horizon_days : int, default 365
        The label's horizon, marked on the figures.
    by : str, optional
        The risk score whose thirds get a Kaplan-Meier figure (default: the first).
    groups : mapping of name to array-like, optional
        Named groups (the Leiden rule's risk groups) that each get a figure too.
    n_boot, random_state
        See `survival_metric_table`.

    Returns
    -------
    table : DataFrame
        `survival_metric_table`'s.
    figures : dict of str to Figure

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> risk = rng.normal(size=150)
    >>> days = np.ceil(rng.exponential(300 * np.exp(-risk))) + 1
    >>> follow_up = pd.DataFrame({"time_to_ra_days": np.minimum(days, 800),
    ...                           "event": (days <= 800).astype(int)})
    >>> table, figures = time_to_ra_evaluation(follow_up, {"model": risk}, n_boot=20)
    >>> [c for c in table.columns if not c.endswith(("_low", "_high"))]
    ['n', 'events', 'harrell_c', 'uno_c', 'auc_183', 'auc_365', 'auc_730']
    """
    days = follow_up["time_to_ra_days"].to_numpy(dtype=float)
    event = follow_up["event"].to_numpy(dtype=int)
    horizons = [h for h in SURVIVAL_HORIZONS if h < np.max(days)]
    risks = {name: np.asarray(risk, dtype=float) for name, risk in risks.items()}
    table = survival_metric_table(
        days, event, risks, horizons=horizons, n_boot=n_boot, random_state=random_state
    )
    marks = sorted({horizon_days, *horizons})
    by = by or next(iter(risks))
    figures = {
        f"Free of RA, by thirds of {by}'s risk": plot_kaplan_meier(
            days, event, risk=risks[by], n_groups=3, horizons=marks,
            title=f"Free of RA, by {by}'s predicted risk",
        )
    }  # fmt: skip
    for name, labels in (groups or {}).items():
        figures[f"Free of RA, by {name}"] = plot_kaplan_meier(
            days, event, groups=labels, horizons=marks, title=f"Free of RA, by {name}"
        )
    return table, figures
