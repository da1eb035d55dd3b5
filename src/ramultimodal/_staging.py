"""Write a folder under a temporary name, and move it into place only once it is complete."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["staged_folder"]


@contextlib.contextmanager
def staged_folder(directory: str | os.PathLike[str]) -> Iterator[Path]:
    """An empty sibling of `directory` to write into; it becomes `directory` on success.

    If the block raises (or is interrupted), the sibling is deleted and `directory` is left
    as it was, so a half-written folder never looks complete. An existing `directory`,
    which the caller has decided may be replaced, is renamed aside, the new folder renamed
    in, and only then is the old one deleted.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "report"
    >>> with staged_folder(target) as folder:
    ...     _ = (folder / "done.txt").write_text("ok")
    >>> sorted(path.name for path in target.iterdir())
    ['done.txt']
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.partial-", dir=directory.parent))
    try:
        yield staging
        if directory.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
            directory.replace(old / directory.name)
            staging.rename(directory)
            shutil.rmtree(old)
        else:
            staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
