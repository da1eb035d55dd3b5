"""Read an OMOP CDM v5.4 database into the events table, with the queries pushed down.

`read_omop` turns rows of ``person``, ``measurement``, ``observation``,
``condition_occurrence``, ``drug_exposure``, ``procedure_occurrence`` and
``visit_occurrence`` into the same events table `read_fhir` and `read_events_csv` return:
concepts become our codes through the ``concept`` table (`ramultimodal.terminology.omop`),
values go through the same unit normalisation, and what cannot be mapped is an error (or
counted with ``errors="skip"``), never guessed. The database does the filtering: only the
concepts asked for, only rows on or before each person's index date (and within the
look-back), read in chunks so that memory stays bounded by what is kept.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd

from ramultimodal.io._events import as_events, parse_times
from ramultimodal.io._omop_connection import Database, OMOPReadError, connect
from ramultimodal.io._omop_tables import (
    CLINICAL_TABLES,
    CONCEPT_COLUMNS,
    PERSON_COLUMNS,
    ClinicalTable,
    cdm_tables,
    cohort_table,
)
from ramultimodal.io._read_report import ReadReport, check_errors
from ramultimodal.terminology.events import BIRTH, encounter_code, gender_code
from ramultimodal.terminology.omop import (
    GENDER_CONCEPTS,
    OPERATOR_CONCEPTS,
    PREFIX_VOCABULARIES,
    VISIT_CONCEPTS,
    VOCABULARY_PREFIXES,
    code_of_concept,
)
from ramultimodal.terminology.units import UnitError, canonical_conversion

__all__ = ["read_omop"]

logger = logging.getLogger(__name__)

# A source value that is already one of our codes ("LOINC/1988-5"): the prefixes of the
# events table, then a code without spaces.
_OUR_PREFIXES = sorted({*VOCABULARY_PREFIXES.values(), "ENCOUNTER", "GENDER"}, key=len)
_OUR_CODE = re.compile(r"^(?:" + "|".join(map(re.escape, _OUR_PREFIXES)) + r")/\S+$")
_CONCEPT_BATCH = 1_000  # concept ids looked up per query


def read_omop(
    connection: Any,
    *,
    patients: pd.Series | pd.DataFrame | Iterable[str] | None = None,
    codes: Iterable[str] | None = None,
    lookback: int | None = None,
    schema: str | None = None,
    subject_id: Literal["person_source_value", "person_id"] = "person_source_value",
    errors: Literal["raise", "skip"] = "raise",
    chunksize: int = 100_000,
) -> pd.DataFrame:
    """Read the events table from an OMOP CDM v5.4 database (PostgreSQL, DuckDB...).

    Each person's facts become events: birth (``MEDS_BIRTH``) and sex (``GENDER/female``)
    from ``person``; measurements, observations, conditions, drug exposures, procedures
    and visits from their tables, coded through ``concept``: a concept's
    ``vocabulary_id`` and ``concept_code`` give the code (LOINC 1988-5 -> ``LOINC/1988-5``,
    RxNorm -> ``RXNORM/...``). Where ``*_concept_id`` is 0 or not in ``concept``, the
    ``*_source_concept_id`` is tried, then ``*_source_value`` when it is already one of
    our codes (``"LOINC/1988-5"``); anything else is an unmapped concept. Values take
    their unit from ``unit_concept_id`` (a UCUM concept) or ``unit_source_value`` and are
    converted to the concept's unit exactly as `read_fhir` does; a measurement's
    ``operator_concept_id`` (``<``, ``>``...) or ``value_as_concept_id`` (a coded
    result), and an observation's ``value_as_concept_id`` or ``value_as_string``, become
    ``text_value``.

    The database does the filtering (SQLAlchemy Core, every value a bound parameter): the
    cohort is loaded into a temporary table of (person, index date, look-back start) that
    every query joins, the concepts of `codes` are looked up once and the rows filtered
    by them, and rows are fetched `chunksize` at a time. With ``observation_period``
    present, a warning counts the patients whose index date no period covers.

    Parameters
    ----------
    connection : str, path, SQLAlchemy Engine or Connection, or DB-API connection
        A SQLAlchemy URL (``postgresql://USER@HOST:5432/DB``; ``duckdb:///cdm.duckdb``),
        the path of a DuckDB file, an Engine or Connection, or an open psycopg, psycopg2,
        sqlite3 or DuckDB connection (left open; a DB-API connection's open transaction is
        rolled back, a SQLAlchemy Connection's is not). Put no password in a URL you share:
        PostgreSQL reads ``PGPASSWORD`` and ``~/.pgpass``.
    patients : Series, DataFrame or iterable of str, optional
        Whom to read. A Series of index dates indexed by patient id, or a DataFrame so
        indexed with an ``index_date`` column (`CohortRecords.patients`): only rows dated
        on or before each person's index day are read. An iterable of ids: those persons,
        every date. None: everyone, every date.
    codes : iterable of str, optional
        Only these events-table codes (`EHRFeaturizer.required_codes` gives the ones a
        featurizer uses); None reads every concept. Birth and sex are always read.
    lookback : int, optional
        Days before the index date from which rows are read (with dated `patients`);
        None: the whole history.
    schema : str, optional
        The schema of the CDM tables (PostgreSQL: ``cdm``); default the connection's.
    subject_id : {"person_source_value", "person_id"}, default "person_source_value"
        Which person column is the events table's ``subject_id`` (the cohort's patient
        ids are strings: the source system's id is what a cohort file names).
    errors : {"raise", "skip"}, default "raise"
        Raise on the first unmapped concept or unconvertible unit, or skip those rows and
        count them in ``events.attrs["read_report"]``.
    chunksize : int, default 100_000
        Rows fetched at a time.

    Returns
    -------
    DataFrame
        The events table (`ramultimodal.io.EVENT_COLUMNS`); ``source`` names each row's
        table and id (``"measurement/42"``); ``attrs["read_report"]`` counts what was read.

    Raises
    ------
    OMOPReadError
        On one line, with the URL's password masked: a database that cannot be reached, a
        missing table or column, an unmapped concept or unit (``errors="raise"``), a
        person id that two persons share.

    Examples
    --------
    >>> import tempfile
    >>> from ramultimodal.synthetic import make_cohort, write_cohort
    >>> cohort = make_cohort(5, seed=0, render_images=False)
    >>> folder = write_cohort(cohort, tempfile.mkdtemp() + "/c", formats=["omop"])
    >>> events = read_omop(folder / "omop.duckdb", codes=["LOINC/1988-5"])
    >>> sorted(events["code"].unique())[:2]
    ['GENDER/female', 'GENDER/male']
    >>> events.loc[events["code"] == "LOINC/1988-5", "unit"].unique().tolist()
    ['mg/L']
    """
    check_errors(errors)
    if subject_id not in ("person_source_value", "person_id"):
        raise ValueError(f"subject_id must be person_source_value or person_id, not {subject_id!r}")
    if lookback is not None and not (isinstance(lookback, (int, np.integer)) and lookback > 0):
        raise ValueError(f"lookback must be a positive number of days or None, not {lookback!r}")
    wanted = None if codes is None else set(codes)
    database = connect(connection, schema=schema)
    try:
        return _Reader(database, wanted, lookback, subject_id, errors, chunksize).read(patients)
    finally:
        database.close()


class _Reader:
    def __init__(
        self,
        database: Database,
        wanted: set[str] | None,
        lookback: int | None,
        subject_id: str,
        errors: str,
        chunksize: int,
    ):
        self.db, self.wanted, self.lookback = database, wanted, lookback
        self.subject_id, self.errors, self.chunksize = subject_id, errors, chunksize
        self.tables = cdm_tables(database.schema)
        self.codes: dict[int, str | None] = {0: None}
        self.report = ReadReport(format="csv")

    # ---------------------------------------------------------------- the whole read

    def read(self, patients: Any) -> pd.DataFrame:
        self._check_tables()
        index_dates, ids = _patients(patients)
        persons = self._persons(ids)
        frames = [_person_events(persons)]
        cohort = None
        if ids is not None:
            cohort = cohort_table()
            dates = (
                index_dates.reindex(persons["subject_id"]).to_numpy()
                if index_dates is not None
                else None
            )
            frame = pd.DataFrame({"person_id": persons.index.to_numpy(dtype=np.int64)})
            frame["index_date"] = pd.NaT if dates is None else pd.to_datetime(dates).date
            start = None
            if dates is not None and self.lookback is not None:
                start = (pd.to_datetime(dates) - pd.Timedelta(days=self.lookback)).date
            frame["start_date"] = pd.NaT if start is None else start
            frame = frame.astype(object).where(frame.notna(), None)
            self.db.register(cohort, frame)
            if index_dates is not None and self.has_periods:
                self._check_observed(cohort)
        wanted_ids = None if self.wanted is None else self._wanted_concept_ids()
        subject = persons["subject_id"]
        for spec in CLINICAL_TABLES:
            if spec.name == "visit_occurrence" and self.wanted is not None:
                if not any(code.startswith("ENCOUNTER/") for code in self.wanted):
                    continue
            statement = self._statement(spec, cohort, index_dates is not None, wanted_ids)
            for chunk in self.db.chunks(statement, self.chunksize):
                self.report.rows += len(chunk)
                chunk = chunk[chunk["person_id"].isin(subject.index)]
                frames.append(self._events(spec, chunk, subject))
        events = as_events(pd.concat(frames, ignore_index=True))
        self.report.events = len(events)
        events.attrs["read_report"] = self.report
        logger.info(
            "Read %s: %d events of %d persons from %d rows.",
            self.db.where(),
            len(events),
            len(persons),
            self.report.rows,
        )
        return events

    def _check_tables(self) -> None:
        needed = {name: [c.name for c in table.columns] for name, table in self.tables.items()}
        # observation_period is optional: it serves a check of the index dates (below).
        periods = needed.pop("observation_period")
        found = self.db.columns([*needed, "observation_period"])
        self.has_periods = set(periods) <= found.get("observation_period", set())
        for name, columns in needed.items():
            if name not in found:
                raise OMOPReadError(
                    f"{self.db.where()} has no table {name}: an OMOP CDM v5.4 database has "
                    f"person, concept and the clinical tables; check the database and the "
                    "schema (schema=, --omop-schema)."
                )
            missing = [c for c in columns if c not in found[name]]
            if missing:
                raise OMOPReadError(
                    f"{self.db.where()}: table {name} lacks the columns {missing}; is it "
                    "OMOP CDM v5.4 (v5.3 lacks some; add them as empty columns)?"
                )

    def _check_observed(self, cohort: Any) -> None:
        """Warn (in counts) of index dates outside every observation period of the person:
        before or after it the record is incomplete, and "nothing recorded" means nothing."""
        import sqlalchemy as sa

        period = self.tables["observation_period"]
        observed = sa.exists().where(
            period.c.person_id == cohort.c.person_id,
            period.c.observation_period_start_date <= cohort.c.index_date,
            period.c.observation_period_end_date >= cohort.c.index_date,
        )
        statement = sa.select(sa.func.count()).select_from(cohort).where(~observed)
        outside = int(self.db.fetch_cohort(statement).iloc[0, 0])
        if outside:
            logger.warning(
                "%s: %d patients have an index date outside their observation periods "
                "(observation_period): their record there may be incomplete.",
                self.db.where(),
                outside,
            )

    # ---------------------------------------------------------------- persons

    def _persons(self, ids: set[str] | None) -> pd.DataFrame:
        """The persons read: index person_id; subject_id, gender and birth."""
        import sqlalchemy as sa

        person = self.tables["person"]
        statement = sa.select(*(person.c[c] for c in PERSON_COLUMNS))
        kept = []
        for chunk in self.db.chunks(statement, self.chunksize):
            if self.subject_id == "person_id":
                subject = chunk["person_id"].astype("int64").astype(str)
            else:
                subject = chunk["person_source_value"].astype("string").str.strip()
            chunk = chunk.assign(subject_id=subject)
            if ids is not None:
                chunk = chunk[chunk["subject_id"].isin(ids)]
            kept.append(chunk)
        persons = (
            pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=PERSON_COLUMNS)
        )
        no_id = persons["subject_id"].isna() | persons["subject_id"].eq("")
        if no_id.any():
            self._problem(
                "person without person_source_value",
                int(no_id.sum()),
                "person rows have no person_source_value; fill it with the patient ids of "
                "your cohort, or read with subject_id='person_id'",
            )
            persons = persons[~no_id]
        shared = persons["subject_id"].duplicated(keep=False)
        if shared.any():
            raise OMOPReadError(
                f"{self.db.where()}: {int(shared.sum())} person rows share a "
                f"{self.subject_id} with another: make it unique, or read with "
                "subject_id='person_id'."
            )
        if ids is not None and len(persons) < len(ids):
            logger.warning(
                "%d of the %d patients asked for are not in %s's person table.",
                len(ids) - len(persons),
                len(ids),
                self.db.where(),
            )
        return persons.set_index(persons["person_id"].astype("int64"))

    # ---------------------------------------------------------------- concepts

    def _lookup(self, ids: Iterable[int]) -> None:
        """Learn the codes of the concept ids not yet known (None when not in concept)."""
        import sqlalchemy as sa

        unknown = sorted({int(i) for i in ids} - set(self.codes))
        concept = self.tables["concept"]
        for start in range(0, len(unknown), _CONCEPT_BATCH):
            batch = unknown[start : start + _CONCEPT_BATCH]
            statement = sa.select(*(concept.c[c] for c in CONCEPT_COLUMNS)).where(
                concept.c.concept_id.in_(batch)
            )
            for concept_id, vocabulary, code in self.db.fetch(statement).itertuples(index=False):
                self.codes[int(concept_id)] = code_of_concept(str(vocabulary), str(code))
            for concept_id in batch:
                self.codes.setdefault(concept_id, None)

    def _wanted_concept_ids(self) -> list[int]:
        """The concept ids of the wanted codes, looked up by vocabulary and code."""
        import sqlalchemy as sa

        by_vocabulary: dict[str, list[str]] = {}
        for code in sorted(self.wanted or ()):
            prefix, _, value = code.partition("/")
            vocabulary = PREFIX_VOCABULARIES.get(prefix)
            if vocabulary is not None:
                by_vocabulary.setdefault(vocabulary, []).append(value)
        concept = self.tables["concept"]
        ids = [i for i, code in VISIT_CONCEPTS.items() if encounter_code(code) in self.wanted]
        for vocabulary, values in by_vocabulary.items():
            statement = sa.select(*(concept.c[c] for c in CONCEPT_COLUMNS)).where(
                concept.c.vocabulary_id == vocabulary, concept.c.concept_code.in_(values)
            )
            for concept_id, vocab, code in self.db.fetch(statement).itertuples(index=False):
                self.codes[int(concept_id)] = code_of_concept(str(vocab), str(code))
                ids.append(int(concept_id))
        return ids

    # ---------------------------------------------------------------- one table

    def _statement(
        self, spec: ClinicalTable, cohort: Any, dated: bool, wanted_ids: list[int] | None
    ) -> Any:
        import sqlalchemy as sa

        table = self.tables[spec.name]
        statement = sa.select(*(table.c[c] for c in spec.columns))
        if cohort is not None:
            statement = statement.join_from(table, cohort, cohort.c.person_id == table.c.person_id)
            if dated:
                statement = statement.where(table.c[spec.date] <= cohort.c.index_date)
                if self.lookback is not None:
                    statement = statement.where(table.c[spec.date] >= cohort.c.start_date)
        if wanted_ids is not None:
            wanted_values = sorted(self.wanted or ())
            statement = statement.where(
                sa.or_(
                    table.c[spec.concept].in_(wanted_ids),
                    table.c[spec.source_concept].in_(wanted_ids),
                    table.c[spec.source_value].in_(wanted_values),
                )
            )
        return statement

    def _code_column(self, spec: ClinicalTable, chunk: pd.DataFrame) -> pd.Series:
        """Each row's code: its concept, else its source concept, else its source value."""
        concept = _ids(chunk[spec.concept])
        source_concept = _ids(chunk[spec.source_concept])
        self._lookup(np.union1d(np.unique(concept), np.unique(source_concept)))
        if spec.name == "visit_occurrence":
            visits = {i: encounter_code(c) for i, c in VISIT_CONCEPTS.items()}
            codes = pd.Series(concept).map(lambda i: visits.get(i) or self.codes.get(i))
        else:
            codes = pd.Series(concept).map(self.codes)
        codes = codes.where(codes.notna(), pd.Series(source_concept).map(self.codes))
        missing = np.flatnonzero(codes.isna().to_numpy())
        if missing.size:  # only the rows without a concept look at their source value
            source = chunk[spec.source_value].astype(object).to_numpy()[missing]
            ours = [isinstance(v, str) and _OUR_CODE.match(v) is not None for v in source]
            codes.iloc[missing] = np.where(ours, source, None)
        return codes.to_numpy(dtype=object)

    def _events(self, spec: ClinicalTable, chunk: pd.DataFrame, subject: pd.Series) -> pd.DataFrame:
        if chunk.empty:
            return pd.DataFrame()
        chunk = chunk.reset_index(drop=True)
        codes = self._code_column(spec, chunk)
        unmapped = pd.isna(codes)
        if unmapped.any():
            first = chunk.loc[np.flatnonzero(unmapped)[0]]
            self._problem(
                "unmapped concept",
                int(unmapped.sum()),
                f"{spec.name} row {spec.id} {first[spec.id]}: {spec.concept} "
                f"{_show(first[spec.concept])} and {spec.source_concept} "
                f"{_show(first[spec.source_concept])} are not in the concept table, and "
                f"{spec.source_value} is not a code such as LOINC/1988-5 (unmapped concept); "
                "load the OMOP vocabularies into concept, map the source codes, or read with "
                "errors='skip' (--errors skip)",
            )
        keep = ~unmapped
        if self.wanted is not None:
            keep &= pd.Series(codes).isin(self.wanted).to_numpy()
        chunk, codes = chunk[keep].reset_index(drop=True), codes[keep]
        if chunk.empty:
            return pd.DataFrame()
        roles = dict(spec.values)
        time = pd.to_datetime(chunk[spec.datetime], errors="coerce")
        time = time.where(time.notna(), pd.to_datetime(chunk[spec.date], errors="coerce"))
        number = (
            pd.to_numeric(chunk[roles["number"]], errors="coerce").to_numpy(dtype=np.float64)
            if "number" in roles
            else np.full(len(chunk), np.nan)
        )
        text = pd.Series([None] * len(chunk), dtype=object)
        if "value_concept" in roles:
            value_ids = _ids(chunk[roles["value_concept"]])
            self._lookup(np.unique(value_ids))
            text = pd.Series(value_ids).map(self.codes).astype(object)
        if "operator" in roles:
            operators = pd.Series(_ids(chunk[roles["operator"]])).map(OPERATOR_CONCEPTS)
            text = text.where(text.notna(), operators)
        if "string" in roles:
            strings = chunk[roles["string"]].astype(object)
            text = text.where(text.notna(), strings.where(strings.notna(), None))
        units = pd.Series([None] * len(chunk), dtype=object)
        if "unit_concept" in roles:
            unit_ids = _ids(chunk[roles["unit_concept"]])
            self._lookup(np.unique(unit_ids))
            units = pd.Series(unit_ids).map(self.codes).map(_ucum).astype(object)
            given = chunk[roles["unit_source"]].astype(object)
            units = units.where(units.notna(), given.where(given.notna(), None))
        events = pd.DataFrame(
            {
                "subject_id": subject.reindex(chunk["person_id"].astype("int64")).to_numpy(),
                "time": time.to_numpy(),
                "code": codes,
                "numeric_value": number,
                "text_value": text.to_numpy(dtype=object),
                "unit": units.to_numpy(dtype=object),
                "source": (spec.name + "/" + chunk[spec.id].astype("int64").astype(str)).to_numpy(),
            }
        )
        return self._normalised(events, spec)

    def _normalised(self, events: pd.DataFrame, spec: ClinicalTable) -> pd.DataFrame:
        """Values in their concept's unit, one (code, unit) pair at a time, as FHIR's."""
        bad = np.zeros(len(events), dtype=bool)
        values = events["numeric_value"].to_numpy(copy=True)
        units = events["unit"].to_numpy(dtype=object, copy=True)
        pairs = events[["code", "unit"]].astype(object)
        groups = pairs.groupby(["code", "unit"], sort=False, dropna=False).indices
        for (code, unit), rows in groups.items():
            unit = None if pd.isna(unit) else unit
            try:
                factor, canonical = canonical_conversion(code, unit)
            except UnitError as error:
                if np.isnan(values[rows]).all():  # a unit without a value converts nothing
                    continue
                self._problem(
                    "unknown unit",
                    len(rows),
                    f"{spec.name}: {error} (its unit_concept_id or unit_source_value); map "
                    "the unit to UCUM, or read with errors='skip' (--errors skip)",
                )
                bad[rows] = True
                continue
            values[rows] = values[rows] * factor
            units[rows] = canonical
        events["numeric_value"], events["unit"] = values, units
        return events[~bad]

    def _problem(self, why: str, n: int, message: str) -> None:
        if self.errors == "raise":
            more = f" ({n - 1} more such rows)" if n > 1 else ""
            raise OMOPReadError(f"{self.db.where()}: {message}{more}.")
        self.report.skipped[why] += n
        if len(self.report.problems) < 100:
            self.report.problems.append(f"{self.db.where()}: {message}")


def _ids(column: pd.Series) -> np.ndarray:
    """Concept ids as int64, 0 for none."""
    return pd.to_numeric(column, errors="coerce").fillna(0).to_numpy(dtype=np.int64)


def _show(value: Any) -> str:
    return "NULL" if pd.isna(value) else str(int(value))


def _ucum(code: Any) -> str | None:
    """The UCUM unit of a unit concept's code (``UCUM/mg/L`` -> ``mg/L``)."""
    if isinstance(code, str) and code.startswith("UCUM/"):
        return code.removeprefix("UCUM/")
    return None


def _patients(patients: Any) -> tuple[pd.Series | None, set[str] | None]:
    """(index dates by patient id or None, the set of patient ids or None)."""
    if patients is None:
        return None, None
    if isinstance(patients, pd.DataFrame):
        if "index_date" not in patients.columns:
            return None, set(patients.index.astype(str))
        patients = patients["index_date"]
    if isinstance(patients, pd.Series):
        dates = parse_times(patients).dt.normalize()
        dates.index = patients.index.astype(str)
        if dates.isna().any():
            raise ValueError("patients: every patient needs an index date (some are missing).")
        return dates, set(dates.index)
    return None, {str(patient) for patient in patients}


def _partial_date(year: float, month: float, day: float) -> str | None:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, as much of a birth date as is known."""
    if pd.isna(year):
        return None
    if pd.isna(month):
        return f"{int(year):04d}"
    if pd.isna(day):
        return f"{int(year):04d}-{int(month):02d}"
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


def _person_events(persons: pd.DataFrame) -> pd.DataFrame:
    """Birth and sex of each person, as the FHIR reader writes them from Patient."""
    genders = pd.to_numeric(persons["gender_concept_id"], errors="coerce").map(GENDER_CONCEPTS)
    sex = pd.DataFrame(
        {
            "subject_id": persons["subject_id"].to_numpy(),
            "code": genders.map(gender_code, na_action="ignore").to_numpy(dtype=object),
            "source": ("person/" + persons.index.astype(str)).to_numpy(),
        }
    ).dropna(subset=["code"])
    # A birth known to the year or month only is placed at the end of it (parse_times).
    parts = persons[["year_of_birth", "month_of_birth", "day_of_birth"]].apply(
        pd.to_numeric, errors="coerce"
    )
    text = [_partial_date(*row) for row in parts.itertuples(index=False)]
    births = parse_times(pd.Series(text, index=persons.index, dtype=object))
    exact = pd.to_datetime(persons["birth_datetime"], errors="coerce")
    births = pd.Series(exact.to_numpy(), index=births.index).where(exact.notna().to_numpy(), births)
    birth = pd.DataFrame(
        {
            "subject_id": persons["subject_id"].to_numpy(),
            "time": births.to_numpy(),
            "code": BIRTH,
            "source": ("person/" + persons.index.astype(str)).to_numpy(),
        }
    )
    return pd.concat([sex, birth[births.notna().to_numpy()]], ignore_index=True)
