"""The one base of every error about an input that its user can fix."""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """An input that cannot be used as given: a file, a table, a model folder, an option.

    Its message names the file, line, resource or option and says what to do. Each reader
    and loader raises its own subclass (`ramultimodal.io.FHIRReadError`, `CSVReadError`,
    `ImageReadError`, `DatasetError`, `ramultimodal.fusion.ModelFolderError`,
    `ramultimodal.models.ConfigError`); catch this one to handle them all. The
    ``ramultimodal`` command prints it on one line and exits with 1; any other exception
    is a bug.

    Examples
    --------
    >>> import ramultimodal
    >>> from ramultimodal.io import DatasetError
    >>> issubclass(DatasetError, ramultimodal.InputError)
    True
    """
