"""``ramultimodal convert``: write a cohort folder, FHIR or a CSV of events as MEDS parquet."""

from __future__ import annotations

import argparse
from typing import Any

from ramultimodal.cli._common import LibraryChoices, positive_int, user_mistakes

#: What ``--source`` accepts: a cohort folder's events sources, or how to read a bare input.
_SOURCES = LibraryChoices("ramultimodal.io", "EVENT_SOURCES", before=("auto",))


def register(subparsers: Any) -> None:
    """Add the ``convert`` parser."""
    parser = subparsers.add_parser(
        "convert",
        help="convert a cohort folder, FHIR or a CSV of events to MEDS parquet",
        description="Convert DATA_DIR to MEDS 0.4 parquet (docs/data-model.md, 'MEDS'). A "
        "cohort folder becomes a cohort folder whose events are OUT/meds/ (patients.csv, "
        "labels.csv and images.csv kept; the radiographs stay where they are); FHIR "
        "(NDJSON, .ndjson.gz, Bundles), a CSV of events or a MEDS folder becomes a MEDS "
        "folder.",
    )
    parser.add_argument(
        "data", metavar="DATA_DIR", help="cohort folder, FHIR folder or file, events CSV, MEDS"
    )
    parser.add_argument(
        "--to",
        required=True,
        choices=LibraryChoices("ramultimodal.workflows", "CONVERT_FORMATS"),
        metavar="FORMAT",
        help="format to write, one of %(choices)s",
    )
    parser.add_argument("out", metavar="OUT", help="folder to create")
    parser.add_argument(
        "--n-shards",
        type=positive_int,
        metavar="N",
        help="number of MEDS shards, each subject in one (default: one per 10,000 subjects)",
    )
    parser.add_argument(
        "--source",
        default="auto",
        choices=_SOURCES,
        metavar="SOURCE",
        help="where to read the events from, one of %(choices)s (default: %(default)s: a "
        "cohort folder's first present; else .csv is a CSV of events, a folder with data/ "
        "MEDS, anything else FHIR)",
    )
    parser.add_argument(
        "--date-format",
        metavar="FORMAT",
        help="strftime format of the times of a CSV of events given as DATA_DIR, e.g. "
        "%%d/%%m/%%Y (default: ISO 8601; a cohort folder's events.json gives its own)",
    )
    parser.add_argument(
        "--errors",
        default="raise",
        choices=("raise", "skip"),
        help="stop at the first row or resource that cannot be read, or skip and count "
        "them (default: %(default)s)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a Dask scheduler (tcp://HOST:8786); see docs/scaling.md (default: "
        "$RAMULTIMODAL_SCHEDULER, else this process)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace OUT if it holds the same kind of folder written by ramultimodal",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Convert and say where."""
    from ramultimodal.workflows import convert_dataset

    with user_mistakes():
        out = convert_dataset(
            args.data,
            args.to,
            args.out,
            n_shards=args.n_shards,
            source=args.source,
            errors=args.errors,
            date_format=args.date_format,
            overwrite=args.force,
            scheduler=args.scheduler,
            verbose=int(args.progress),
        )
    print(f"Wrote {out}")
    return 0
