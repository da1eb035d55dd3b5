"""What the subcommands share: argument types and turning user mistakes into one line."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager

from ramultimodal._text import one_line
from ramultimodal.cli import CommandError

#: Where a cohort folder's events are read from (`ramultimodal.io.EVENT_SOURCES`, which a
#: test checks): listed here so that ``--help`` answers without importing the readers.
SOURCES: tuple[str, ...] = ("auto", "csv", "wide-csv", "fhir-ndjson", "fhir-bundles")


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that reads a cohort folder: --source, --date-format,
    --errors."""
    parser.add_argument(
        "--source",
        default="auto",
        choices=SOURCES,
        help="where to read the EHR from (default: %(default)s: the first present)",
    )
    parser.add_argument(
        "--date-format",
        metavar="FORMAT",
        help="strftime format of patients.csv's index dates, e.g. %%d/%%m/%%Y "
        "(default: ISO 8601, YYYY-MM-DD)",
    )
    parser.add_argument(
        "--errors",
        default="raise",
        choices=("raise", "skip"),
        help="stop at the first row or resource that cannot be read, or skip and count "
        "them (default: %(default)s)",
    )


def data_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of `ramultimodal.io.read_cohort` that `add_data_options` set."""
    return {"source": args.source, "date_format": args.date_format, "errors": args.errors}


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
    from ramultimodal.fusion import ModelFolderError
    from ramultimodal.io import CSVReadError, DatasetError, FHIRReadError, ImageReadError
    from ramultimodal.models import ConfigError

    try:
        yield
    except (
        DatasetError,
        FHIRReadError,
        CSVReadError,
        ImageReadError,
        ModelFolderError,
        ConfigError,
    ) as error:
        raise CommandError(one_line(error)) from None
    except (OSError, json.JSONDecodeError) as error:
        raise CommandError(one_line(error)) from None
