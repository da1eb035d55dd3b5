"""What a path is, told without opening it: a regular file, missing, or something else."""

from __future__ import annotations

import stat
from pathlib import Path

__all__ = ["file_kind"]


def file_kind(path: Path | None) -> str:
    """``"file"``, ``"missing"`` or ``"special"``, without opening it (a FIFO would block).

    ``"special"`` is a folder, a device, a pipe, a name with a NUL byte or a loop of links:
    nothing a reader can read. ``None`` (an empty path cell) is ``"file"``: the caller
    reports the empty cell itself.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> file_kind(folder), file_kind(folder / "absent.csv"), file_kind(Path("a\\0b"))
    ('special', 'missing', 'special')
    """
    if path is None:
        return "file"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError):
        return "special"
    return "file" if stat.S_ISREG(mode) else "special"
