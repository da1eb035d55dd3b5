"""The ``ramultimodal`` command line.

Each subcommand lives in a module of its own, ``ramultimodal/cli/_<name>.py``, with
``register(subparsers)``, which adds its parser and sets ``run(args) -> int`` as the
parser's default ``run``. Adding a command is adding its module and its name to
`COMMANDS`. The modules import the library inside ``run``, and the choices the library
defines only when argparse reads them (`ramultimodal.cli._common.LibraryChoices`), so that
``--version`` answers at once.

What a command prints on stdout is its result (a table, where it wrote what); messages go
to stderr, one line each, as ``ramultimodal COMMAND: [warning: |error: |debug: ]message``:
the library's `logging` records and warnings, at INFO level by default, WARNING with
``-q`` and DEBUG with ``-v``. Progress bars (tqdm, on stderr) are shown when stderr is a
terminal, unless ``-q``.

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
import platform
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from ramultimodal import __version__

__all__ = ["COMMANDS", "CommandError", "build_parser", "main"]

#: Subcommands, in the order ``--help`` lists them; each is ``ramultimodal.cli._<name>``.
COMMANDS: tuple[str, ...] = ("demo", "synth", "convert", "train", "evaluate", "predict", "joints")

logger = logging.getLogger(__name__)


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
    _add_verbosity_options(parser, default=logging.INFO)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"ramultimodal.cli._{name}").register(subparsers)
    for command_parser in subparsers.choices.values():
        # Also after the command (``ramultimodal synth OUT -q``); SUPPRESS, so that a
        # command's parser leaves what was given before the command alone.
        _add_verbosity_options(command_parser, default=argparse.SUPPRESS)
    return parser


def _add_verbosity_options(parser: argparse.ArgumentParser, *, default: Any) -> None:
    """``-q`` and ``-v``: the level of the messages shown, as ``args.log_level``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-q",
        "--quiet",
        dest="log_level",
        action="store_const",
        const=logging.WARNING,
        default=default,
        help="show only warnings and errors, and no progress bars",
    )
    group.add_argument(
        "-v",
        "--verbose",
        dest="log_level",
        action="store_const",
        const=logging.DEBUG,
        default=default,
        help="show debug messages too",
    )


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
    # What the commands pass on to the library as ``verbose``: bars only for a person to
    # watch, never into a log file or a pipe.
    args.progress = args.log_level <= logging.INFO and _is_terminal(sys.stderr)
    with _terminate_as_interrupt(), _messages(args.command, args.log_level):
        try:
            logger.debug("ramultimodal %s, Python %s", __version__, platform.python_version())
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


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # None (pythonw), or a closed stream
        return False


def _write_line(line: str) -> None:
    """Write one line on stderr, above the progress bars (tqdm clears and redraws them)."""
    from tqdm.auto import tqdm

    tqdm.write(line, file=sys.stderr)


class _CommandHandler(logging.Handler):
    """The library's log records as the command's one-line messages on stderr."""

    def __init__(self, command: str) -> None:
        super().__init__()
        self.command = command

    def format(self, record: logging.LogRecord) -> str:
        tag = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        return f"ramultimodal {self.command}: {tag}{super().format(record)}"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _write_line(self.format(record))
        except Exception:  # as logging.StreamHandler: a message never stops the command
            self.handleError(record)


@contextlib.contextmanager
def _messages(command: str, level: int) -> Iterator[None]:
    """Show the library's log records at `level` and above, and its warnings, on stderr."""
    package = logging.getLogger("ramultimodal")
    handler = _CommandHandler(command)
    previous = package.level
    package.setLevel(level)
    package.addHandler(handler)
    shown = warnings.showwarning

    def show(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
        # What the library warns of (skipped rows, radiographs left out), on one line.
        _write_line(f"ramultimodal {command}: warning: {message}")

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown
        package.removeHandler(handler)
        package.setLevel(previous)
