"""One process's share of a DistributedDataParallel fit of the CNN, when a process group is up.

`CNNImageClassifier`'s training loop (``_training.py``) asks `process_group` whether it runs
inside an initialised ``torch.distributed`` process group of two or more processes (started by
``CNNImageClassifier(n_processes=...)`` through ``_ddp_launch.py``, or by any launcher such as
``torchrun`` around a script that calls ``init_process_group`` and then ``fit``). Without one,
nothing here is used and training is exactly the single-process loop. Within one:

- the network is wrapped in `~torch.nn.parallel.DistributedDataParallel`, which averages the
  gradients of every step over the processes, so every process holds the same weights;
- each epoch's batches are sharded with a seeded `~torch.utils.data.DistributedSampler`
  (``set_epoch`` reshuffles every epoch), and each process takes ``ceil(batch_size /
  world_size)`` images a step, so one step still sees about ``batch_size`` images and the
  learning-rate schedule has the same number of steps as on one process;
- BatchNorm: on CUDA the layers become `~torch.nn.SyncBatchNorm` (statistics of the whole
  step's batch). On the CPU torch has no SyncBatchNorm, so during training each process
  normalises by its own share of the batch (a smaller batch: noisier statistics); the
  running statistics the model keeps are those of the "precise BatchNorm" pass that ends
  every fit over all training images, identical in every process;
- the random crops and augmentation are drawn from a per-process seed (``seed + rank``) so
  that two processes never cut the same crops in step;
- validation (early stopping) runs in every process on the same images and the same
  weights, so all of them stop at the same epoch and none waits for a collective that
  never comes.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

__all__ = [
    "check_n_processes",
    "ddp_module",
    "mean_over_processes",
    "process_device",
    "process_group",
    "shard_loader",
]


def check_n_processes(n_processes: Any, device: torch.device) -> int:
    """`n_processes` as an int, or ValueError saying what is allowed."""
    if isinstance(n_processes, bool) or not isinstance(n_processes, int | np.integer):
        raise ValueError(f"n_processes={n_processes!r}; expected a positive integer.")
    if n_processes < 1:
        raise ValueError(f"n_processes={n_processes}; expected a positive integer.")
    if n_processes > 1 and device.type == "cuda":
        gpus = torch.cuda.device_count()
        if n_processes > gpus:
            raise ValueError(
                f"n_processes={n_processes} but this machine has {gpus} GPU(s); DDP on "
                "CUDA runs one process per GPU. Lower n_processes or use device='cpu'."
            )
    elif n_processes > 1 and device.type != "cpu":
        raise ValueError(
            f"n_processes={n_processes} on device {device.type!r}: DDP runs on the CPU "
            "(gloo) or on CUDA GPUs (NCCL). Use n_processes=1 or one of those devices."
        )
    return int(n_processes)


def process_group() -> tuple[int, int] | None:
    """``(rank, world_size)`` inside an initialised process group of 2+ processes, else None."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return None
    world = dist.get_world_size()
    return (dist.get_rank(), world) if world > 1 else None


def process_device(device: torch.device) -> torch.device:
    """This process's own GPU (``cuda:LOCAL_RANK``) when a process group shares a machine's GPUs.

    A device without an index (``"cuda"``, what ``device="auto"`` picks) would put every
    process of the machine on GPU 0; an explicit index is the user's choice and is kept.
    """
    if device.type != "cuda" or device.index is not None or process_group() is None:
        return device
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))


def shard_loader(loader: DataLoader, seed: int) -> DataLoader:
    """`loader`'s dataset and settings, each batch cut into this process's share.

    ``drop_last`` is set, as in the single-process loop, only where the last batch would
    hold one image (BatchNorm cannot train on it); every process gets the same number of
    batches (the sampler pads the last shard), so their collectives stay in step.
    """
    from torch.utils.data import DistributedSampler

    rank, world = process_group()
    # Per process, the share of one step's images; the steps per epoch stay about as many.
    per_process = max(1, math.ceil(int(loader.batch_size) / world))
    sampler = DistributedSampler(
        loader.dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed
    )
    share = len(sampler)
    per_process = min(per_process, share)
    torch.manual_seed(seed + rank)  # crops and augmentation: a stream of its own per process
    return DataLoader(
        loader.dataset,
        batch_size=per_process,
        sampler=sampler,
        num_workers=loader.num_workers,
        drop_last=share % per_process == 1 and share > 1,
        pin_memory=loader.pin_memory,
        persistent_workers=loader.persistent_workers,
    )


def ddp_module(module: nn.Module, device: torch.device) -> nn.Module:
    """`module` wrapped in DistributedDataParallel (SyncBatchNorm first, on CUDA).

    The wrapper shares `module`'s parameters; the estimator keeps the bare `module` as
    ``module_``, whose state dict has no ``module.`` prefix.
    """
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        # Replaces the BatchNorm layers of `module` in place (same parameters and buffers),
        # so the statistics of a step are those of every process's share together.
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
        return DistributedDataParallel(module, device_ids=[device.index], output_device=device)
    return DistributedDataParallel(module)


def mean_over_processes(value: float) -> float:
    """The mean of `value` over the processes of the group (`value` itself outside one)."""
    import torch.distributed as dist

    if process_group() is None:
        return value
    # gloo and NCCL both reduce a tensor on the group's device.
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    total = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return float(total) / dist.get_world_size()
