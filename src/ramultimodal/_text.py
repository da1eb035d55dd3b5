"""Messages on one line: what the CLI prints and what the readers and loaders raise."""

from __future__ import annotations

__all__ = ["one_line"]


def one_line(error: BaseException | str, limit: int | None = None) -> str:
    """An exception's message (or a text) on one line, cut to `limit` characters.

    An OSError with a file name reads ``file: reason``.

    Examples
    --------
    >>> one_line(ValueError("two\\n  lines"))
    'two lines'
    >>> one_line(FileNotFoundError(2, "No such file or directory", "x.csv"))
    'x.csv: No such file or directory'
    >>> one_line("a long message", 6)
    'a long'
    """
    if isinstance(error, OSError) and error.strerror and error.filename:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = " ".join(str(error).split())
    return text if limit is None else text[:limit]
