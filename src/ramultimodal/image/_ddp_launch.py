"""``CNNImageClassifier(n_processes=N).fit``: N processes of this machine train one CNN with DDP.

The processes are started by torch's own elastic launcher (`elastic_launch`, the Python face
of ``torchrun``), with a rendezvous on a free port of localhost, the gloo backend on the CPU
and NCCL on CUDA (one GPU per process, by ``LOCAL_RANK``). Each process builds the same
estimator from its plain parameters, joins the process group and calls the ordinary ``fit``,
whose training loop then trains its share of every batch (``_ddp_step.py``); process 0
saves the fitted model as ``CNNImageClassifier.save`` does (safetensors and JSON) in a
temporary folder, from which this process takes the weights. Only plain data crosses
between processes: parameters, labels, image paths, and images given as arrays written to a
safetensors file first (the launcher pickles the entry point's arguments, so they are kept
small). Every process decodes the images itself, from their paths (a shared folder on a
cluster) or from that file.

A process that fails ends the others (the launcher's monitor) and ``fit`` raises one error
saying which process failed and why: an `InputError` when the process's error was one
(an unreadable radiograph: ``ImageReadError``), else a `ValueError`, `TypeError` or
`OSError` when it was one of those, a `RuntimeError` otherwise.
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.distributed.elastic.multiprocessing.errors import record

from ramultimodal._errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from ramultimodal.image._classifier import CNNImageClassifier

__all__ = ["fit_in_processes", "launch"]

logger = logging.getLogger(__name__)

# The fitted state a process-0 fit hands back (the rest is the estimator's parameters).
_FITTED = ("classes_", "module_", "history_", "best_epoch_", "n_embedding_features_", "device_")
# Built-in errors of bad input keep their type across the process boundary.
_INPUT_ERRORS = (ValueError, TypeError, OSError)
# How long a process waits in a collective for the others before giving up (a process that
# died is noticed sooner: the launcher's monitor ends the group within a second).
_COLLECTIVE_TIMEOUT = timedelta(minutes=30)


def fit_in_processes(
    model: CNNImageClassifier, patients: list[list[Any]], y: np.ndarray
) -> CNNImageClassifier:
    """Fit `model` on `n_processes` processes of this machine; returns `model`, fitted."""
    from ramultimodal.image._cnn_files import read_cnn_folder

    n_processes = int(model.n_processes)
    device = model._resolve_device()
    backend = "nccl" if device.type == "cuda" else "gloo"
    params = model.get_params()
    if not isinstance(params["random_state"], int | type(None)):
        # A RandomState cannot be shared: draw the seed every process will use from it.
        rs = params["random_state"]
        params["random_state"] = int(rs.randint(np.iinfo(np.int32).max))
    with tempfile.TemporaryDirectory(prefix="ramultimodal-ddp-") as folder:
        folder = Path(folder)
        layout = _write_arrays(patients, folder / "images.safetensors")
        out = folder / "model"
        # This process's threads shared out (N processes of all of them would fight).
        threads = max(1, torch.get_num_threads() // n_processes)
        args = (params, layout, os.fspath(folder), list(y), backend, threads)
        launch(_fit_share, args, n_processes, errors=folder)
        fitted = read_cnn_folder(type(model), out)
        fitted.history_ = json.loads((folder / "history.json").read_text())
    for name in _FITTED:
        setattr(model, name, getattr(fitted, name))
    return model


def launch(
    entrypoint: Any, args: tuple, n_processes: int, errors: Path | None = None
) -> dict[int, Any]:
    """Run ``entrypoint(*args)`` in `n_processes` processes with `elastic_launch`.

    The processes find each other at a free port of localhost (the c10d rendezvous, as
    ``torchrun --standalone``); none is restarted. Returns each rank's return value, or
    raises one error naming the first process that failed, of its type where it was bad
    input and the process wrote ``errors/error-RANK.json`` (`_fit_share` does).
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=n_processes,
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        run_id=f"ramultimodal-{uuid.uuid4().hex}",
        max_restarts=0,
        monitor_interval=0.1,
        start_method="spawn",
    )
    logger.info("training on %d processes (torch elastic_launch)", n_processes)
    # The launcher logs every failure with its traceback at ERROR; the one error raised
    # below says it once, so its loggers are quietened while it runs.
    quiet = [logging.getLogger(name) for name in ("torch.distributed", "torch.multiprocessing")]
    levels = [log.level for log in quiet]
    for log in quiet:
        log.setLevel(logging.CRITICAL)
    try:
        return elastic_launch(config, entrypoint)(*args)
    except ChildFailedError as failure:
        raise _one_error(failure, n_processes, errors) from None
    finally:
        for log, level in zip(quiet, levels, strict=True):
            log.setLevel(level)


def _one_error(failure: Any, n_processes: int, errors: Path | None) -> Exception:
    """The first failed process's error, as one exception with one line of message."""
    rank, process = failure.get_first_failure()
    message = process.message
    if isinstance(message, dict):
        logger.debug("process %d of %d:\n%s", rank, n_processes, message.get("extraInfo"))
        message = message.get("message", "")
    message = str(message) or f"exit code {process.exitcode} (killed, or out of memory?)"
    error: type[Exception] = RuntimeError
    written = errors / f"error-{rank}.json" if errors is not None else None
    if written is not None and written.is_file():
        kind = json.loads(written.read_text())
        message = f"{kind['name']}: {kind['message']}"
        found = getattr(builtins, kind["base"], None)
        if kind["input"]:
            # An input its user can fix (an unreadable radiograph...): the ``ramultimodal``
            # command prints it on one line, as it would from one process.
            error = InputError
        elif isinstance(found, type) and issubclass(found, _INPUT_ERRORS):
            error = found
    else:
        # No record of the type (a process not of `_fit_share`): go by the launcher's
        # "Type: message", for the built-in types of bad input.
        name, _, text = message.partition(": ")
        found = getattr(builtins, name, None)
        if isinstance(found, type) and issubclass(found, _INPUT_ERRORS):
            error, message = found, text
    return error(f"CNN training failed in process {rank} of {n_processes}: {message}")


def _write_arrays(patients: list[list[Any]], path: Path) -> list[list[str | int]]:
    """Each patient's images as paths (str) or indices into `path` (images given as arrays)."""
    from safetensors.numpy import save_file

    arrays: dict[str, np.ndarray] = {}
    layout: list[list[str | int]] = []
    for images in patients:
        row: list[str | int] = []
        for image in images:
            if isinstance(image, np.ndarray):
                row.append(len(arrays))
                arrays[str(len(arrays))] = np.ascontiguousarray(image)
            else:
                row.append(os.fspath(image))
        layout.append(row)
    if arrays:
        save_file(arrays, path)
    return layout


def _read_patients(layout: list[list[str | int]], path: Path) -> list[list[Any]]:
    if not any(isinstance(image, int) for row in layout for image in row):
        return [list(row) for row in layout]
    from safetensors.numpy import load_file

    arrays = load_file(path)
    return [[arrays[str(im)] if isinstance(im, int) else im for im in row] for row in layout]


@record
def _fit_share(
    params: dict[str, Any], layout: list, folder: str, y: list, backend: str, threads: int
) -> None:  # pragma: no cover - runs in the launched processes (coverage does not follow)
    """One launched process: join the group, fit the estimator on its share, rank 0 saves."""
    import torch.distributed as dist

    from ramultimodal.image._classifier import CNNImageClassifier

    local_rank = int(os.environ["LOCAL_RANK"])
    world = int(os.environ["WORLD_SIZE"])
    torch.set_num_threads(threads)
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend, timeout=_COLLECTIVE_TIMEOUT)
    rank = dist.get_rank()
    try:
        patients = _read_patients(layout, Path(folder) / "images.safetensors")
        model = CNNImageClassifier(**params)
        if rank:
            model.set_params(verbose=0)  # one progress bar, process 0's
        model.fit(patients, np.asarray(y))
        if rank == 0:
            model.save(Path(folder) / "model")
            # save() leaves out the epochs' wall-clock seconds; the fitted model keeps them.
            (Path(folder) / "history.json").write_text(json.dumps(model.history_))
        logger.debug("process %d of %d done", rank, world)
    except Exception as error:
        # Its type, for the launching process to raise the same one (the launcher's record
        # keeps only the message).
        kind = {
            "name": type(error).__qualname__,
            "input": isinstance(error, InputError),
            # The nearest built-in type: what the launching process raises (it rebuilds no
            # class of the project from a file's word).
            "base": next(c.__name__ for c in type(error).__mro__ if c.__module__ == "builtins"),
            "message": str(error),
        }
        text = json.dumps(kind)
        (Path(folder) / f"error-{rank}.json").write_text(text)
        raise
    finally:
        dist.destroy_process_group()
