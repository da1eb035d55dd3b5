"""What the subcommands share: argument types and turning user mistakes into one line."""

from __future__ import annotations

import argparse
import functools
import importlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ramultimodal._errors import InputError
from ramultimodal._text import one_line
from ramultimodal.cli import CommandError


class LibraryChoices(Sequence[str]):
    """The choices of an option, read from the library module that defines them.

    The module is imported when argparse first reads the choices (to check a value given,
    or to write ``--help``), not when the parser is built, so that the command line keeps
    no copy of the library's lists and ``--version`` answers without importing them. An
    option with such choices needs a ``metavar`` (argparse reads the choices to make one)
    and lists them in its help with ``%(choices)s``.

    Parameters
    ----------
    module, name : str
        Where the names are: ``getattr(import_module(module), name)``, a tuple or the
        keys of a dict.
    before : tuple of str
        Choices of the command line's own, listed first (``auto``).

    Examples
    --------
    >>> kinds = LibraryChoices("ramultimodal.workflows", "FUSION_KINDS")
    >>> list(kinds), "early" in kinds
    (['late', 'stacking', 'early'], True)
    """

    def __init__(self, module: str, name: str, *, before: tuple[str, ...] = ()) -> None:
        self.module, self.name, self.before = module, name, before

    @functools.cached_property
    def _names(self) -> tuple[str, ...]:
        return (*self.before, *getattr(importlib.import_module(self.module), self.name))

    def __getitem__(self, index: Any) -> Any:
        return self._names[index]

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"LibraryChoices({self.module}.{self.name})"


#: Where a cohort folder's events are read from: "auto" or one of `ramultimodal.io.EVENT_SOURCES`.
SOURCES = LibraryChoices("ramultimodal.io", "EVENT_SOURCES", before=("auto",))


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that reads a cohort folder: --source, --date-format,
    --errors, --pacs, --omop, --omop-schema, --omop-cohort-sql."""
    parser.add_argument(
        "--source",
        default="auto",
        choices=SOURCES,
        metavar="SOURCE",  # not the choices, which argparse would read at once
        help="where to read the EHR from, one of %(choices)s (default: %(default)s: the "
        "first present)",
    )
    parser.add_argument(
        "--date-format",
        metavar="FORMAT",
        help="strftime format of patients.csv's index dates, e.g. %%d/%%m/%%Y "
        "(default: ISO 8601, YYYY-MM-DD)",
    )
    add_errors_argument(parser)
    parser.add_argument(
        "--pacs",
        metavar="URL",
        help="find each patient's radiographs on this DICOMweb server instead of images.csv, "
        "e.g. dicomweb://HOST:8042/dicom-web: the latest CR/DX study on or before the index "
        "date (QIDO-RS by PatientID = subject_id; credentials from the environment or "
        "~/.netrc; docs/dicomweb.md)",
    )
    omop = parser.add_argument_group("OMOP CDM database (docs/omop.md)")
    omop.add_argument(
        "--omop",
        metavar="URL",
        help="read the EHR from this OMOP CDM v5.4 database: postgresql://USER@HOST:PORT/DB "
        "(password from PGPASSWORD or ~/.pgpass) or a DuckDB file",
    )
    omop.add_argument(
        "--omop-schema", metavar="SCHEMA", help="schema of the CDM tables (default: the user's)"
    )
    omop.add_argument(
        "--omop-cohort-sql",
        metavar="FILE",
        help="a SELECT giving person_source_value (or person_id), index_date [, label], "
        "instead of patients.csv [and labels.csv]",
    )


def add_errors_argument(parser: argparse.ArgumentParser) -> None:
    """``--errors {raise,skip}``: what a row or resource that cannot be read does."""
    parser.add_argument(
        "--errors",
        default="raise",
        choices=("raise", "skip"),
        help="stop at the first row or resource that cannot be read, or skip and count "
        "them (default: %(default)s)",
    )


def data_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of `ramultimodal.io.read_cohort` that `add_data_options` set."""
    return {
        "source": args.source,
        "date_format": args.date_format,
        "errors": args.errors,
        "pacs": args.pacs,
        "omop": args.omop,
        "omop_schema": args.omop_schema,
        "omop_cohort_sql": args.omop_cohort_sql,
    }


def add_horizon_options(parser: argparse.ArgumentParser, *, censored: bool = True) -> None:
    """``--horizon`` (and ``--censored``): the label as RA within a horizon from time to RA."""
    parser.add_argument(
        "--horizon",
        metavar="H",
        help="label = RA within H of the index date (6m, 12m, 24m or days), from "
        "labels.csv's time_to_ra_days and event (default: labels.csv's ra, 12 months)",
    )
    if censored:
        parser.add_argument(
            "--censored",
            default="exclude",
            choices=("exclude", "negative"),
            help="with --horizon, patients censored before it: left out (their RA status "
            "is unknown) or counted free of RA (biased) (default: %(default)s)",
        )


def horizon_options(args: argparse.Namespace) -> dict:
    """The ``horizon`` and ``censored`` keyword arguments that `add_horizon_options` set."""
    return {"horizon": args.horizon, "censored": getattr(args, "censored", "exclude")}


def add_scheduler_argument(parser: argparse.ArgumentParser) -> None:
    """``--scheduler ADDRESS``: the Dask cluster to run on (`ramultimodal.distributed`).

    Its value goes to the workflow's ``scheduler``; left out, the workflow reads
    ``$RAMULTIMODAL_SCHEDULER``, else runs in this process.
    """
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a Dask scheduler to run on, e.g. tcp://HOST:8786 (default: "
        "$RAMULTIMODAL_SCHEDULER if set, else this process; docs/scaling.md)",
    )


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


@contextmanager
def user_mistakes() -> Iterator[None]:
    """Report what a user can fix (a bad path, an existing output, a wrong layout or
    configuration) as a `CommandError`: one line, no traceback. Bugs still raise."""
    try:
        yield
    except (InputError, OSError, json.JSONDecodeError) as error:
        raise CommandError(one_line(error)) from None
