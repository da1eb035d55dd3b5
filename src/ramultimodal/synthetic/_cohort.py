"""`make_cohort`: a synthetic early-arthritis clinic, and the `Cohort` that holds it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ramultimodal.io import as_events
from ramultimodal.io._horizon import LABEL_HORIZON_DAYS, horizon_outcome
from ramultimodal.synthetic._classifiable import first_fulfilment
from ramultimodal.synthetic._course import Course, day_number
from ramultimodal.synthetic._joint_damage import hand_findings
from ramultimodal.synthetic._patients import DIAGNOSES, draw_patients
from ramultimodal.synthetic._progression import (
    POPULATIONS,
    draw_population,
    follow_up_end,
    population_mix,
)
from ramultimodal.synthetic._record import Row, patient_events
from ramultimodal.terminology.events import imaging_code

__all__ = ["DIAGNOSES", "POPULATIONS", "Cohort", "make_cohort"]

_PATIENT_COLUMNS = [
    "sex", "birth_date", "index_date", "symptom_onset", "diagnosis", "ra",
    "symptom_duration_weeks", "early", "smoking", "family_history_ra", "bmi",
    "population", "time_to_ra_days", "event", "time_to_acr_eular_days", "acr_eular_event",
]  # fmt: skip
_IMAGE_COLUMNS = [
    "subject_id", "body_part", "laterality", "study_time", "pixel_spacing_mm", "monochrome1",
    "study_uid", "series_uid", "sop_uid",
]  # fmt: skip


@dataclass
class Cohort:
    """A synthetic cohort: patients, their records, radiographs and ground truth.

    Attributes
    ----------
    patients : DataFrame
        Indexed by ``subject_id`` (a UUID, also the FHIR Patient.id and DICOM PatientID):
        ``sex``, ``birth_date``, ``index_date``, ``symptom_onset`` (day precision),
        ``diagnosis`` (one of `DIAGNOSES`: the latent diagnosis, RA even when it came
        after follow-up ended), ``ra`` (RA diagnosed within 12 months of the index date:
        ``event`` and ``time_to_ra_days`` <= 365), ``symptom_duration_weeks`` (at index),
        ``early`` (duration under 12 weeks), ``smoking`` (``never``/``former``/``current``),
        ``family_history_ra``, ``bmi``, ``population`` (one of `POPULATIONS`),
        ``time_to_ra_days`` (days from the index date to the RA diagnosis, or to the end of
        follow-up) and ``event`` (1: RA diagnosed then; 0: censored),
        ``time_to_acr_eular_days`` (days from the index date to the first visit at which the
        2010 ACR/EULAR criteria are fulfilled, 0 at the index visit, or to the end of
        follow-up; `ramultimodal.synthetic._classifiable`) and ``acr_eular_event``.
    events : DataFrame
        The events table (`ramultimodal.io.as_events`), before and after the index date.
    images : DataFrame
        Indexed by ``image_id``: ``subject_id``, ``body_part`` (``HAND``), ``laterality``,
        ``study_time`` (on or before the index date), ``pixel_spacing_mm`` (NaN when the
        pixels were not rendered), ``monochrome1``, ``study_uid``, ``series_uid``,
        ``sop_uid``.
    pixels : dict
        ``image_id`` -> uint16 array, 12 bits stored, bone bright; empty when
        ``render_images=False``.
    damage : DataFrame
        One row per image and joint: ``image_id``, ``joint``, ``erosion`` (0-5),
        ``narrowing`` (0-4), Sharp/van der Heijde grades.
    params : dict
        The arguments of `make_cohort`.
    joint_places : DataFrame
        Where each joint lies on the rendered pixels: ``image_id``, ``joint``, ``x`` (column)
        and ``y`` (row), 0 at the centre of the first pixel, as ``joints.csv`` writes them;
        empty without pixels. Kept apart from `damage`, which rendering never changes.
    """

    patients: pd.DataFrame
    events: pd.DataFrame
    images: pd.DataFrame
    pixels: dict[str, np.ndarray] = field(repr=False)
    damage: pd.DataFrame
    params: dict[str, Any]
    joint_places: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["image_id", "joint", "x", "y"])
    )

    @property
    def labels(self) -> pd.DataFrame:
        """One row per patient: ``subject_id``, ``ra``, ``diagnosis``, ``time_to_ra_days``,
        ``event``, ``time_to_acr_eular_days``, ``acr_eular_event``."""
        columns = ["ra", "diagnosis", "time_to_ra_days", "event"]
        columns += [c for c in ("time_to_acr_eular_days", "acr_eular_event") if c in self.patients]
        return self.patients[columns].reset_index()

    def __repr__(self) -> str:
        return (
            f"Cohort({len(self.patients)} patients, {int(self.patients['ra'].sum())} with RA, "
            f"{len(self.events)} events, {len(self.images)} images)"
        )


def _uid(rng: np.random.Generator) -> str:
    # A UUID-derived UID under the 2.25 root (ISO/IEC 9834-8), as DICOM allows.
    return f"2.25.{uuid.UUID(bytes=rng.bytes(16), version=4).int}"


def make_cohort(
    n_patients: int,
    *,
    prevalence: float = 0.35,
    image_missing_rate: float = 0.2,
    seed: int = 0,
    image_size: int = 512,
    images_per_patient: int = 1,
    monochrome1_rate: float = 0.3,
    render_images: bool = True,
    population: str | Mapping[str, float] = "clinic",
    verbose: int = 0,
) -> Cohort:
    """Generate a synthetic early-arthritis clinic.

    Each patient has a latent diagnosis, RA (seropositive or seronegative) or a mimic
    (osteoarthritis, psoriatic arthritis, gout, viral arthritis, fibromyalgia, arthralgia),
    and a record drawn given it: routine visits, the index visit (the first visit with
    joint complaints) with labs, a joint exam and PROs, a hand radiograph, and follow-up
    visits with the diagnosis and, for RA, DMARDs. The serology follows the published
    sensitivities and specificities (Nishimura et al. 2007), and early RA is harder to
    recognise than established RA.

    Parameters
    ----------
    n_patients : int
        Number of patients.
    prevalence : float, default 0.35
        Share of RA among them.
    image_missing_rate : float, default 0.2
        Share of patients without a radiograph.
    seed : int, default 0
        Seed; the same arguments give the same cohort.
    image_size : int, default 512
        Side of the square radiographs, in pixels.
    images_per_patient : {1, 2}, default 1
        One hand (left or right) or both.
    monochrome1_rate : float, default 0.3
        Share of images to be stored as MONOCHROME1 (inverted), as some scanners do.
    render_images : bool, default True
        Render the pixels; False gives the same tables without pixels, fast.
    population : str or mapping, default "clinic"
        Who is followed (`ramultimodal.synthetic._progression`): ``"clinic"`` (the
        early-arthritis clinic; RA diagnosed weeks after the index visit),
        ``"undifferentiated"`` (undifferentiated arthritis, about a third with RA within a
        year, as in the Leiden Early Arthritis Clinic), ``"arthralgia"`` (arthralgia with
        RF or anti-CCP, about 35% with arthritis, median 12 months, van de Stadt et al.
        2013), or a mapping of them to shares (``{"clinic": 0.5, "arthralgia": 0.5}``).
        `prevalence` applies to the clinic only: the others take their event rates from
        the literature. The clinic's records for a seed are those of earlier versions.
    verbose : int, default 0
        Show a progress bar when positive.

    Returns
    -------
    Cohort

    Examples
    --------
    >>> cohort = make_cohort(20, seed=1, render_images=False)
    >>> cohort.labels.columns.tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['subject_id', 'ra', 'diagnosis', 'time_to_ra_days', 'event', 'time_to_acr_eular_days',
     'acr_eular_event']
    >>> followed = make_cohort(40, seed=1, render_images=False, population="undifferentiated")
    >>> bool((followed.patients["ra"] == (followed.patients["event"]
    ...       & (followed.patients["time_to_ra_days"] <= 365))).all())
    True
    >>> bool(cohort.events["code"].eq("MEDS_BIRTH").sum() == 20)
    True
    """
    params = {
        "n_patients": n_patients, "prevalence": prevalence,
        "image_missing_rate": image_missing_rate, "seed": seed, "image_size": image_size,
        "images_per_patient": images_per_patient, "monochrome1_rate": monochrome1_rate,
        "render_images": render_images,
    }  # fmt: skip
    _check_params(params)
    mix = population_mix(population, n_patients)
    if population != "clinic":  # the clinic's cohort.json stays as it was
        params["population"] = population if isinstance(population, str) else dict(population)
    # Independent streams: the cohort draw, each patient's course, each patient's images
    # (findings, then pixels), the follow-up. A patient's record does not depend on
    # whether or in which order the images are rendered, and the clinic's records not on
    # the follow-up (a fourth stream, added later: the first three are unchanged).
    cohort_seed, course_seed, image_seed, follow_seed = np.random.SeedSequence(seed).spawn(4)
    patients = _draw(mix, prevalence, cohort_seed)
    render = None
    if render_images:
        from ramultimodal.synthetic._hand_findings import HandFindings
        from ramultimodal.synthetic._radiograph import render_hand

        def render(findings: dict[str, Any], laterality: str, rng: np.random.Generator):
            return render_hand(HandFindings(**findings), size=image_size,
                               laterality=laterality, rng=rng)  # fmt: skip

    subject_ids: list[str] = []
    records: list[tuple] = []
    courses: list[Course] = []
    images, damage, places, pixels = [], [], [], {}
    seeds = zip(course_seed.spawn(n_patients), image_seed.spawn(n_patients), strict=True)
    for patient, (course_ss, image_ss) in tqdm(
        zip(patients.itertuples(), seeds, strict=True),
        total=n_patients, disable=not verbose, desc="patients", unit="patient",
    ):  # fmt: skip
        rows, course = patient_events(patient, np.random.default_rng(course_ss))
        courses.append(course)
        rows += _radiographs(
            patient, course, image_ss, params, render, images, damage, pixels, places
        )
        subject_ids += [patient.Index] * len(rows)
        records += rows
    patients = _follow_up(patients, courses, np.random.default_rng(follow_seed))

    events = pd.DataFrame.from_records(
        records, columns=["time", "code", "numeric_value", "text_value", "unit"]
    )
    # Days since 1970 to dates; timeless facts (sex) have no day: NaT.
    days = events["time"].fillna(np.iinfo(np.int64).min).to_numpy(dtype=np.int64)
    events["time"] = days.view("datetime64[D]")
    events.insert(0, "subject_id", subject_ids)
    events["source"] = "synthetic"
    events = as_events(events)
    # Read off the record just written: the criteria at each visit with a joint exam.
    patients = patients.join(first_fulfilment(patients, events, patients["follow_up_days"]))
    image_table = pd.DataFrame.from_records(
        images, columns=["image_id", *_IMAGE_COLUMNS]
    ).set_index("image_id")
    image_table["study_time"] = (
        np.array(image_table["study_time"], dtype=np.int64).view("datetime64[D]")
    ).astype("datetime64[us]")
    return Cohort(
        patients=patients[_PATIENT_COLUMNS].copy(),
        events=events,
        images=image_table,
        pixels=pixels,
        damage=pd.DataFrame.from_records(
            damage, columns=["image_id", "joint", "erosion", "narrowing"]
        ),
        params=params,
        joint_places=pd.DataFrame.from_records(places, columns=["image_id", "joint", "x", "y"]),
    )


def _draw(mix: dict[str, int], prevalence: float, seed: np.random.SeedSequence) -> pd.DataFrame:
    """The patients of each population, in the order of `mix`."""
    if set(mix) == {"clinic"}:  # the clinic alone: drawn as before populations existed
        return draw_patients(mix["clinic"], prevalence, np.random.default_rng(seed)).assign(
            population="clinic"
        )
    parts = []
    for (name, n), part_seed in zip(mix.items(), seed.spawn(len(mix)), strict=True):
        if not n:
            continue
        rng = np.random.default_rng(part_seed)
        part = (
            draw_patients(n, prevalence, rng) if name == "clinic" else draw_population(name, n, rng)
        )
        parts.append(part.assign(population=name))
    return pd.concat(parts)


def _follow_up(
    patients: pd.DataFrame, courses: list[Course], rng: np.random.Generator
) -> pd.DataFrame:
    """Add ``time_to_ra_days`` and ``event``, ``ra`` derived from them, and
    ``follow_up_days`` (the end of follow-up, whether RA came or not).

    A clinic patient with RA is diagnosed at the first follow-up, in the record; the
    others are followed one to three years (`POPULATIONS`), and at least to their last
    visit. A followed population's times were drawn with its patients.
    """
    index = np.array([day_number(d) for d in patients["index_date"]])
    diagnosed = np.array(
        [np.nan if c.diagnosis_day is None else c.diagnosis_day for c in courses], dtype=float
    )
    last_visit = np.array([c.last_visit_day for c in courses], dtype=float) - index
    end = (
        patients["follow_up_end"].to_numpy(dtype=float, copy=True)
        if "follow_up_end" in patients
        else np.full(len(patients), np.nan)
    )
    clinic = np.isnan(end)
    end[clinic] = np.maximum(
        follow_up_end(POPULATIONS["clinic"], int(clinic.sum()), rng), last_visit[clinic]
    )
    event = ~np.isnan(diagnosed)
    time = np.where(event, diagnosed - index, end).astype(np.int64)
    patients = patients.assign(
        time_to_ra_days=time,
        event=event,
        ra=horizon_outcome(time, event, LABEL_HORIZON_DAYS)[0],
        follow_up_days=end.astype(np.int64),  # censors the criteria's date too
    )
    return patients


def _radiographs(
    patient: Any,
    course: Course,
    seed: np.random.SeedSequence,
    params: dict[str, Any],
    render: Callable | None,
    images: list[tuple],
    damage: list[tuple],
    pixels: dict[str, np.ndarray],
    places: list[tuple],
) -> list[Row]:
    """Draw a patient's hand radiographs into `images`, `damage`, `pixels` and `places`.

    Returns the ``DICOM/CR`` event of the study (none without a radiograph).
    """
    findings_seed, pixels_seed = seed.spawn(2)
    rng = np.random.default_rng(findings_seed)
    if rng.random() < params["image_missing_rate"]:
        return []
    if params["images_per_patient"] == 2:
        lateralities: tuple[str, ...] = ("L", "R")
    else:
        lateralities = (str(rng.choice(["L", "R"])),)
    # Ordered at the index visit, or by the GP a little before it.
    index_day = int(np.datetime64(patient.index_date, "D").astype(np.int64))
    study_day = index_day - (0 if rng.random() < 0.7 else int(rng.integers(1, 31)))
    study_uid = _uid(rng)
    pixel_rng = np.random.default_rng(pixels_seed)
    hands = hand_findings(patient, course, lateralities, rng)
    for laterality, hand in zip(lateralities, hands, strict=True):
        image_id = str(uuid.UUID(bytes=rng.bytes(16), version=4))
        spacing = float("nan")
        if render is not None:
            pixels[image_id], acquisition = render(hand, laterality, pixel_rng)
            spacing = float(acquisition["pixel_spacing_mm"])
            places += [(image_id, joint, x, y) for joint, (x, y) in acquisition["joints"].items()]
        monochrome1 = bool(rng.random() < params["monochrome1_rate"])
        images.append((image_id, patient.Index, "HAND", laterality, study_day, spacing,
                       monochrome1, study_uid, _uid(rng), _uid(rng)))  # fmt: skip
        damage += [(image_id, joint, hand["erosion"][joint], hand["narrowing"][joint])
                   for joint in hand["erosion"]]  # fmt: skip
    return [(study_day, imaging_code("CR"), float("nan"), study_uid, None)]


def _check_params(params: dict[str, Any]) -> None:
    n = params["n_patients"]
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n_patients must be a positive integer, got {n!r}.")
    for name in ("prevalence", "image_missing_rate", "monochrome1_rate"):
        if not 0.0 <= params[name] <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {params[name]!r}.")
    if params["images_per_patient"] not in (1, 2):
        raise ValueError(
            f"images_per_patient must be 1 (one hand) or 2 (both), "
            f"got {params['images_per_patient']!r}."
        )
    if params["image_size"] < 32:
        raise ValueError(f"image_size must be at least 32 pixels, got {params['image_size']!r}.")
