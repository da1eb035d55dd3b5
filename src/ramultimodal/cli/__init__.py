"""The ``ramultimodal`` command line.

Each subcommand lives in a module of its own, ``ramultimodal/cli/_<name>.py``, with
``register(subparsers)``, which adds its parser and sets ``run(args) -> int`` as the
parser's default ``run``. Adding a command is adding its module and its name to
`COMMANDS`. The modules import the library inside ``run``, so that ``--help`` and
``--version`` answer at once.

Examples
--------
>>> main(["--version"])  # doctest: +ELLIPSIS
ramultimodal ...
0
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from ramultimodal import __version__

__all__ = ["COMMANDS", "CommandError", "build_parser", "main"]

#: Subcommands, in the order ``--help`` lists them; each is ``ramultimodal.cli._<name>``.
COMMANDS: tuple[str, ...] = ("demo", "synth", "train", "evaluate", "predict")


class CommandError(Exception):
    """A mistake of the user's (bad argument, existing output, unwritable folder).

    `main` prints it as one line on stderr, without a traceback, and exits with status 1.
    """


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the ``ramultimodal`` argument parser with every subcommand in `COMMANDS`."""
    parser = _Parser(
        prog="ramultimodal",
        description="Early detection of rheumatoid arthritis from hand radiographs, the "
        "EHR and patient-reported outcomes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"ramultimodal.cli._{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ramultimodal`` command; return its exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 for a user mistake reported as `CommandError`, 2 for arguments
        that argparse rejects, 130 when interrupted (Ctrl-C), 143 when terminated
        (SIGTERM); an interrupted command removes what it had half written.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and argparse's own usage errors
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 2
    with _terminate_as_interrupt(), _messages(args.command):
        try:
            return int(args.run(args))
        except CommandError as error:
            print(f"ramultimodal {args.command}: error: {error}", file=sys.stderr)
            return 1
        except _Terminated:
            print(f"ramultimodal {args.command}: terminated", file=sys.stderr)
            return 143
        except KeyboardInterrupt:
            print(f"ramultimodal {args.command}: interrupted", file=sys.stderr)
            return 130


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it cleans up as for Ctrl-C."""


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into `_Terminated` for the time of a command (main thread only).

    A job scheduler or ``kill`` sends SIGTERM; without this, Python dies at once and leaves
    half-written outputs and lock files behind.
    """

    def terminate(signum: int, frame: Any) -> None:
        raise _Terminated

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _messages(command: str) -> Iterator[None]:
    """Show the library's log messages (progress and warnings) as ``ramultimodal CMD: ...``."""
    logger = logging.getLogger("ramultimodal")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"ramultimodal {command}: %(message)s"))
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    shown = warnings.showwarning

    def show(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
        # What the library warns of (skipped rows, radiographs left out), on one line.
        print(f"ramultimodal {command}: warning: {message}", file=sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown
        logger.removeHandler(handler)
        logger.setLevel(level)
