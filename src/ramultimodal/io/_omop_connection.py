"""A connection to an OMOP CDM database, whatever form the user gave it in.

`connect` takes a SQLAlchemy URL (``postgresql://user@host/db``, ``duckdb:///cdm.duckdb``),
a SQLAlchemy Engine or Connection, a DB-API connection (psycopg, psycopg2, sqlite3,
DuckDB) or the path of a DuckDB file, and returns a `Database`: one way to run a SQLAlchemy
Core statement in chunks, to register the cohort as a temporary table and to list the
columns of the CDM tables. Statements are always built with SQLAlchemy Core and values
always bound as parameters: nothing a user gives becomes SQL text.

DuckDB is run through its own Python API (SQLAlchemy has no DuckDB dialect without an
extra package): the same Core statements compiled for PostgreSQL, whose SQL DuckDB
speaks, with ``?`` parameters.

Every failure is an `OMOPReadError` on one line that names what was tried, with the
password of a URL masked (``URL.render_as_string(hide_password=True)``) and removed from
any message a driver wrote, and what to do.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from ramultimodal._errors import InputError
from ramultimodal._text import one_line

__all__ = ["Database", "OMOPReadError", "connect"]

logger = logging.getLogger(__name__)


class OMOPReadError(InputError):
    """An OMOP CDM database that cannot be read as asked: says what was tried, what to do.

    Never holds a password: URLs are shown with it masked.
    """


_DUCKDB_SUFFIXES = (".duckdb", ".ddb", ".db")


def connect(connection: Any, *, schema: str | None = None) -> Database:
    """Open `connection` (any form `ramultimodal.io.read_omop` takes) as a `Database`.

    Raises
    ------
    OMOPReadError
        When the database cannot be reached or opened.
    """
    import sqlalchemy as sa

    if isinstance(connection, os.PathLike) or (
        isinstance(connection, str) and "://" not in connection
    ):
        return _DuckDB.open(Path(connection), schema)
    if isinstance(connection, str):
        try:
            url = sa.make_url(connection)
        except (sa.exc.ArgumentError, ValueError):  # the text may hold a password: not shown
            raise OMOPReadError(
                "The OMOP connection is not a SQLAlchemy URL (postgresql://USER@HOST:PORT/DB "
                "or duckdb:///PATH) nor a DuckDB file path; see docs/omop.md."
            ) from None
        if url.get_backend_name() == "duckdb":
            return _DuckDB.open(Path(url.database or ""), schema)
        if url.drivername == "postgresql":  # psycopg 3, not SQLAlchemy's default psycopg2
            url = url.set(drivername="postgresql+psycopg")
        shown = url.render_as_string(hide_password=True)
        try:
            engine = sa.create_engine(url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as error:
            raise OMOPReadError(
                f"Cannot use {shown}: {_clean(error, url.password)}. Use a "
                "postgresql://USER@HOST:PORT/DB URL or a DuckDB file; see docs/omop.md."
            ) from None
        return _SQLAlchemy.open(engine, schema, shown, url.password, owned=True)
    if isinstance(connection, sa.engine.Engine):
        url = connection.url
        return _SQLAlchemy.open(
            connection, schema, url.render_as_string(hide_password=True), url.password
        )
    if isinstance(connection, sa.engine.Connection):
        url = connection.engine.url
        database = _SQLAlchemy(
            connection, schema, url.render_as_string(hide_password=True), url.password, False
        )
        database.borrowed = True  # the caller's: left open, its transaction untouched
        return database
    module = type(connection).__module__.split(".")[0].lstrip("_")  # "_duckdb" -> "duckdb"
    if module == "duckdb":
        return _DuckDB(connection, schema, "a DuckDB connection", owned=False)
    dialects = {"psycopg": "postgresql+psycopg", "psycopg2": "postgresql+psycopg2"}
    dialects["sqlite3"] = "sqlite"
    if module in dialects:
        from sqlalchemy.pool import StaticPool

        engine = sa.create_engine(
            f"{dialects[module]}://", creator=lambda: connection, poolclass=StaticPool
        )
        return _SQLAlchemy.open(engine, schema, f"a {module} connection", None)
    raise OMOPReadError(
        f"Cannot read OMOP from a {type(connection).__name__} ({module}): give a SQLAlchemy "
        "URL, Engine or Connection, a psycopg, sqlite3 or DuckDB connection, or a DuckDB "
        "file path."
    )


def _clean(error: BaseException | str, password: str | None) -> str:
    """A driver's message on one line, with the password cut out wherever it appears."""
    text = one_line(error, 300)
    if password:
        text = text.replace(password, "***")
    return text.rstrip(".")


def _frame(chunks: list[pd.DataFrame], statement: Any) -> pd.DataFrame:
    """The chunks of a result as one frame; no chunk is no row, with the columns."""
    if not chunks:
        return pd.DataFrame(columns=[column.name for column in statement.selected_columns])
    return pd.concat(chunks, ignore_index=True)


class Database:
    """An open OMOP database: `shown` (its URL without password), chunked reads, columns."""

    shown: str
    schema: str | None

    def chunks(self, statement: Any, chunksize: int) -> Iterator[pd.DataFrame]:
        """Run a Core SELECT and yield its rows as DataFrames of at most `chunksize` rows."""
        raise NotImplementedError

    def fetch(self, statement: Any) -> pd.DataFrame:
        """Run a small Core SELECT (concepts, columns) whole, even while `chunks` streams."""
        return _frame(list(self.chunks(statement, 100_000)), statement)

    def fetch_cohort(self, statement: Any) -> pd.DataFrame:
        """Run a small Core SELECT that reads the registered cohort table, whole."""
        return _frame(list(self.chunks(statement, 100_000)), statement)

    def fetch_sql(self, sql: str, what: str) -> pd.DataFrame:
        """Run the user's own SQL text (a cohort query) and return its rows."""
        raise NotImplementedError

    def register(self, table: Any, frame: pd.DataFrame) -> None:
        """Make `frame` readable as the (temporary) `table` in the statements that follow."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection if it was opened here."""

    def columns(self, tables: list[str]) -> dict[str, set[str]]:
        """The columns of each of `tables` that exists in the schema (lower case)."""
        import sqlalchemy as sa

        info = sa.table(
            "columns",
            sa.column("table_schema"),
            sa.column("table_name"),
            sa.column("column_name"),
            schema="information_schema",
        )
        schema = sa.literal(self.schema) if self.schema else sa.func.current_schema()
        statement = sa.select(info.c.table_name, info.c.column_name).where(
            info.c.table_schema == schema,
            sa.func.lower(info.c.table_name).in_(tables),
        )
        found: dict[str, set[str]] = {}
        for table, column in self.fetch(statement).itertuples(index=False):
            found.setdefault(str(table).lower(), set()).add(str(column).lower())
        return found

    def where(self) -> str:
        """The database and schema, for messages."""
        return self.shown + (f" (schema {self.schema})" if self.schema else "")


class _SQLAlchemy(Database):
    def __init__(
        self, connection: Any, schema: str | None, shown: str, password: str | None, owned: bool
    ):
        self.connection, self.schema, self.shown = connection, schema, shown
        self.password, self.owned = password, owned
        self.borrowed, self.registered = False, []

    @classmethod
    def open(
        cls, engine: Any, schema: str | None, shown: str, password: str | None, owned: bool = False
    ) -> _SQLAlchemy:
        import sqlalchemy as sa

        try:
            connection = engine.connect()
        except sa.exc.DBAPIError as error:
            raise OMOPReadError(
                f"Cannot connect to {shown}: {_clean(error.orig or error, password)}. Check "
                "that the server runs and accepts connections there, and the user, password "
                "(from the URL, PGPASSWORD or ~/.pgpass) and database name."
            ) from None
        return cls(connection, schema, shown, password, owned)

    def chunks(self, statement: Any, chunksize: int) -> Iterator[pd.DataFrame]:
        import sqlalchemy as sa

        try:
            # Streamed by a server-side cursor, for this statement only (a Connection's
            # own execution_options would stream the DDL of `register` too), `chunksize`
            # rows a round trip (plain streaming grows its buffer only to 1000 rows).
            options = {"stream_results": True, "yield_per": chunksize}
            result = self.connection.execute(statement, execution_options=options)
            columns = list(result.keys())
            for rows in result.partitions(chunksize):
                # Plain tuples: pandas probes a Row's attributes one by one (3x slower).
                yield pd.DataFrame.from_records(list(map(tuple, rows)), columns=columns)
        except sa.exc.DBAPIError as error:
            self.connection.rollback()
            raise OMOPReadError(
                f"{self.where()}: the query failed: {_clean(error.orig or error, self.password)}."
                " Check that the database holds OMOP CDM v5.4 tables (and --omop-schema)."
            ) from None

    def fetch_sql(self, sql: str, what: str) -> pd.DataFrame:
        import sqlalchemy as sa

        try:
            result = self.connection.execute(sa.text(sql))
            return pd.DataFrame.from_records(result.fetchall(), columns=list(result.keys()))
        except (sa.exc.DBAPIError, sa.exc.StatementError) as error:
            self.connection.rollback()
            reason = _clean(getattr(error, "orig", None) or error, self.password)
            raise OMOPReadError(f"{self.where()}: {what} failed: {reason}.") from None

    def register(self, table: Any, frame: pd.DataFrame) -> None:
        import sqlalchemy as sa

        table.drop(self.connection, checkfirst=True)
        table.create(self.connection)
        self.registered.append(table)
        rows = frame.to_dict("records")
        for start in range(0, len(rows), 10_000):  # bounded statements for big cohorts
            self.connection.execute(sa.insert(table), rows[start : start + 10_000])

    def close(self) -> None:
        if self.borrowed:  # the caller's Connection: only our temporary table goes
            for table in self.registered:
                table.drop(self.connection, checkfirst=True)
            return
        self.connection.rollback()  # nothing is written: the temporary table goes too
        self.connection.close()
        if self.owned:
            self.connection.engine.dispose()


class _DuckDB(Database):
    def __init__(self, connection: Any, schema: str | None, shown: str, owned: bool):
        self.connection, self.schema, self.shown, self.owned = connection, schema, shown, owned

    @classmethod
    def open(cls, path: Path, schema: str | None) -> _DuckDB:
        import duckdb

        shown = f"DuckDB file {path}"
        if not path.is_file():
            hint = (
                ""
                if path.suffix in _DUCKDB_SUFFIXES
                else " (or give a SQLAlchemy URL: postgresql://USER@HOST:PORT/DB)"
            )
            raise OMOPReadError(
                f"{shown} not found: give the path of an OMOP CDM DuckDB file{hint}, e.g. "
                "the omop.duckdb that `ramultimodal synth OUT --formats omop` writes."
            )
        try:
            connection = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as error:
            raise OMOPReadError(
                f"Cannot open {shown}: {one_line(error, 300)}. Is it a DuckDB database, "
                "and not open for writing by another process?"
            ) from None
        return cls(connection, schema, shown, owned=True)

    def _compiled(self, statement: Any) -> tuple[str, list[Any]]:
        from sqlalchemy.dialects import postgresql

        compiled = statement.compile(
            dialect=postgresql.dialect(paramstyle="qmark"),
            compile_kwargs={"render_postcompile": True},
        )
        params = compiled.params
        return compiled.string, [params[name] for name in compiled.positiontup or ()]

    def chunks(
        self, statement: Any, chunksize: int, connection: Any = None
    ) -> Iterator[pd.DataFrame]:
        import duckdb

        sql, params = self._compiled(statement)
        connection = connection or self.connection
        try:
            reader = connection.sql(sql, params=params).to_arrow_reader(chunksize)
            for batch in reader:
                yield batch.to_pandas()
        except duckdb.Error as error:
            raise OMOPReadError(
                f"{self.where()}: the query failed: {one_line(error, 300)}. Check that the "
                "database holds OMOP CDM v5.4 tables (and --omop-schema)."
            ) from None

    def fetch(self, statement: Any) -> pd.DataFrame:
        # DuckDB runs one query at a time on a connection: a small one runs on a cursor
        # (a second connection to the same database), beside the one that streams.
        cursor = self.connection.cursor()
        try:
            frames = list(self.chunks(statement, 100_000, cursor))
        finally:
            cursor.close()
        return _frame(frames, statement)

    def fetch_sql(self, sql: str, what: str) -> pd.DataFrame:
        import duckdb

        try:
            return self.connection.sql(sql).df()
        except duckdb.Error as error:
            raise OMOPReadError(f"{self.where()}: {what} failed: {one_line(error, 300)}.") from None

    def register(self, table: Any, frame: pd.DataFrame) -> None:
        self.connection.register(table.name, frame)

    def close(self) -> None:
        if self.owned:
            self.connection.close()
        else:
            for name in ("ramultimodal_cohort",):
                self.connection.unregister(name)
