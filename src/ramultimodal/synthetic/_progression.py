"""Who is followed, and when RA comes: the populations of `make_cohort` and their follow-up.

Three populations, each the patients of one kind of clinic at their first visit (the index
date), followed until RA is diagnosed or they are lost to follow-up:

- ``"clinic"``: the early-arthritis clinic of `draw_patients` (RA and its mimics). RA is
  diagnosed at the first follow-up, 2-8 weeks after the index visit; the others are
  followed for one to three years. Its records are those the generator wrote before it
  followed anyone: the follow-up draws come from a stream of their own.
- ``"undifferentiated"``: undifferentiated arthritis, the patients of the Leiden prediction
  rule (van der Helm-van Mil et al., Arthritis Rheum 2007;56:433): 570 patients of the
  Leiden Early Arthritis Clinic, 177 (31%) with RA after one year. RA is early and still
  building up at the index visit and is diagnosed months later.
- ``"arthralgia"``: arthralgia with RF or anti-CCP and no clinical arthritis (van de Stadt
  et al., Ann Rheum Dis 2013;72:1920): 374 patients, 131 (35%) developed arthritis, median
  12 months after the first visit; anti-CCP (and both antibodies), a family history, long
  morning stiffness and a short symptom duration predicted it.

The event is the day RA is diagnosed (the expert diagnosis, one of the reference standards
of the validation studies; Radner et al., Ann Rheum Dis 2014;73:114); ``time_to_ra_days``
counts days from the index date to it, or to the end of follow-up (``event`` 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["POPULATIONS", "Population", "draw_population", "follow_up_end", "population_mix"]


@dataclass(frozen=True)
class Population:
    eventual_ra: float  # share who would be diagnosed with RA if followed long enough
    mimic_mix: Mapping[str, float] | None  # None: the clinic's (`MIMIC_MIX`)
    duration_factor: float  # RA's symptom duration at index, relative to the clinic's
    days_to_ra: tuple[float, float]  # median (days), log-sd, among those who get RA
    follow_up_years: tuple[float, float]  # administrative end of follow-up, uniform (years)
    loss_per_year: float  # hazard of loss to follow-up
    seropositive_only: bool  # everyone has RF or anti-CCP (seropositive arthralgia)
    arthritis_at_index: bool  # False: no swollen joint before RA is diagnosed


#: The populations `make_cohort` can draw. Event shares and times are tuned so that the
#: observed ones match the cited studies (tests/test_synthetic_followup.py): UA ~1/3 RA
#: by one year (Leiden EAC: 31%), seropositive arthralgia 35% by the end of follow-up,
#: median 12 months among those who developed it. Loss to follow-up ~6% a year, as
#: cohort registers report; the clinic and UA are followed 1-3 years, arthralgia 1-5
#: (van de Stadt 2013 gives its prediction at up to 5 years).
POPULATIONS: dict[str, Population] = {
    "clinic": Population(0.35, None, 1.0, (30.0, 0.4), (1.0, 3.0), 0.06, False, True),
    "undifferentiated": Population(
        0.36,
        # What UA turns out to be when it is not RA: mostly self-limiting or persistent
        # undifferentiated arthritis, some PsA, OA, crystal arthritis (Leiden EAC).
        {
            "viral_arthritis": 0.32,
            "psoriatic_arthritis": 0.15,
            "osteoarthritis": 0.20,
            "gout": 0.05,
            "fibromyalgia": 0.05,
            "arthralgia": 0.23,
        },
        0.5,
        (120.0, 0.8),
        (1.0, 3.0),
        0.06,
        False,
        True,
    ),
    "arthralgia": Population(
        0.47, {"arthralgia": 1.0}, 1.0, (400.0, 0.9), (1.0, 5.0), 0.06, True, False
    ),
}

# Seropositive arthralgia (van de Stadt 2013): anti-CCP was the strongest predictor of
# arthritis; those who did not progress were more often RF-positive only. Shares of
# (both, RF only, anti-CCP only) among those who will and will not develop RA.
_ARTHRALGIA_SEROLOGY = {True: (0.60, 0.10, 0.30), False: (0.25, 0.50, 0.25)}
# A first-degree relative with RA: more common among those who progress (van de Stadt 2013).
_ARTHRALGIA_FAMILY = {True: 0.30, False: 0.15}


def population_mix(population: str | Mapping[str, float], n_patients: int) -> dict[str, int]:
    """How many patients of each population: a name, or a mapping of names to shares.

    Examples
    --------
    >>> population_mix({"clinic": 0.5, "arthralgia": 0.5}, 5)
    {'clinic': 3, 'arthralgia': 2}
    """
    shares = {population: 1.0} if isinstance(population, str) else dict(population)
    unknown = [name for name in shares if name not in POPULATIONS]
    if unknown or not shares:
        raise ValueError(
            f"Unknown population(s) {unknown}; choose one of {list(POPULATIONS)} or a "
            "mapping of them to shares."
        )
    weights = np.array(list(shares.values()), dtype=float)
    if np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError(f"Population shares must be non-negative and not all 0, got {shares}.")
    exact = weights / weights.sum() * n_patients
    counts = np.floor(exact).astype(int)
    # Largest remainders first, ties to the earlier name, so the counts add up.
    for i in np.argsort(-(exact - counts), kind="stable")[: n_patients - counts.sum()]:
        counts[i] += 1
    return {name: int(count) for name, count in zip(shares, counts, strict=True)}


def draw_population(name: str, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """The patients of a followed population (not ``"clinic"``), with their course in time.

    Returns `draw_patients`' table plus ``days_to_ra`` (days from index to the RA
    diagnosis if followed long enough; NaN for those who never get RA) and
    ``follow_up_end`` (days from index to the end of follow-up), and, for a population
    without arthritis at index, ``arthritis_at_index`` False.
    """
    from ramultimodal.synthetic._patients import draw_patients

    spec = POPULATIONS[name]
    patients = draw_patients(
        n, spec.eventual_ra, rng, mimic_mix=spec.mimic_mix, duration_factor=spec.duration_factor
    )
    ra = patients["ra"].to_numpy(dtype=bool)
    if spec.seropositive_only:
        # Everyone has RF or anti-CCP, the progressors more often anti-CCP.
        u = rng.random(n)
        both = np.array([_ARTHRALGIA_SEROLOGY[bool(r)][0] for r in ra])
        rf_only = np.array([_ARTHRALGIA_SEROLOGY[bool(r)][1] for r in ra])
        patients["rf_positive"] = u < both + rf_only
        patients["ccp_positive"] = (u < both) | (u >= both + rf_only)
        patients.loc[ra, "diagnosis"] = "seropositive_ra"
        family = np.where(ra, _ARTHRALGIA_FAMILY[True], _ARTHRALGIA_FAMILY[False])
        patients["family_history_ra"] = rng.random(n) < family
    median, log_sd = spec.days_to_ra
    days = np.maximum(np.round(median * np.exp(log_sd * rng.standard_normal(n))), 14.0)
    patients["days_to_ra"] = np.where(ra, days, np.nan)
    patients["follow_up_end"] = follow_up_end(spec, n, rng)
    patients["arthritis_at_index"] = spec.arthritis_at_index
    return patients


def follow_up_end(spec: Population, n: int, rng: np.random.Generator) -> np.ndarray:
    """Days from index to the end of follow-up: lost, or the register closes."""
    low, high = spec.follow_up_years
    administrative = rng.uniform(low, high, n) * 365.25
    lost = rng.exponential(1.0 / spec.loss_per_year, n) * 365.25
    return np.maximum(np.round(np.minimum(administrative, lost)), 1.0)
