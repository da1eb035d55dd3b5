"""The OMOP CDM v5.4 tables the reader uses, as SQLAlchemy Core tables of their columns.

Only the columns read are declared: a warehouse may hold more, never fewer. Each clinical
table is described by a `ClinicalTable`: which columns hold its concept, source concept,
source value, date and value, so that one reading loop serves all six.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CLINICAL_TABLES", "ClinicalTable", "cdm_tables", "cohort_table"]


@dataclass(frozen=True)
class ClinicalTable:
    """One CDM table of clinical facts and the roles of its columns."""

    name: str
    id: str
    concept: str
    source_concept: str
    source_value: str
    date: str
    datetime: str
    #: Value columns by role: number, value_concept, string, unit_concept, unit_source,
    #: operator.
    values: tuple[tuple[str, str], ...] = ()

    @property
    def columns(self) -> list[str]:
        """Every column read, ``person_id`` first."""
        names = [self.id, "person_id", self.concept, self.source_concept, self.source_value]
        return [*names, self.date, self.datetime, *(column for _, column in self.values)]


CLINICAL_TABLES: tuple[ClinicalTable, ...] = (
    ClinicalTable(
        "measurement",
        "measurement_id",
        "measurement_concept_id",
        "measurement_source_concept_id",
        "measurement_source_value",
        "measurement_date",
        "measurement_datetime",
        (
            ("number", "value_as_number"),
            ("value_concept", "value_as_concept_id"),
            ("unit_concept", "unit_concept_id"),
            ("unit_source", "unit_source_value"),
            ("operator", "operator_concept_id"),
        ),
    ),
    ClinicalTable(
        "observation",
        "observation_id",
        "observation_concept_id",
        "observation_source_concept_id",
        "observation_source_value",
        "observation_date",
        "observation_datetime",
        (
            ("number", "value_as_number"),
            ("string", "value_as_string"),
            ("value_concept", "value_as_concept_id"),
            ("unit_concept", "unit_concept_id"),
            ("unit_source", "unit_source_value"),
        ),
    ),
    ClinicalTable(
        "condition_occurrence",
        "condition_occurrence_id",
        "condition_concept_id",
        "condition_source_concept_id",
        "condition_source_value",
        "condition_start_date",
        "condition_start_datetime",
    ),
    ClinicalTable(
        "drug_exposure",
        "drug_exposure_id",
        "drug_concept_id",
        "drug_source_concept_id",
        "drug_source_value",
        "drug_exposure_start_date",
        "drug_exposure_start_datetime",
    ),
    ClinicalTable(
        "procedure_occurrence",
        "procedure_occurrence_id",
        "procedure_concept_id",
        "procedure_source_concept_id",
        "procedure_source_value",
        "procedure_date",
        "procedure_datetime",
    ),
    ClinicalTable(
        "visit_occurrence",
        "visit_occurrence_id",
        "visit_concept_id",
        "visit_source_concept_id",
        "visit_source_value",
        "visit_start_date",
        "visit_start_datetime",
    ),
)

#: Columns of the non-clinical tables the reader uses.
PERSON_COLUMNS = (
    "person_id",
    "gender_concept_id",
    "year_of_birth",
    "month_of_birth",
    "day_of_birth",
    "birth_datetime",
    "person_source_value",
)
CONCEPT_COLUMNS = ("concept_id", "vocabulary_id", "concept_code")
OBSERVATION_PERIOD_COLUMNS = (
    "person_id",
    "observation_period_start_date",
    "observation_period_end_date",
)

_INTEGER_SUFFIXES = ("_id", "_of_birth")


def _type(column: str) -> Any:
    import sqlalchemy as sa

    if column.endswith(_INTEGER_SUFFIXES):
        return sa.BigInteger
    if column.endswith("_datetime"):
        return sa.DateTime
    if column.endswith("_date"):
        return sa.Date
    if column == "value_as_number":
        return sa.Float
    return sa.String


def cdm_tables(schema: str | None) -> dict[str, Any]:
    """SQLAlchemy Core tables of the CDM columns read, by table name, in `schema`."""
    import sqlalchemy as sa

    metadata = sa.MetaData(schema=schema)
    columns = {table.name: table.columns for table in CLINICAL_TABLES}
    columns |= {
        "person": PERSON_COLUMNS,
        "concept": CONCEPT_COLUMNS,
        "observation_period": OBSERVATION_PERIOD_COLUMNS,
    }
    return {
        name: sa.Table(name, metadata, *(sa.Column(c, _type(c)) for c in names))
        for name, names in columns.items()
    }


def cohort_table() -> Any:
    """The temporary table of the cohort: each person's index date and look-back start."""
    import sqlalchemy as sa

    return sa.Table(
        "ramultimodal_cohort",
        sa.MetaData(),
        sa.Column("person_id", sa.BigInteger),
        sa.Column("index_date", sa.Date),
        sa.Column("start_date", sa.Date),
        prefixes=["TEMPORARY"],
    )
