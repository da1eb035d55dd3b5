"""Write an output safely: complete or not at all, one writer, replaced only if ours.

Every folder the library writes (a saved model, a report, a cohort, the demo's output) gets
a marker file, ``.ramultimodal``, that says which library wrote it, what it is, and which
files it wrote. Replacing an existing folder (``overwrite=True``, the CLI's ``--force``) is
allowed only when that marker says it is the same kind of output and the folder holds
nothing else, so ``--force`` can never delete a user's folder, nor a file of theirs put
into one of ours.

A folder is written under a temporary name beside its destination and renamed into place
at the end, so an interrupted run never leaves a folder that looks complete. While it is
being written, a lock on a file beside it (``.<name>.lock``) keeps a second writer out.
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

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: the lock file's existence is the lock
    fcntl = None

__all__ = [
    "MARKER",
    "OutputError",
    "atomic_file",
    "check_output",
    "mark_output",
    "output_lock",
    "safe_file_stem",
    "staged_file",
    "staged_folder",
]

#: Name of the file that marks a folder as written by ramultimodal.
MARKER = ".ramultimodal"

# Read once: os.umask can only be read by setting it, which is not thread-safe.
_UMASK = os.umask(0)
os.umask(_UMASK)

# The locks this process holds, by path: the thread that holds each and how many times, so
# that a workflow that locks its output may call a writer that locks it again
# (train_model -> save_model), while another thread is refused.
_held: dict[Path, list] = {}
_held_guard = threading.Lock()


class OutputError(FileExistsError):
    """An output that may not be written: it exists, is not ours, or is being written."""


def _marker(directory: Path) -> dict | None:
    """The folder's marker, when it has a readable one written by ramultimodal."""
    try:
        marker = json.loads((directory / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("written_by") != "ramultimodal":
        return None
    return marker


def _written_files(folder: Path) -> list[str]:
    """The files under `folder`, relative and sorted, its own marker aside."""
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if not path.is_dir() and path.relative_to(folder).as_posix() != MARKER
    )


def check_output(directory: str | os.PathLike[str], kind: str, *, overwrite: bool) -> bool:
    """Check that `directory` may be written as a `kind` output; return whether it exists.

    A missing folder and an empty folder may always be written. An existing one only with
    `overwrite`, only if its marker says ramultimodal wrote it as the same `kind`, and only
    if it holds no file but those the marker lists.

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
    marker = _marker(directory)
    if marker is None:
        raise OutputError(
            f"{directory} exists and was not written by ramultimodal (it has no {MARKER} "
            "marker), so --force will not replace it; choose another folder, or remove it "
            "yourself if you are sure."
        )
    if marker.get("kind") != kind:
        raise OutputError(
            f"{directory} holds a ramultimodal {marker.get('kind')}, not a {kind}, so --force "
            "will not replace it; choose another folder."
        )
    listed = marker.get("files")
    if isinstance(listed, list):
        others = sorted(set(_written_files(directory)) - set(listed))
        if others:
            raise OutputError(
                f"{directory} holds {len(others)} file(s) that ramultimodal did not write "
                f"(such as {others[0]!r}), so --force will not replace it; move them out, or "
                "choose another folder."
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


def _busy(directory: Path, lock: Path) -> OutputError:
    try:
        holder = f" (pid {int(lock.read_text().strip())}"
    except (OSError, ValueError):
        holder = " ("
    return OutputError(
        f"{directory} is being written by another ramultimodal process{holder}, lock file "
        f"{lock}); wait for it to finish, or choose another output."
    )


def _acquire(directory: Path, lock: Path) -> int:
    """Lock `lock` for this process; return its descriptor. Raise OutputError when held."""
    while True:
        if fcntl is None:  # pragma: no cover
            try:
                return os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(lock.read_text().strip())
                except (OSError, ValueError):
                    pid = 0
                if pid and _pid_alive(pid):
                    raise _busy(directory, lock) from None
                lock.unlink(missing_ok=True)  # left by a process that has ended
                continue
        descriptor = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            raise _busy(directory, lock) from None
        # The holder before us may have removed the file after we opened it: then our lock
        # is on a file no one else will see, and we start again.
        try:
            same = os.path.samestat(os.fstat(descriptor), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            return descriptor
        os.close(descriptor)


@contextlib.contextmanager
def output_lock(directory: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the lock of an output for the time of the block; a second writer fails clearly.

    The lock is taken on a file ``.<name>.lock`` beside `directory` (with ``flock``, so a
    process that dies releases it), which holds the writer's process id for the message.
    The thread that holds a lock may take it again.

    Raises
    ------
    OutputError
        When another process, or another thread of this one, is writing `directory`.
    """
    directory = Path(directory).resolve()
    me = threading.get_ident()
    with _held_guard:
        holder = _held.get(directory)
        if holder is not None and holder[0] != me:
            raise OutputError(f"{directory} is being written by another thread of this process.")
        if holder is not None:
            holder[1] += 1
    if holder is not None:
        try:
            yield
        finally:
            with _held_guard:
                holder[1] -= 1
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    lock = directory.parent / f".{directory.name}.lock"
    descriptor = _acquire(directory, lock)
    os.ftruncate(descriptor, 0)
    os.write(descriptor, str(os.getpid()).encode())
    with _held_guard:
        _held[directory] = [me, 1]
    try:
        yield
    finally:
        with _held_guard:
            del _held[directory]
        lock.unlink(missing_ok=True)  # removed while still locked: see _acquire
        os.close(descriptor)


def mark_output(folder: Path, kind: str) -> None:
    """Write the marker that says ramultimodal wrote `folder` as a `kind` output, and the
    files it holds (what a later ``--force`` may replace)."""
    from ramultimodal import __version__

    marker = {"written_by": "ramultimodal", "version": __version__, "kind": kind}
    marker["files"] = _written_files(folder)
    (folder / MARKER).write_text(json.dumps(marker, indent=1) + "\n")


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
        aside: Path | None = None
        try:
            yield staging
            mark_output(staging, kind)
            staging.chmod(0o777 & ~_UMASK)
            if directory.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
                aside = old / directory.name
                directory.replace(aside)
            staging.rename(directory)
            if aside is not None:
                shutil.rmtree(aside.parent)
        except BaseException:
            if aside is not None and aside.exists() and not directory.exists():
                aside.replace(directory)  # interrupted between the two renames
                shutil.rmtree(aside.parent, ignore_errors=True)
            shutil.rmtree(staging, ignore_errors=True)
            raise


@contextlib.contextmanager
def staged_file(
    path: str | os.PathLike[str], *, header: str, overwrite: bool = False
) -> Iterator[Path]:
    """A temporary sibling of the file `path` to write; it becomes `path` on success.

    An existing `path` is replaced only with `overwrite`, and only when it is a regular
    file whose first line is `header` or begins with `header` and a comma (the columns the
    caller always writes first): a file of the user's is never replaced. The file is
    locked like a folder (`output_lock`).

    Parameters
    ----------
    path : path-like
        The output file.
    header : str
        How the caller's files begin (the first columns of a CSV's header row).
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
            first = ""
            if path.is_file() and not path.is_symlink():  # never open a FIFO or a device
                with path.open(encoding="utf-8", errors="replace") as handle:
                    first = handle.readline(len(header) + 2).rstrip("\r\n")
            if first != header and not first.startswith(f"{header},"):
                raise OutputError(
                    f"{path} exists and is not a file ramultimodal wrote (it does not begin "
                    f"with {header!r}), so --force will not replace it; choose another file."
                )
        with atomic_file(path) as staging:
            yield staging


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary sibling of `path` to write; it replaces `path` whole on success.

    A reader never sees half a file, and a failure leaves no temporary file behind. Unlike
    `staged_file`, it neither locks nor checks what it replaces: for files the library
    alone names (a cache entry, a figure inside a report being written).

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "figure.txt"
    >>> with atomic_file(out) as partial:
    ...     _ = partial.write_text("whole")
    >>> out.read_text(), sorted(p.name for p in out.parent.iterdir())
    ('whole', ['figure.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.partial-", dir=path.parent)
    os.close(descriptor)
    staging = Path(name)
    try:
        yield staging
        staging.chmod(0o666 & ~_UMASK)
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def safe_file_stem(name: str, what: str) -> str:
    """`name` as the stem of a file the library writes, or a ValueError naming `what` it is.

    An id becomes a file name only when it cannot leave its folder or hide in it: not
    empty, no leading dot, no path separator or NUL.

    Examples
    --------
    >>> safe_file_stem("patient-0001", "A subject_id")
    'patient-0001'
    >>> try:
    ...     safe_file_stem("../etc", "A subject_id")
    ... except ValueError as error:
    ...     print(str(error)[:42])
    A subject_id cannot be used as a file name
    """
    if not name or name.startswith(".") or any(c in name for c in "/\\\0"):
        raise ValueError(
            f"{what} cannot be used as a file name (empty, leading dot, or a path separator); "
            "use UUID-like ids."
        )
    return name
