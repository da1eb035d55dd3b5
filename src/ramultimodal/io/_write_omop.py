"""Write the events table as an OMOP CDM v5.4 database (DuckDB), as an ETL would.

`omop_tables` turns events into the CDM tables that `read_omop` reads (person,
observation_period, measurement, observation, condition_occurrence, drug_exposure,
procedure_occurrence, visit_occurrence), plus ``concept`` for every concept they use and
``concept_ancestor`` for the RA label definition; `write_omop` stores them in a DuckDB
file. Reading the file back gives the same features as the FHIR and CSV the generator
writes (a test says so); what OMOP has no place for is said in docs/omop.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ramultimodal.io._events import as_events
from ramultimodal.io._omop_tables import CLINICAL_TABLES, _type
from ramultimodal.terminology.codes import CONCEPTS, DRUG_NAMES, concept_of
from ramultimodal.terminology.events import BIRTH, ENCOUNTER_PREFIX, GENDER_PREFIX
from ramultimodal.terminology.omop import (
    DMARD_INGREDIENT_CONCEPT_IDS,
    GENDER_CONCEPTS,
    LOCAL_CONCEPT_BASE,
    OPERATOR_CONCEPTS,
    PREFIX_VOCABULARIES,
    RA_CONDITION_CONCEPT_IDS,
    STANDARD_CONCEPT_IDS,
    UNIT_CONCEPT_IDS,
    VISIT_CONCEPTS,
)

__all__ = ["omop_tables", "write_omop"]

_TABLE_OF_PREFIX = {
    "SNOMED": "condition_occurrence",
    "ICD10CM": "condition_occurrence",
    "ICD10": "condition_occurrence",
    "RXNORM": "drug_exposure",
    "DICOM": "procedure_occurrence",
}
_DOMAINS = {
    "measurement": "Measurement",
    "observation": "Observation",
    "condition_occurrence": "Condition",
    "drug_exposure": "Drug",
    "procedure_occurrence": "Procedure",
    "visit_occurrence": "Visit",
}
_CDM_COLUMNS = {
    "person": (
        "person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth",
        "birth_datetime", "race_concept_id", "ethnicity_concept_id", "person_source_value",
    ),
    "observation_period": (
        "observation_period_id", "person_id", "observation_period_start_date",
        "observation_period_end_date", "period_type_concept_id",
    ),
    "concept": (
        "concept_id", "concept_name", "domain_id", "vocabulary_id", "concept_class_id",
        "standard_concept", "concept_code", "valid_start_date", "valid_end_date",
        "invalid_reason",
    ),
    "concept_ancestor": (
        "ancestor_concept_id", "descendant_concept_id", "min_levels_of_separation",
        "max_levels_of_separation",
    ),
}  # fmt: skip
#: EHR (32817), the type concept of every generated row.
_EHR_TYPE = 32817


def omop_tables(events: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The OMOP CDM tables of an events table, by name (``person``, ``measurement``...).

    Persons are numbered 1, 2... in the order of their subject ids, which become
    ``person_source_value``; each fact's code is also its ``*_source_value``.

    Examples
    --------
    >>> from ramultimodal.io import as_events
    >>> tables = omop_tables(as_events([
    ...     {"subject_id": "p1", "time": "1970-05-01", "code": "MEDS_BIRTH"},
    ...     {"subject_id": "p1", "time": "2020-01-01", "code": "LOINC/1988-5",
    ...      "numeric_value": 4.0, "unit": "mg/L"}]))
    >>> tables["measurement"][["person_id", "measurement_concept_id", "value_as_number"]]
       person_id  measurement_concept_id  value_as_number
    0          1                 3020460              4.0
    """
    events = as_events(events)
    subjects = pd.Index(sorted(events["subject_id"].unique()))
    person_ids = pd.Series(np.arange(1, len(subjects) + 1, dtype=np.int64), index=subjects)
    concepts = _Concepts()
    events = events.assign(person_id=person_ids.reindex(events["subject_id"]).to_numpy())
    prefix = events["code"].str.split("/", n=1).str[0]
    is_person = events["code"].eq(BIRTH) | events["code"].str.startswith(GENDER_PREFIX)
    table = prefix.map(_TABLE_OF_PREFIX).astype(object)
    table[events["code"].str.startswith(ENCOUNTER_PREFIX).to_numpy()] = "visit_occurrence"
    measured = events["code"].map(lambda c: (n := concept_of(c)) and CONCEPTS[n].unit is not None)
    table = table.where(
        table.notna(), np.where(measured.fillna(False), "measurement", "observation")
    )
    tables = {"person": _person(events[is_person], person_ids, concepts)}
    tables["observation_period"] = _observation_period(events[~is_person])
    clinical = events[~is_person]
    for spec in CLINICAL_TABLES:
        rows = clinical[(table[~is_person] == spec.name).to_numpy()].reset_index(drop=True)
        tables[spec.name] = _clinical(spec, rows, concepts)
    tables["concept"] = concepts.table()
    tables["concept_ancestor"] = concepts.ancestors()
    return tables


def write_omop(events: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write an events table as an OMOP CDM v5.4 DuckDB file (see `omop_tables`).

    Examples
    --------
    >>> import tempfile
    >>> from ramultimodal.io import as_events, read_omop
    >>> events = as_events([{"subject_id": "p1", "time": "2020-01-01",
    ...                      "code": "LOINC/1988-5", "numeric_value": 1.0, "unit": "mg/dL"}])
    >>> path = write_omop(events, tempfile.mkdtemp() + "/omop.duckdb")
    >>> read_omop(path)[["code", "numeric_value", "unit"]].to_dict("records")
    [{'code': 'LOINC/1988-5', 'numeric_value': 10.0, 'unit': 'mg/L'}]
    """
    import duckdb

    path = Path(path)
    connection = duckdb.connect(str(path))
    try:
        for name, frame in omop_tables(events).items():
            columns = ", ".join(f"{c} {_sql_type(c)}" for c in frame.columns)
            connection.execute(f"CREATE TABLE {name} ({columns})")  # our names only
            connection.register("frame", frame)
            connection.execute(f"INSERT INTO {name} SELECT * FROM frame")
            connection.unregister("frame")
    finally:
        connection.close()
    return path


def _sql_type(column: str) -> str:
    import sqlalchemy as sa

    if column in ("concept_name", "domain_id", "vocabulary_id", "concept_class_id"):
        return "VARCHAR"
    if column in ("standard_concept", "concept_code", "invalid_reason"):
        return "VARCHAR"
    if column.startswith(("min_levels", "max_levels")):
        return "INTEGER"
    kind = _type(column)
    return {
        sa.BigInteger: "BIGINT",
        sa.Date: "DATE",
        sa.DateTime: "TIMESTAMP",
        sa.Float: "DOUBLE",
    }.get(kind, "VARCHAR")


class _Concepts:
    """The concepts used so far, with their ids: real OMOP ids where known, else local."""

    def __init__(self) -> None:
        self.rows: dict[int, tuple[str, str, str, str]] = {}  # id -> name, domain, vocab, code
        # Codes and units outside terminology.omop get local ids in order of first use.
        self.extra: dict[str, int] = {}
        self.local = LOCAL_CONCEPT_BASE + 500_000

    def _local(self, key: str) -> int:
        if key not in self.extra:
            self.local += 1
            self.extra[key] = self.local
        return self.extra[key]

    def id_of(self, code: str, domain: str) -> int:
        prefix, _, value = code.partition("/")
        concept_id = STANDARD_CONCEPT_IDS.get(code) or self._local(code)
        name = concept_of(code)
        display = CONCEPTS[name].display if name else DRUG_NAMES.get(code, code)
        vocabulary = PREFIX_VOCABULARIES.get(prefix, prefix)
        self.rows[concept_id] = (display, domain, vocabulary, value)
        return concept_id

    def fixed(self, concept_id: int, name: str, domain: str, vocabulary: str, code: str) -> int:
        self.rows[concept_id] = (name, domain, vocabulary, code)
        return concept_id

    def unit_id(self, unit: str) -> int:
        concept_id = UNIT_CONCEPT_IDS.get(unit) or self._local("UCUM/" + unit)
        return self.fixed(concept_id, unit, "Unit", "UCUM", unit)

    def table(self) -> pd.DataFrame:
        ids = sorted(self.rows)
        rows = [self.rows[i] for i in ids]
        return pd.DataFrame(
            {
                "concept_id": np.array(ids, dtype=np.int64),
                "concept_name": [r[0] for r in rows],
                "domain_id": [r[1] for r in rows],
                "vocabulary_id": [r[2] for r in rows],
                "concept_class_id": ["Clinical Finding"] * len(rows),
                "standard_concept": ["S"] * len(rows),
                "concept_code": [r[3] for r in rows],
                "valid_start_date": pd.Timestamp("1970-01-01"),
                "valid_end_date": pd.Timestamp("2099-12-31"),
                "invalid_reason": None,
            }
        )

    def ancestors(self) -> pd.DataFrame:
        """Each concept its own ancestor; RA's SNOMED codes under 80809 "Rheumatoid
        arthritis" (as in the OMOP vocabularies), which the RA label definition uses."""
        pairs = {(i, i, 0) for i in self.rows}
        ra = RA_CONDITION_CONCEPT_IDS[0]
        for code in CONCEPTS["rheumatoid_arthritis"].codes:
            if code.startswith("SNOMED/") and code in STANDARD_CONCEPT_IDS:
                descendant = STANDARD_CONCEPT_IDS[code]
                if descendant in self.rows and descendant != ra:
                    pairs.add((ra, descendant, 1))
        for ingredient in DMARD_INGREDIENT_CONCEPT_IDS.values():
            pairs.add((ingredient, ingredient, 0))
        frame = pd.DataFrame(sorted(pairs), columns=list(_CDM_COLUMNS["concept_ancestor"])[:3])
        frame["max_levels_of_separation"] = frame["min_levels_of_separation"]
        return frame


def _dates(times: pd.Series) -> tuple[pd.Series, pd.Series]:
    times = pd.to_datetime(times)
    return times.dt.normalize(), times


def _person(events: pd.DataFrame, person_ids: pd.Series, concepts: _Concepts) -> pd.DataFrame:
    births = events[events["code"] == BIRTH].drop_duplicates("subject_id", keep="last")
    births = births.set_index("subject_id")["time"].reindex(person_ids.index)
    genders = events[events["code"].str.startswith(GENDER_PREFIX)]
    genders = genders.drop_duplicates("subject_id", keep="last").set_index("subject_id")["code"]
    by_gender = {f"{GENDER_PREFIX}{g}": i for i, g in GENDER_CONCEPTS.items()}
    for concept_id, gender in GENDER_CONCEPTS.items():
        concepts.fixed(concept_id, gender.upper(), "Gender", "Gender", gender[0].upper())
    gender_ids = genders.reindex(person_ids.index).map(by_gender).fillna(0).astype(np.int64)
    return pd.DataFrame(
        {
            "person_id": person_ids.to_numpy(),
            "gender_concept_id": gender_ids.to_numpy(),
            "year_of_birth": births.dt.year.astype("Int64").to_numpy(),
            "month_of_birth": births.dt.month.astype("Int64").to_numpy(),
            "day_of_birth": births.dt.day.astype("Int64").to_numpy(),
            "birth_datetime": births.to_numpy(),
            "race_concept_id": np.zeros(len(person_ids), dtype=np.int64),
            "ethnicity_concept_id": np.zeros(len(person_ids), dtype=np.int64),
            "person_source_value": person_ids.index.astype(str),
        }
    )


def _observation_period(events: pd.DataFrame) -> pd.DataFrame:
    """One period per person, from the first to the last dated fact."""
    dated = events.dropna(subset=["time"])
    spans = dated.groupby("person_id")["time"].agg(["min", "max"]).reset_index()
    return pd.DataFrame(
        {
            "observation_period_id": np.arange(1, len(spans) + 1, dtype=np.int64),
            "person_id": spans["person_id"].astype(np.int64).to_numpy(),
            "observation_period_start_date": spans["min"].dt.normalize().to_numpy(),
            "observation_period_end_date": spans["max"].dt.normalize().to_numpy(),
            "period_type_concept_id": np.full(len(spans), _EHR_TYPE, dtype=np.int64),
        }
    )


def _clinical(spec: object, rows: pd.DataFrame, concepts: _Concepts) -> pd.DataFrame:
    domain = _DOMAINS[spec.name]
    if spec.name == "visit_occurrence":
        visits = {v: i for i, v in VISIT_CONCEPTS.items()}
        for concept_id, visit in VISIT_CONCEPTS.items():
            concepts.fixed(concept_id, f"{visit} visit", "Visit", "Visit", visit)
        ids = rows["code"].str.removeprefix(ENCOUNTER_PREFIX).map(visits).fillna(0)
        concept_ids = ids.astype(np.int64).to_numpy()
    else:
        codes = rows["code"].unique()
        by_code = {code: concepts.id_of(code, domain) for code in codes}
        concept_ids = rows["code"].map(by_code).to_numpy(dtype=np.int64)
    date, datetime = _dates(rows["time"])
    frame = {
        spec.id: np.arange(1, len(rows) + 1, dtype=np.int64),
        "person_id": rows["person_id"].to_numpy(dtype=np.int64),
        spec.concept: concept_ids,
        spec.source_concept: np.zeros(len(rows), dtype=np.int64),
        spec.source_value: rows["code"].astype(object).to_numpy(),
        spec.date: date.to_numpy(),
        spec.datetime: datetime.to_numpy(),
    }
    roles = dict(spec.values)
    text = rows["text_value"].astype(object).where(rows["text_value"].notna(), None)
    coded = text.map(lambda t: isinstance(t, str) and "/" in t and t.split("/")[0].isupper())
    if "number" in roles:
        frame[roles["number"]] = rows["numeric_value"].to_numpy(dtype=np.float64)
    if "value_concept" in roles:
        frame[roles["value_concept"]] = np.array(
            [concepts.id_of(t, "Meas Value") if c else 0 for t, c in zip(text, coded, strict=True)],
            dtype=np.int64,
        )
    if "operator" in roles:
        operators = {symbol: i for i, symbol in OPERATOR_CONCEPTS.items()}
        for concept_id, symbol in OPERATOR_CONCEPTS.items():
            concepts.fixed(concept_id, symbol, "Meas Value Operator", "Meas Value Operator", symbol)
        frame[roles["operator"]] = text.map(operators).fillna(0).astype(np.int64).to_numpy()
    if "string" in roles:
        plain = text.where(~coded.astype(bool), None)
        frame[roles["string"]] = plain.to_numpy(dtype=object)
    if "unit_concept" in roles:
        units = rows["unit"].astype(object).where(rows["unit"].notna(), None)
        frame[roles["unit_concept"]] = np.array(
            [concepts.unit_id(u) if u else 0 for u in units], dtype=np.int64
        )
        frame[roles["unit_source"]] = units.to_numpy(dtype=object)
    return pd.DataFrame(frame)
