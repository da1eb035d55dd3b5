"""Where the work runs: in this process, or on the Dask cluster the user points at."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ramultimodal._errors import InputError

if TYPE_CHECKING:  # dask is imported on first use
    from dask.distributed import Client

__all__ = [
    "SCHEDULER_ENV",
    "ClusterError",
    "active_client",
    "dask_client",
    "row_blocks",
    "scheduler_address",
    "workers",
]

logger = logging.getLogger(__name__)

#: The environment variable that names a scheduler when ``--scheduler`` is not given.
SCHEDULER_ENV = "RAMULTIMODAL_SCHEDULER"


class ClusterError(InputError):
    """The Dask scheduler that was named cannot be reached, or Dask is not installed."""


def scheduler_address(scheduler: str | None = None) -> str | None:
    """The scheduler to use: `scheduler` when given, else ``$RAMULTIMODAL_SCHEDULER``, else None.

    Parameters
    ----------
    scheduler : str, optional
        An address such as ``"tcp://10.0.0.5:8786"``; ``""`` counts as not given.

    Returns
    -------
    str or None
        None means: run in this process.

    Examples
    --------
    >>> scheduler_address("tcp://127.0.0.1:8786")
    'tcp://127.0.0.1:8786'
    >>> import os; os.environ.pop("RAMULTIMODAL_SCHEDULER", None) and None
    >>> scheduler_address() is None
    True
    """
    address = scheduler or os.environ.get(SCHEDULER_ENV, "").strip()
    return address or None


def active_client() -> Client | None:
    """The `dask.distributed.Client` this process already uses, if any (one made in Python).

    Returns None when dask.distributed is not installed or no client was made, without
    importing it in the first case, so the in-process path never pays for Dask.

    Examples
    --------
    >>> active_client() is None
    True
    """
    import sys

    if "distributed" not in sys.modules:
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:  # "No clients found"
        return None


def workers(client: Client) -> list[str]:
    """The addresses of the client's workers, sorted (empty while none has joined)."""
    return sorted(client.scheduler_info().get("workers", {}))


def row_blocks(n_rows: int, n_blocks: int) -> list[Any]:
    """Row numbers 0..n_rows-1 cut into at most `n_blocks` consecutive non-empty blocks.

    Examples
    --------
    >>> [block.tolist() for block in row_blocks(5, 2)]
    [[0, 1, 2], [3, 4]]
    >>> len(row_blocks(1, 4))
    1
    """
    import numpy as np

    blocks = np.array_split(np.arange(n_rows), max(n_blocks, 1))
    return [rows for rows in blocks if len(rows)]


@contextmanager
def dask_client(scheduler: str | Client | None = None, *, timeout: float = 10) -> Iterator[Any]:
    """A client for the work inside the ``with`` block, or None to run it in this process.

    Parameters
    ----------
    scheduler : str, Client or None
        A scheduler address (``"tcp://HOST:8786"``), a `Client` (used as it is, and left
        open), or None: then ``$RAMULTIMODAL_SCHEDULER``, then a client already made in
        this process, else None (in-process).
    timeout : float, default=10
        Seconds to wait for the scheduler to answer.

    Yields
    ------
    Client or None
        A client connected to the cluster; one this function opened is closed on exit.

    Raises
    ------
    ClusterError
        When the scheduler does not answer, or dask.distributed is not installed. The
        message names the address and what to do, and holds no credential.

    Examples
    --------
    >>> with dask_client(None) as client:
    ...     print(client)
    None
    """
    if scheduler is not None and not isinstance(scheduler, str):
        yield scheduler
        return
    address = scheduler_address(scheduler)
    if address is None:
        yield active_client()
        return
    try:
        from distributed import Client
    except ImportError as error:  # pragma: no cover - a declared dependency
        raise ClusterError(
            f"--scheduler {address} needs dask.distributed: python -m pip install distributed"
        ) from error
    try:
        client = Client(address, timeout=timeout, set_as_default=True)
    except (OSError, TimeoutError) as error:
        raise ClusterError(
            f"could not reach the Dask scheduler at {address} within {timeout:g} s ({error}). "
            f"Start one (`dask scheduler` and `dask worker {address}`), fix --scheduler or "
            f"${SCHEDULER_ENV}, or leave both out to run in this process."
        ) from None
    logger.info(
        "running on the Dask cluster at %s (%d workers)",
        address,
        len(workers(client)),
    )
    try:
        yield client
    finally:
        client.close()
