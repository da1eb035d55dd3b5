"""One base for every error a user can fix, and the command line catches it."""

from __future__ import annotations

import pytest

import ramultimodal
from ramultimodal.cli import CommandError
from ramultimodal.cli._common import user_mistakes
from ramultimodal.fusion import ModelFolderError
from ramultimodal.io import CSVReadError, DatasetError, FHIRReadError, ImageReadError
from ramultimodal.models import ConfigError

ERRORS = (CSVReadError, DatasetError, FHIRReadError, ImageReadError, ModelFolderError, ConfigError)


@pytest.mark.parametrize("error", ERRORS)
def test_every_input_error_has_the_one_base(error):
    assert issubclass(error, ramultimodal.InputError)
    assert issubclass(error, ValueError)  # what callers caught before the base existed


# FHIRReadError and ImageReadError are built from their problems, not from a message.
@pytest.mark.parametrize(
    "error", [ramultimodal.InputError, CSVReadError, DatasetError, ModelFolderError, ConfigError]
)
def test_the_command_line_reports_each_on_one_line(error):
    with pytest.raises(CommandError, match=r"^events.csv, line 3: a\s+b$"):
        with user_mistakes():
            raise error("events.csv, line 3: a\n b")


def test_a_bug_is_not_taken_for_a_mistake():
    with pytest.raises(KeyError), user_mistakes():
        raise KeyError("a bug")
