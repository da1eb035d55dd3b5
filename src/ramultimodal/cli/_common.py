"""What the subcommands share: argument types and turning user mistakes into one line."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager

from ramultimodal._text import one_line
from ramultimodal.cli import CommandError


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
