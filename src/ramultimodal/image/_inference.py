"""From the trained network to numbers per patient that do not depend on what else is predicted.

The network runs on batches of a fixed `INFERENCE_BATCH` images (the last one padded), so
that an image's output does not depend on how many others come with it; inside
`exact_inference` it runs on the CPU in float32, so that it does not depend on the machine
either. Per-image logits and embeddings are then combined per patient (`_aggregate`), the
logits by the estimator's ``aggregate`` rule.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy

import numpy as np
import torch
from scipy.special import expit, logit

__all__ = ["INFERENCE_BATCH", "exact_inference"]

#: Images per forward pass at prediction, whatever the training batch size (the last batch
#: is padded): one size for every call, so that a prediction does not depend on the others.
INFERENCE_BATCH = 64
_EXACT: contextvars.ContextVar[bool] = contextvars.ContextVar("exact_inference", default=False)


@contextlib.contextmanager
def exact_inference():
    """Inside the block, every CNN predicts on the CPU in float32.

    Whatever its ``device`` and ``mixed_precision``: a GPU's TF32 convolutions or a CPU's
    bf16 autocast move a probability by up to 1e-3, float32 on any CPU by about 1e-6. For
    checks that must give the same numbers on every machine (a saved model's check
    patients), not for speed.

    Examples
    --------
    >>> with exact_inference():
    ...     pass
    """
    token = _EXACT.set(True)
    try:
        yield
    finally:
        _EXACT.reset(token)


def _aggregate(
    values: np.ndarray, owner: np.ndarray, n_patients: int, how: str = "mean"
) -> np.ndarray:
    """Per-patient mean or max of per-image rows; NaN rows for patients without images."""
    counts = np.bincount(owner, minlength=n_patients)
    out = np.zeros((n_patients, values.shape[1]), dtype=np.float64)
    if how == "max":
        out[:] = -np.inf
        np.maximum.at(out, owner, values)
    else:
        np.add.at(out, owner, values)
        out /= np.maximum(counts, 1)[:, None]
    out[counts == 0] = np.nan
    return out


class _Inference:
    """The forward passes of a fitted `CNNImageClassifier`, at prediction and at validation."""

    def _image_outputs(self, pixels: torch.Tensor, embed: bool = False) -> np.ndarray:
        """Per-image logits (or embeddings) in evaluation mode.

        Every batch has `INFERENCE_BATCH` images, the last one padded with blank images:
        kernels chosen by batch size round differently (up to 6e-6 on an embedding in
        float32), and an image's output must not depend on how many others are predicted
        with it. Inside `exact_inference`, the network runs on the CPU in float32.
        """
        exact = _EXACT.get()
        device = torch.device("cpu") if exact else self.device_
        module = self.module_ if device == self.device_ else copy.deepcopy(self.module_).cpu()
        module.eval()
        forward = module.embed if embed else module
        outputs = []
        step = INFERENCE_BATCH
        autocast = contextlib.nullcontext() if exact else self._autocast()
        with torch.inference_mode(), autocast:
            for start in range(0, len(pixels), step):
                batch = pixels[start : start + step].to(device).float()
                n = len(batch)
                if n < step:
                    batch = torch.cat([batch, batch.new_zeros((step - n, *batch.shape[1:]))])
                outputs.append(forward(batch)[:n].float().cpu())
        if not outputs:
            width = module.num_features if embed else 1
            return np.empty((0, width), dtype=np.float32)
        return torch.cat(outputs).numpy()

    def _patient_logits(self, logits: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
        if self.aggregate == "max_logit":
            return _aggregate(logits, owner, n, "max")[:, 0]
        if self.aggregate == "mean_proba":
            proba = _aggregate(expit(logits.astype(np.float64)), owner, n)[:, 0]
            return logit(np.clip(proba, 1e-12, 1 - 1e-12))
        return _aggregate(logits, owner, n)[:, 0]
