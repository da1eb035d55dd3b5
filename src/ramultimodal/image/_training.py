"""The training loop of `CNNImageClassifier`: epochs of optimisation steps, then precise BatchNorm.

Training follows skorch's shape: ``fit`` validates, builds ``module_`` and calls
``_fit_loop -> _run_epoch -> _train_step``, each small enough to override. They are methods
of `_TrainingLoop`, a base class of the estimator, and read its parameters (``lr``,
``batch_size``, ``max_epochs``...) from ``self``: a one-cycle AdamW schedule, class-weighted
BCE, optional early stopping on a patient-level validation split, and random training crops
(`_ImageDataset`) augmented batch by batch on the training device.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedShuffleSplit
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ramultimodal.image._augmentation import train_augmentation
from ramultimodal.image._ddp_step import (
    ddp_module,
    mean_over_processes,
    process_group,
    shard_loader,
)

_WARMUP = 0.2  # share of the one-cycle schedule spent raising the learning rate


class _ImageDataset(Dataset):
    """Images kept as ``float16`` in memory, cropped and turned to float32 one at a time.

    ``crop``: side of the random square cut from each image, or None for the whole image.
    The augmentation is applied later, to whole batches.
    """

    def __init__(self, pixels: torch.Tensor, targets: torch.Tensor, crop: int | None = None):
        self.pixels, self.targets, self.crop = pixels, targets, crop

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.pixels[index]
        if self.crop is not None:
            # Cropped before the float copy, which then costs less too.
            top, left = torch.randint(0, image.shape[-1] - self.crop + 1, (2,)).tolist()
            image = image[:, top : top + self.crop, left : left + self.crop]
        return image.float(), self.targets[index]


class _TrainingLoop:
    """The training steps of `CNNImageClassifier`, kept apart from its estimator API."""

    def _crop_side(self) -> int | None:
        """Side of the training crop, or None for whole images."""
        size = int(self.image_size)
        # 32 px: the total stride of the networks, below which a feature map vanishes.
        side = max(round(float(self.train_crop) * size), min(size, 32))
        return side if side < size else None

    def _split_patients(
        self, target: np.ndarray, rng: np.random.RandomState
    ) -> tuple[np.ndarray, np.ndarray]:
        """Stratified split of the imaged patients (never of images) into train/validation."""
        everyone = np.arange(len(target))
        if not self.validation_fraction:
            return everyone, everyone[:0]
        n_valid = math.ceil(self.validation_fraction * len(target))
        if min(target.sum(), len(target) - target.sum()) < 2 or len(target) - n_valid < 2:
            warnings.warn(
                f"Too few patients ({len(target)}) for a stratified validation split of "
                f"{self.validation_fraction}; training without early stopping.",
                stacklevel=3,
            )
            return everyone, everyone[:0]
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=max(n_valid, 2), random_state=rng)
        train_rows, valid_rows = next(splitter.split(everyone, target))
        return np.sort(train_rows), np.sort(valid_rows)

    def _pos_weight(self, targets: np.ndarray) -> float:
        if self.class_weight is None:
            return 1.0
        if isinstance(self.class_weight, str):
            if self.class_weight != "balanced":
                raise ValueError(
                    f"class_weight={self.class_weight!r}; use 'balanced', a dict or None."
                )
            n_pos = float(targets.sum())
            return (len(targets) - n_pos) / n_pos
        weights = [float(self.class_weight.get(label, 1.0)) for label in self.classes_]
        return weights[1] / weights[0]

    def _fit_loop(self, train: _ImageDataset, valid: tuple | None, seed: int) -> None:
        """Epochs with early stopping; leaves the best epoch's weights in ``module_``."""
        from tqdm.auto import tqdm

        n = len(train)
        batch_size = min(int(self.batch_size), n)
        loader = DataLoader(
            train,
            batch_size=batch_size,
            shuffle=True,
            num_workers=int(self.num_workers),
            generator=torch.Generator().manual_seed(seed),
            # BatchNorm cannot train on a batch of one image.
            drop_last=n % batch_size == 1 and n > 1,
            pin_memory=self.device_.type == "cuda",
            persistent_workers=int(self.num_workers) > 0,
        )
        # Inside a torch process group (DDP): this process's share of each batch, and a
        # network whose gradients are averaged over the processes (_ddp_step.py).
        distributed = process_group() is not None
        if distributed:
            loader = shard_loader(loader, seed)
        self._network = ddp_module(self.module_, self.device_) if distributed else self.module_
        steps = max(1, len(loader))
        self._optimizer = torch.optim.AdamW(
            self.module_.parameters(),
            lr=self.lr,
            weight_decay=self.weight_decay,
            # One kernel for all parameters: 0.8 against 3.0 ms a step on 2 CPU cores.
            fused=self.device_.type in ("cpu", "cuda"),
        )
        total = int(self.max_epochs) * steps
        # OneCycleLR divides by the warm-up's length in steps, so it needs two or more
        # (one epoch of 5 batches gave a ZeroDivisionError); a run too short for a cycle
        # keeps the learning rate constant.
        warmup = max(_WARMUP, 2.0 / total)
        if warmup <= 0.5:
            self._scheduler = torch.optim.lr_scheduler.OneCycleLR(
                self._optimizer, max_lr=self.lr, total_steps=total, pct_start=warmup
            )
        else:
            self._scheduler = torch.optim.lr_scheduler.LambdaLR(self._optimizer, lambda _: 1.0)
        pos_weight = torch.tensor(self._pos_weight(train.targets.numpy()), device=self.device_)
        self._loss = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        # fp16 gradients underflow without loss scaling; bf16 ones do not.
        fp16 = self._amp_dtype() == torch.float16
        self._scaler = torch.amp.GradScaler(self.device_.type, enabled=fp16)
        self._augment = train_augmentation() if self.augment else None

        self.history_ = []
        best, best_state, self.best_epoch_ = (-math.inf, -math.inf), None, int(self.max_epochs)
        # No stopping while the learning rate is still warming up: the model is far from
        # trained and its validation scores say little.
        warmup_epochs = math.ceil(_WARMUP * int(self.max_epochs))
        # leave=None: the bar stays when it is the only one (a fit of its own), and is
        # cleared when it runs under another (a fold of a cross-validation), where dozens
        # of finished bars would push the outer one off the screen.
        epochs = tqdm(
            range(1, int(self.max_epochs) + 1),
            desc="Training",
            leave=None,
            disable=not self.verbose,
        )
        try:
            for epoch in epochs:
                start = time.perf_counter()
                lr = self._optimizer.param_groups[0]["lr"]
                if distributed:
                    loader.sampler.set_epoch(epoch)
                train_loss = mean_over_processes(self._run_epoch(loader))
                val_loss, val_auroc = self._validate(*valid) if valid else (None, None)
                record = {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "val_loss": val_loss,
                    "val_auroc": val_auroc,
                    "lr": lr,
                    "seconds": time.perf_counter() - start,
                }
                self.history_.append(record)
                epochs.set_postfix(train_loss=train_loss, val_loss=val_loss, val_auroc=val_auroc)
                if valid is None:
                    continue
                # Patient-level AUROC is what the model is for; the (class-weighted) loss
                # breaks ties, e.g. when the AUROC of a small validation set reaches 1.
                score = (-math.inf if val_auroc is None else val_auroc, -val_loss)
                if score > best:
                    best, self.best_epoch_ = score, epoch
                    state = self.module_.state_dict()
                    best_state = {k: v.detach().clone() for k, v in state.items()}
                elif epoch > warmup_epochs and epoch - self.best_epoch_ >= int(
                    self.early_stopping_patience
                ):
                    break
        finally:
            epochs.close()
            del self._optimizer, self._scheduler, self._loss, self._scaler, self._augment
            del self._network
        if best_state is not None:
            self.module_.load_state_dict(best_state)
        self.module_.zero_grad(set_to_none=True)  # the last step's gradients: dead weight
        self._recalibrate_batchnorm(train.pixels)
        self.module_.eval()

    def _recalibrate_batchnorm(self, pixels: torch.Tensor) -> None:
        """Recompute BatchNorm statistics over the (unaugmented) training images.

        Running averages lag behind weights that changed quickly, which after a short
        training makes evaluation-mode outputs differ from training-mode ones; a pass that
        averages exact batch statistics ("precise BN", Wu & Johnson, arXiv:2105.07576)
        removes the lag for the price of one forward pass.
        """
        norms = [
            m for m in self.module_.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
        ]
        if not norms:
            return
        momenta = [norm.momentum for norm in norms]
        self.module_.eval()  # dropout and stochastic depth off; only BatchNorm measures
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # cumulative average over the batches
            norm.train()
        step = max(2, 2 * int(self.batch_size))
        with torch.no_grad(), self._autocast():
            for start in range(0, len(pixels), step):
                batch = pixels[start : start + step]
                if len(batch) > 1:
                    self.module_(batch.to(self.device_).float())
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum

    def _run_epoch(self, loader: DataLoader) -> float:
        """One pass over the training images; returns the mean training loss."""
        from tqdm.auto import tqdm

        self.module_.train()
        total, count = 0.0, 0
        batches = tqdm(loader, desc="batches", leave=False, disable=self.verbose < 2)
        for images, targets in batches:
            total += self._train_step(images, targets) * len(targets)
            count += len(targets)
        return total / max(count, 1)

    def _train_step(self, images: torch.Tensor, targets: torch.Tensor) -> float:
        """One optimisation step on a batch; returns its loss."""
        images = images.to(self.device_, non_blocking=True)
        targets = targets.to(self.device_, non_blocking=True)
        if self._augment is not None:
            images = self._augment(images)
        self._optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            logits = self._network(images)[:, 0]
        loss = self._loss(logits.float(), targets)
        self._scaler.scale(loss).backward()
        self._scaler.step(self._optimizer)
        self._scaler.update()
        self._scheduler.step()
        return float(loss.detach())

    def _validate(
        self, pixels: torch.Tensor, owner: np.ndarray, target: np.ndarray
    ) -> tuple[float, float | None]:
        """Patient-level validation loss and AUROC."""
        logits = self._patient_logits(self._image_outputs(pixels), owner, len(target))
        with torch.no_grad():
            as_tensor = torch.as_tensor(logits, dtype=torch.float32, device=self.device_)
            loss = float(self._loss(as_tensor, torch.as_tensor(target, device=self.device_)))
        auroc = float(roc_auc_score(target, logits)) if 0 < target.sum() < len(target) else None
        return loss, auroc
