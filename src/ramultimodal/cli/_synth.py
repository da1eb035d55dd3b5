"""``ramultimodal synth``: generate a synthetic cohort and write it in every format."""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from ramultimodal.cli import CommandError
from ramultimodal.cli._common import LibraryChoices, one_line, positive_int


def register(subparsers: Any) -> None:
    """Add the ``synth`` parser."""
    parser = subparsers.add_parser(
        "synth",
        help="generate a synthetic early-arthritis cohort (FHIR, CSV, DICOM, PNG)",
        description="Generate a synthetic early-arthritis cohort and write it to OUT_DIR "
        "(layout: docs/data-model.md, 'A cohort directory'). The same seed and arguments "
        "give byte-identical files.",
    )
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder to create")
    parser.add_argument(
        "--n-patients",
        type=positive_int,
        default=1000,
        metavar="N",
        help="number of patients (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="random seed (default: %(default)s)"
    )
    parser.add_argument(
        "--formats",
        nargs="+",
        choices=LibraryChoices("ramultimodal.synthetic", "FORMATS"),
        metavar="FORMAT",
        help="what to write, any of %(choices)s (default: all but omop, an OMOP CDM DuckDB file)",
    )
    parser.add_argument(
        "--image-size",
        type=positive_int,
        default=512,
        metavar="PIXELS",
        help="side of the square radiographs (default: %(default)s)",
    )
    parser.add_argument(
        "--images-per-patient",
        type=int,
        choices=(1, 2),
        default=1,
        metavar="N",
        help="1: one hand (left or right) per patient; 2: both hands (default: %(default)s)",
    )
    parser.add_argument(
        "--prevalence",
        type=float,
        default=0.35,
        help="share of patients with RA (default: %(default)s)",
    )
    parser.add_argument(
        "--population",
        type=_population,
        default="clinic",
        metavar="POPULATION",
        help="who is followed: clinic (early-arthritis clinic), undifferentiated "
        "(undifferentiated arthritis), arthralgia (seropositive arthralgia), or a mix such "
        "as clinic=0.5,arthralgia=0.5 (default: %(default)s)",
    )
    parser.add_argument("--gzip", action="store_true", help="write the NDJSON files as .ndjson.gz")
    parser.add_argument(
        "--force", action="store_true", help="replace OUT_DIR if it holds a cohort written here"
    )
    parser.set_defaults(run=run)


def _population(text: str) -> str | dict[str, float]:
    """A population name, or ``name=share,name=share`` for a mix."""
    from ramultimodal.synthetic import POPULATIONS

    parts = [part.strip() for part in text.split(",") if part.strip()]
    shares: dict[str, float] = {}
    for part in parts:
        name, _, share = part.partition("=")
        if name not in POPULATIONS:
            raise argparse.ArgumentTypeError(
                f"unknown population {name!r}; choose from {', '.join(POPULATIONS)}"
            )
        try:
            shares[name] = float(share) if share else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(f"share of {name} must be a number") from None
    if not shares:
        raise argparse.ArgumentTypeError("give a population, e.g. undifferentiated")
    return parts[0] if len(shares) == 1 and "=" not in text else shares


def run(args: argparse.Namespace) -> int:
    """Generate and write the cohort that `args` describe."""
    from ramultimodal.synthetic import DEFAULT_FORMATS, make_cohort, write_cohort
    from ramultimodal.synthetic._write import check_out_dir

    verbose = int(args.progress)
    started = time.perf_counter()
    try:
        # Checked before generating, so that a mistake costs no minutes of waiting.
        check_out_dir(args.out_dir, overwrite=args.force)
    except OSError as error:
        raise CommandError(one_line(error)) from None
    try:
        cohort = make_cohort(
            args.n_patients,
            seed=args.seed,
            image_size=args.image_size,
            images_per_patient=args.images_per_patient,
            prevalence=args.prevalence,
            population=args.population,
            verbose=verbose,
        )
    except ValueError as error:  # a parameter out of range
        raise CommandError(one_line(error)) from None
    try:
        write_cohort(
            cohort,
            args.out_dir,
            formats=args.formats or DEFAULT_FORMATS,
            gzip=args.gzip,
            overwrite=args.force,
            verbose=verbose,
        )
    except OSError as error:  # disk full, folder removed or made read-only meanwhile
        raise CommandError(one_line(error)) from None
    if args.log_level <= logging.INFO:  # not -q
        print(
            f"Wrote {len(cohort.patients)} patients and {len(cohort.images)} images to "
            f"{args.out_dir} in {time.perf_counter() - started:.1f} s."
        )
    return 0
