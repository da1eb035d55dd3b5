"""A cohort from an OMOP database: index dates (and labels) from the user's SQL, and an
OHDSI-style RA label definition.

`cohort_from_sql` runs a query the user wrote (a file of theirs, run as it is: it is their
own SQL on their own database) and reads its rows as patients, index dates and labels.
`ra_label_sql` writes the RA outcome of docs/omop.md as SQL to put in such a query: the
label, never a feature (the featurizer's leakage guard drops RA diagnoses and DMARDs).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from ramultimodal.io._events import parse_times
from ramultimodal.io._omop_connection import Database, OMOPReadError
from ramultimodal.io._omop_tables import cdm_tables
from ramultimodal.terminology.omop import DMARD_INGREDIENT_CONCEPT_IDS, RA_CONDITION_CONCEPT_IDS

__all__ = ["cohort_from_sql", "ra_label_sql"]

_ID_COLUMNS = ("person_source_value", "person_id")
_LABEL_COLUMNS = ("label", "ra")


def cohort_from_sql(
    database: Database, sql_path: str | os.PathLike[str]
) -> tuple[pd.DataFrame, pd.Series | None, str]:
    """Patients (index ``subject_id``, column ``index_date``), labels or None, and which
    person column is the subject id, from the query in `sql_path`.

    The query returns one row per patient: ``person_source_value`` or ``person_id``,
    ``index_date``, and optionally ``label`` (or ``ra``): 1 or 0.
    """
    path = Path(sql_path)
    try:
        sql = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise OMOPReadError(
            f"Cannot read the cohort query {path} ({type(error).__name__}): give a UTF-8 "
            "text file holding one SELECT."
        ) from None
    rows = database.fetch_sql(sql, f"the cohort query {path}")
    rows.columns = [str(column).lower() for column in rows.columns]
    id_column = next((c for c in _ID_COLUMNS if c in rows.columns), None)
    if id_column is None or "index_date" not in rows.columns:
        raise OMOPReadError(
            f"The cohort query {path} returns the columns {list(rows.columns)}; it must return "
            "person_source_value (or person_id) and index_date, and may return label (1/0)."
        )
    ids = rows[id_column]
    ids = ids.astype("int64").astype(str) if id_column == "person_id" else ids.astype("string")
    dates = parse_times(rows["index_date"]).dt.normalize()
    bad = ids.isna().to_numpy() | dates.isna().to_numpy()
    if bad.any():
        raise OMOPReadError(
            f"The cohort query {path}: {int(bad.sum())} rows have no {id_column} or no "
            "index_date (or one that is not a date); every patient needs both."
        )
    if ids.duplicated().any():
        raise OMOPReadError(
            f"The cohort query {path} returns {int(ids.duplicated().sum())} patients twice: "
            "give each one row (one index date)."
        )
    index = pd.Index(ids.to_numpy(dtype=object), name="subject_id")
    patients = pd.DataFrame({"index_date": dates.to_numpy()}, index=index)
    label_column = next((c for c in _LABEL_COLUMNS if c in rows.columns), None)
    labels = None
    if label_column is not None:
        values = pd.to_numeric(rows[label_column], errors="coerce")
        if not values.isin([0, 1]).all():
            raise OMOPReadError(
                f"The cohort query {path}: {label_column} must be 1 or 0 for every patient."
            )
        labels = pd.Series(values.astype(int).to_numpy(), index=index, name="ra")
    return patients, labels, id_column


def ra_label_sql(
    *,
    schema: str | None = None,
    cohort: str = "cohort",
    window_days: int = 365,
    descendants: bool = True,
) -> str:
    """SQL of the RA label: an RA diagnosis and a conventional DMARD within a window.

    A patient of `cohort` (a table or CTE with ``person_id`` and ``index_date``) is
    labelled 1 when, within `window_days` days from the index date (the index date
    included), the record holds a condition under OMOP concept 80809 "Rheumatoid
    arthritis" and an exposure to methotrexate, sulfasalazine, hydroxychloroquine or
    leflunomide (their RxNorm ingredients, and every drug under them). This is the shape of
    OHDSI's RA phenotypes (a diagnosis confirmed by a DMARD); it is the outcome, never a
    feature. The concept ids are in `ramultimodal.terminology.omop` (docs/omop.md says
    which are verified).

    Parameters
    ----------
    schema : str, optional
        The schema of the CDM tables.
    cohort : str, default "cohort"
        The name of the table or CTE of (person_id, index_date).
    window_days : int, default 365
        The outcome window after the index date, in days.
    descendants : bool, default True
        Take the descendants of the concepts through ``concept_ancestor`` (the OMOP
        vocabularies' hierarchy); False: the concepts themselves only, for a database
        without ``concept_ancestor``.

    Returns
    -------
    str
        A SELECT of ``person_id``, ``label`` (1/0) for every person of `cohort`, in the
        SQL that PostgreSQL and DuckDB both run.

    Examples
    --------
    >>> sql = ra_label_sql(schema="cdm")
    >>> "cdm.condition_occurrence" in sql and "80809" in sql
    True
    """
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    if not (isinstance(window_days, int) and window_days > 0):
        raise ValueError(f"window_days must be a positive int, not {window_days!r}")
    tables = cdm_tables(schema)
    ancestor = sa.table(
        "concept_ancestor",
        sa.column("ancestor_concept_id"),
        sa.column("descendant_concept_id"),
        schema=schema,
    )
    people = sa.table(cohort, sa.column("person_id"), sa.column("index_date"))

    def within(table: Any, concept: str, date: str, ids: list[int]) -> Any:
        if descendants:
            under = sa.select(ancestor.c.descendant_concept_id).where(
                ancestor.c.ancestor_concept_id.in_(ids)
            )
            concept_test = table.c[concept].in_(under)
        else:
            concept_test = table.c[concept].in_(ids)
        return sa.exists().where(
            table.c.person_id == people.c.person_id,
            concept_test,
            table.c[date] >= people.c.index_date,
            table.c[date] <= people.c.index_date + sa.literal_column(str(int(window_days))),
        )

    diagnosed = within(
        tables["condition_occurrence"],
        "condition_concept_id",
        "condition_start_date",
        list(RA_CONDITION_CONCEPT_IDS),
    )
    treated = within(
        tables["drug_exposure"],
        "drug_concept_id",
        "drug_exposure_start_date",
        sorted(DMARD_INGREDIENT_CONCEPT_IDS.values()),
    )
    label = sa.case((sa.and_(diagnosed, treated), 1), else_=0).label("label")
    statement = sa.select(people.c.person_id, label)
    compiled = statement.compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    return str(compiled)
