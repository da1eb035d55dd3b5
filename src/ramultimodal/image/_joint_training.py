"""The training loop the joint models' three networks share.

The coarse heatmaps (`JointLocator`), the local refinement (`RefineNet`) and the grader
(`JointScoreTransformer`) all train alike: AdamW under a one-cycle learning rate, shuffled
mini-batches, the loss of every epoch kept. What differs is how a batch becomes a loss
(each model's augmentation and targets) and, for the refinement, the crops drawn afresh
before every epoch.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

__all__ = ["train_epochs"]

logger = logging.getLogger("ramultimodal.image.joints")


def train_epochs(
    net: nn.Module,
    n: int,
    batch_loss: Callable[[np.ndarray], torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    rng: np.random.Generator,
    name: str,
    before_epoch: Callable[[], None] | None = None,
    verbose: int = 0,
) -> list[dict]:
    """Train `net` on `n` examples for `epochs`; returns each epoch's mean loss and time.

    Parameters
    ----------
    net : torch.nn.Module
    n : int
        Number of training examples; `batch_loss` gets their indices a batch at a time.
    batch_loss : callable
        Indices ``(b,)`` -> the batch's mean loss (a scalar tensor).
    epochs, batch_size : int
    learning_rate : float
        The one-cycle schedule's peak (AdamW, weight decay 1e-4).
    rng : numpy.random.Generator
        Shuffles every epoch.
    name : str
        What is trained, for the log.
    before_epoch : callable, optional
        Called before every epoch (fresh augmentations).
    verbose : int, default 0
        Log every epoch's loss when positive.

    Returns
    -------
    list of dict
        ``epoch``, ``loss`` and ``seconds`` of every epoch; `net` is left in eval mode.

    Examples
    --------
    >>> net = nn.Linear(1, 1)
    >>> x = torch.linspace(0, 1, 8)[:, None]
    >>> history = train_epochs(net, 8, lambda i: ((net(x[i]) - 2 * x[i]) ** 2).mean(),
    ...                        epochs=2, batch_size=4, learning_rate=0.1,
    ...                        rng=np.random.default_rng(0), name="line")
    >>> [record["epoch"] for record in history]
    [1, 2]
    """
    history: list[dict] = []
    if n < 1 or epochs < 1:
        net.eval()
        return history
    batch = max(1, min(int(batch_size), n))
    steps = max(1, int(epochs) * math.ceil(n / batch))
    optimiser = torch.optim.AdamW(net.parameters(), lr=float(learning_rate), weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=float(learning_rate), total_steps=steps, pct_start=0.2
    )
    net.train()
    for epoch in range(int(epochs)):
        started, total = time.perf_counter(), 0.0
        if before_epoch is not None:
            before_epoch()
        order = rng.permutation(n)
        for start in range(0, n, batch):
            index = order[start : start + batch]
            loss = batch_loss(index)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(index)
        record = {"epoch": epoch + 1, "loss": total / n, "seconds": time.perf_counter() - started}
        history.append(record)
        if verbose:
            logger.info("%s epoch %d: loss %.4f", name, record["epoch"], record["loss"])
    net.eval()
    return history
