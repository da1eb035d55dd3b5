"""Write an output folder safely: complete or not at all, one writer, replaced only if ours.

Every folder the library writes (a saved model, a report, a cohort, the demo's output) gets
a marker file, ``.ramultimodal``, that says which library wrote it and what it is. Replacing
an existing folder (``overwrite=True``, the CLI's ``--force``) is allowed only when that
marker says it is the same kind of output, so ``--force`` can never delete a user's folder
of their own.

A folder is written under a temporary name beside its destination and renamed into place
at the end, so an interrupted run never leaves a folder that looks complete. While it is
being written, a lock file beside it (``.<name>.lock``) keeps a second writer out.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "MARKER",
    "OutputError",
    "check_output",
    "mark_output",
    "output_lock",
    "staged_file",
    "staged_folder",
]

#: Name of the file that marks a folder as written by ramultimodal.
MARKER = ".ramultimodal"

# Locks this process holds, so that a workflow that locks its output can call a writer
# that locks it again (train_model -> save_model).
_held: dict[Path, int] = {}
_held_guard = threading.Lock()


class OutputError(FileExistsError):
    """An output that may not be written: it exists, is not ours, or is being written."""


def _marker_kind(directory: Path) -> str | None:
    """The kind its marker gives a folder, or None when it has no readable marker."""
    try:
        marker = json.loads((directory / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("written_by") != "ramultimodal":
        return None
    kind = marker.get("kind")
    return kind if isinstance(kind, str) else None


def check_output(directory: str | os.PathLike[str], kind: str, *, overwrite: bool) -> bool:
    """Check that `directory` may be written as a `kind` output; return whether it exists.

    A missing folder and an empty folder may always be written. An existing one only with
    `overwrite`, and only if its marker says ramultimodal wrote it as the same `kind`.

    Parameters
    ----------
    directory : path-like
        The output folder.
    kind : str
        What is written there: ``"model"``, ``"report"``, ``"cohort"``, ``"demo"``...
    overwrite : bool
        Whether the caller asked to replace an existing output (``--force``).

    Returns
    -------
    bool
        True when an existing output will be replaced.

    Raises
    ------
    OutputError
        When `directory` may not be written, with the reason and what to do.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> mine = pathlib.Path(tempfile.mkdtemp()) / "notes"
    >>> _ = mine.mkdir(), (mine / "todo.txt").write_text("mine")
    >>> check_output(mine, "report", overwrite=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ramultimodal._staging.OutputError: ...notes exists and was not written by ramultimodal ...
    """
    directory = Path(directory)
    if not directory.exists() and not directory.is_symlink():
        return False
    if directory.is_symlink() or not directory.is_dir():
        raise OutputError(f"{directory} exists and is not a folder; choose another output.")
    if not any(directory.iterdir()):
        return False
    if not overwrite:
        raise OutputError(f"{directory} already exists; choose another folder or use --force.")
    found = _marker_kind(directory)
    if found is None:
        raise OutputError(
            f"{directory} exists and was not written by ramultimodal (it has no {MARKER} "
            "marker), so --force will not replace it; choose another folder, or remove it "
            "yourself if you are sure."
        )
    if found != kind:
        raise OutputError(
            f"{directory} holds a ramultimodal {found}, not a {kind}, so --force will not "
            "replace it; choose another folder."
        )
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@contextlib.contextmanager
def output_lock(directory: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the lock of an output for the time of the block; a second writer fails clearly.

    The lock is a file ``.<name>.lock`` beside `directory`, created atomically, holding the
    writer's process id. A lock left by a process that no longer runs is taken over. The
    same process may take a lock it holds again.

    Raises
    ------
    OutputError
        When another running process is writing `directory`.
    """
    directory = Path(directory).absolute()
    with _held_guard:
        if directory in _held:
            _held[directory] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _held_guard:
                _held[directory] -= 1
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    lock = directory.parent / f".{directory.name}.lock"
    for _ in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and pid != os.getpid() and _pid_alive(pid):
                raise OutputError(
                    f"{directory} is being written by another ramultimodal process (pid "
                    f"{pid}, lock file {lock}); wait for it to finish, or choose another "
                    "output."
                ) from None
            lock.unlink(missing_ok=True)  # left by a process that has ended
            continue
        with os.fdopen(descriptor, "w") as handle:
            handle.write(str(os.getpid()))
        break
    else:  # pragma: no cover - two takeovers raced; the other one won
        raise OutputError(f"{directory} is being written by another ramultimodal process.")
    with _held_guard:
        _held[directory] = 1
    try:
        yield
    finally:
        with _held_guard:
            del _held[directory]
        lock.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def mark_output(folder: Path, kind: str) -> None:
    """Write the marker that says ramultimodal wrote `folder` as a `kind` output."""
    from ramultimodal import __version__

    marker = {"written_by": "ramultimodal", "version": __version__, "kind": kind}
    (folder / MARKER).write_text(json.dumps(marker) + "\n")


@contextlib.contextmanager
def staged_folder(
    directory: str | os.PathLike[str], kind: str, *, overwrite: bool = False
) -> Iterator[Path]:
    """An empty sibling of `directory` to write into; it becomes `directory` on success.

    `directory` is checked first (`check_output`) and locked (`output_lock`) for the time
    of the block. If the block raises or is interrupted, the sibling is deleted and
    `directory` is left as it was, so a half-written folder never looks complete. An
    existing `directory` is renamed aside, the new folder renamed in, and only then is the
    old one deleted. The new folder gets the marker of `kind` and the permissions of a
    folder made with ``mkdir`` (not the owner-only ones of a temporary folder).

    Parameters
    ----------
    directory : path-like
        The output folder.
    kind : str
        What the folder holds (see `check_output`).
    overwrite : bool, default False
        Replace an existing output of the same `kind`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "report"
    >>> with staged_folder(target, "report") as folder:
    ...     _ = (folder / "done.txt").write_text("ok")
    >>> sorted(path.name for path in target.iterdir())
    ['.ramultimodal', 'done.txt']
    """
    directory = Path(directory)
    with output_lock(directory):
        check_output(directory, kind, overwrite=overwrite)
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.partial-", dir=directory.parent))
        try:
            yield staging
            mark_output(staging, kind)
            staging.chmod(0o777 & ~_umask())
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


@contextlib.contextmanager
def staged_file(
    path: str | os.PathLike[str], *, header: str, overwrite: bool = False
) -> Iterator[Path]:
    """A temporary sibling of the file `path` to write; it becomes `path` on success.

    An existing `path` is replaced only with `overwrite`, and only when its first line
    starts with `header`, the first line of the files the caller writes: a file of the
    user's is never replaced. The file is locked like a folder (`output_lock`).

    Parameters
    ----------
    path : path-like
        The output file.
    header : str
        How the caller's files begin (a CSV's header row).
    overwrite : bool, default False
        Replace an existing file that begins with `header`.

    Raises
    ------
    OutputError
        When `path` may not be written, with the reason.
    """
    path = Path(path)
    with output_lock(path):
        if path.exists() or path.is_symlink():
            if not overwrite:
                raise OutputError(f"{path} already exists; choose another file or use --force.")
            try:
                with path.open(encoding="utf-8", errors="replace") as handle:
                    first = handle.readline()
            except OSError:
                first = ""
            if path.is_symlink() or not path.is_file() or not first.startswith(header):
                raise OutputError(
                    f"{path} exists and is not a file ramultimodal wrote (it does not begin "
                    f"with {header!r}), so --force will not replace it; choose another file."
                )
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.partial-", dir=path.parent)
        os.close(descriptor)
        staging = Path(name)
        try:
            yield staging
            staging.chmod(0o666 & ~_umask())
            os.replace(staging, path)
        except BaseException:
            staging.unlink(missing_ok=True)
            raise
