"""``CNNImageClassifier``: a CNN on radiographs behind scikit-learn's estimator API.

One row of ``X`` is one patient, holding zero, one or several images (both hands, follow-ups).
Images are decoded and preprocessed once per ``fit`` into a ``float16`` tensor in memory; the
network sees single images, and its logits are aggregated per patient. Patients without an
image are skipped in ``fit`` and get NaN from ``predict_proba``: never a made-up prediction.

This file holds the estimator itself: its parameters, their checks, the device and precision
it computes in, ``fit`` and the prediction methods. Its other steps are base classes, each in
its own file: reading ``X`` (``_inputs.py``), the forward passes at prediction
(``_inference.py``) and the training loop (``_training.py``), which follows skorch's shape:
``fit`` validates, builds ``module_`` and calls ``_fit_loop -> _run_epoch -> _train_step``,
each small enough to override. ``save`` and ``load`` write and read the folder of
``_cnn_files.py``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ramultimodal._missing import with_no_answer
from ramultimodal.image._backbones import build_backbone
from ramultimodal.image._cnn_files import read_cnn_folder, write_cnn_folder
from ramultimodal.image._ddp_step import check_n_processes, process_device, process_group
from ramultimodal.image._inference import _aggregate, _Inference
from ramultimodal.image._inputs import _ImageInputs, _patient_images
from ramultimodal.image._training import _ImageDataset, _TrainingLoop

__all__ = ["CNNImageClassifier"]

_AGGREGATES = ("mean_logit", "max_logit", "mean_proba")


@functools.cache
def _cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (Intel AMX or AVX512-BF16).

    There, bf16 autocast trains faster than float32 (see ``benchmarks/bench_image.py``);
    elsewhere bf16 is emulated and slower. torch has only private probes for it; without
    them, assume no.
    """
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    try:
        return any(getattr(torch.cpu, probe)() for probe in probes if hasattr(torch.cpu, probe))
    except RuntimeError:  # pragma: no cover - a probe that cannot read the CPU's flags
        return False


class CNNImageClassifier(
    _ImageInputs, _Inference, _TrainingLoop, ClassifierMixin, TransformerMixin, BaseEstimator
):
    """Binary CNN classifier of patients from their radiographs (one or several per patient).

    Parameters
    ----------
    backbone : str, default="lean"
        Network name for :func:`~ramultimodal.image.build_backbone`: ``"lean"`` (the CPU
        default, fast in float32 too), ``"small"`` (the default before it, with about 1.6x
        its multiply-adds), ``"resnet18"``, ``"resnet34"``, ``"resnet50"``,
        ``"densenet121"``, ``"efficientnet_b0"`` or ``"convnext_tiny"``. A saved model
        keeps its network's name, so a model saved with ``"small"`` loads as one.
    weights : str or path-like, optional
        Initial weights: a state-dict path or a torchvision weights name found in the torch
        hub cache (never downloaded). ``None`` trains from scratch.
    image_size : int, default=256
        Side of the square the images are letterboxed to.
    contrast : str, optional
        Contrast normalisation of :class:`~ramultimodal.image.ImagePreprocessor`.
    flip_left : bool, default=True
        Mirror left hands so that both sides share one orientation.
    augment : bool, default=True
        Apply :func:`~ramultimodal.image.train_augmentation` to training images.
    train_crop : float, default=0.75
        Train on a random square crop of each image, this fraction of ``image_size`` on a
        side (never under 32 px), drawn afresh every epoch; prediction, embeddings and
        Grad-CAM see the whole image. The crop is a random shift that keeps the scale of the
        joints, and a step on it costs about ``train_crop**2`` of one on the whole image
        (the time and AUROC it was chosen by: ``benchmarks/bench_fusion.py``). 1.0 trains on
        whole images: use it when the evidence may lie at an edge.
    max_epochs : int, default=15
        Upper bound on training epochs.
    batch_size : int, default=32
        Images per optimisation step.
    lr : float, default=1e-3
        Peak learning rate of the one-cycle schedule (AdamW).
    weight_decay : float, default=1e-4
        AdamW weight decay.
    class_weight : "balanced", dict or None, default="balanced"
        Weights of the classes in the loss; ``"balanced"`` weighs them inversely to their
        frequency among the training images (BCE ``pos_weight``).
    validation_fraction : float, default=0.0
        Fraction of the patients (stratified, grouped by patient) held out for early
        stopping. 0 trains on every patient for ``max_epochs`` and keeps the last weights:
        the one-cycle schedule is built to end there, and a split of a few dozen patients
        is too noisy to pick a better epoch (see ``benchmarks/bench_fusion.py``).
    early_stopping_patience : int, default=4
        Epochs without a better validation AUROC (ties broken by the loss) before training
        stops, counted once the learning-rate warm-up is over; the best epoch's weights
        are restored.
    aggregate : {"mean_logit", "max_logit", "mean_proba"}, default="mean_logit"
        How the images of one patient are combined.
    device : str, default="auto"
        ``"auto"`` picks CUDA, then MPS, then the CPU; or any ``torch.device`` string.
    mixed_precision : "auto" or bool, default="auto"
        Autocast (bf16, or fp16 with gradient scaling where CUDA lacks bf16). ``"auto"``
        turns it on for CUDA, and on CPUs that compute bf16 in hardware (Intel AMX or
        AVX512-BF16), where training runs faster (see ``benchmarks/bench_fusion.py``);
        elsewhere bf16 is emulated and slower, so the CPU stays in float32. So with "auto" a
        given ``random_state`` repeats a model on CPUs of the same kind, not across the two
        kinds.
    num_workers : int, default=0
        DataLoader worker processes for training; they cut the training crops (the
        augmentation runs on each batch, on the training device).
    n_processes : int, default=1
        Train with torch DistributedDataParallel in this many processes of this machine
        (gloo on the CPU, sharing its cores out; NCCL on CUDA, one GPU each), started by
        torch's elastic launcher; each step's batch is shared out among them and the fitted
        model is process 0's. 1 trains in this process. Inside a torch process group that
        a launcher such as ``torchrun`` started, ``fit`` trains with DDP in that group
        whatever this says. See ``docs/scaling.md``.
    cache_dir : str or path-like, optional
        On-disk cache of preprocessed images (see ``ImagePreprocessor``).
    random_state : int, RandomState or None, default=None
        Seeds the validation split, the weights and the batch order: with an int, repeated
        fits on the CPU give identical models.
    verbose : int, default=1
        0 is silent; 1 shows progress bars for decoding and epochs; 2 also for batches.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The class labels; the second is the positive class.
    module_ : Backbone
        The trained network (``features`` trunk, ``pool``, ``head``).
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``val_auroc``, ``lr``, ``seconds``
        (the wall-clock time, which :meth:`save` leaves out).
    best_epoch_ : int
        Epoch whose weights were kept (1-based).
    n_embedding_features_ : int
        Width of :meth:`transform`'s output.
    device_ : torch.device
        Device the network lives on.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> images = [rng.random((32, 32)).astype("float32") for _ in range(8)]
    >>> X = [images[0], [images[1], images[2]], None, *images[3:]]
    >>> y = [0, 1, 0, 1, 0, 1, 0, 1]
    >>> model = CNNImageClassifier(image_size=32, max_epochs=1, augment=False,
    ...                            random_state=0, verbose=0)
    >>> model.fit(X, y).predict_proba(X).shape
    (8, 2)
    >>> bool(np.isnan(model.predict_proba(X)[2]).all())  # no image: no prediction
    True
    """

    def __init__(
        self,
        backbone: str = "lean",
        weights: str | os.PathLike[str] | None = None,
        image_size: int = 256,
        contrast: str | None = None,
        flip_left: bool = True,
        augment: bool = True,
        train_crop: float = 0.75,
        max_epochs: int = 15,
        batch_size: int = 32,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        class_weight: str | dict[Any, float] | None = "balanced",
        validation_fraction: float = 0.0,
        early_stopping_patience: int = 4,
        aggregate: str = "mean_logit",
        device: str = "auto",
        mixed_precision: str | bool = "auto",
        num_workers: int = 0,
        n_processes: int = 1,
        cache_dir: str | os.PathLike[str] | None = None,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 1,
    ) -> None:
        self.backbone = backbone
        self.weights = weights
        self.image_size = image_size
        self.contrast = contrast
        self.flip_left = flip_left
        self.augment = augment
        self.train_crop = train_crop
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.class_weight = class_weight
        self.validation_fraction = validation_fraction
        self.early_stopping_patience = early_stopping_patience
        self.aggregate = aggregate
        self.device = device
        self.mixed_precision = mixed_precision
        self.num_workers = num_workers
        self.n_processes = n_processes
        self.cache_dir = cache_dir
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.classifier_tags.multi_class = False
        return tags

    def _validate_params(self) -> None:
        if self.aggregate not in _AGGREGATES:
            raise ValueError(f"aggregate={self.aggregate!r}; choose one of {_AGGREGATES}.")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction}; expected 0 <= value < 1."
            )
        if not 0 < self.train_crop <= 1:
            raise ValueError(f"train_crop={self.train_crop}; expected 0 < value <= 1.")
        for name in ("max_epochs", "batch_size", "image_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)}; expected a positive integer.")
        if self.mixed_precision not in ("auto", True, False):
            raise ValueError(f"mixed_precision={self.mixed_precision!r}; use 'auto' or a bool.")
        check_n_processes(self.n_processes, self._resolve_device())

    def _launches_processes(self) -> bool:
        """Whether ``fit`` starts ``n_processes`` processes (not when already in a group)."""
        return int(self.n_processes) > 1 and process_group() is None

    def _resolve_device(self) -> torch.device:
        if self.device != "auto":
            return torch.device(self.device)
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")

    def _amp_dtype(self) -> torch.dtype | None:
        """Autocast dtype, or None when mixed precision is off."""
        device = self.device_
        if self.mixed_precision != "auto" and not self.mixed_precision:
            return None
        if self.mixed_precision == "auto" and not (
            device.type == "cuda" or (device.type == "cpu" and _cpu_has_native_bf16())
        ):
            return None
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            return torch.float16
        return torch.bfloat16

    def _autocast(self) -> torch.autocast:
        dtype = self._amp_dtype()
        return torch.autocast(self.device_.type, dtype=dtype, enabled=dtype is not None)

    def fit(self, X: Any, y: Any) -> CNNImageClassifier:
        """Train the network on the patients that have images.

        Parameters
        ----------
        X : sequence of length n_patients
            Per patient: a path, a list of paths, a 2-D array, a list of arrays, or
            None / NaN / ``[]`` for no image (such patients are skipped).
        y : array-like of shape (n_patients,)
            Binary labels.

        Returns
        -------
        self : CNNImageClassifier
        """
        self._validate_params()
        patients = _patient_images(X)
        y = column_or_1d(y, warn=True)
        if len(y) != len(patients):
            raise ValueError(f"X has {len(patients)} patients but y has {len(y)} labels.")
        has_image = np.array([len(images) > 0 for images in patients])
        if not has_image.any():
            raise ValueError(
                f"None of the {len(patients)} patients in X has an image; "
                "CNNImageClassifier needs at least some images to learn from."
            )
        y_imaged = y[has_image]
        check_classification_targets(y_imaged)
        self.classes_ = np.unique(y_imaged)
        if len(self.classes_) != 2:
            raise ValueError(
                "CNNImageClassifier is a binary classifier: the patients with images have "
                f"{len(self.classes_)} classes, expected 2."
            )
        if self._launches_processes():
            from ramultimodal.image._ddp_launch import fit_in_processes

            return fit_in_processes(self, patients, y)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        self.device_ = process_device(self._resolve_device())

        rows = np.flatnonzero(has_image)
        imaged = [patients[row] for row in rows]
        pixels, owner = self._decode(imaged)
        patient_target = (y_imaged == self.classes_[1]).astype(np.float32)
        train_rows, valid_rows = self._split_patients(patient_target, rng)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.module_ = build_backbone(self.backbone, weights=self.weights, in_chans=1)
            # Channels-last convolutions: about 25% faster training on the CPU.
            self.module_.to(self.device_, memory_format=torch.channels_last)
            self.n_embedding_features_ = self.module_.num_features
            in_train = np.isin(owner, train_rows)
            train = _ImageDataset(
                pixels[torch.from_numpy(in_train)],
                torch.from_numpy(patient_target[owner[in_train]]),
                self._crop_side(),
            )
            valid = None
            if len(valid_rows):
                in_valid = np.isin(owner, valid_rows)
                # Validation images keep their patient, renumbered 0..n_valid-1.
                valid_owner = np.searchsorted(valid_rows, owner[in_valid])
                valid_pixels = pixels[torch.from_numpy(in_valid)]
                valid = (valid_pixels, valid_owner, patient_target[valid_rows])
            self._fit_loop(train, valid, seed)
        return self

    def _outputs(self, X: Any, embed: bool = False) -> np.ndarray:
        check_is_fitted(self, "module_")
        patients = _patient_images(X)
        pixels, owner = self._decode(patients)
        outputs = self._image_outputs(pixels, embed=embed)
        if embed:
            return _aggregate(outputs, owner, len(patients)).astype(np.float32)
        return self._patient_logits(outputs, owner, len(patients))

    def decision_function(self, X: Any) -> np.ndarray:
        """Per-patient logit of the positive class; NaN for patients without images.

        Parameters
        ----------
        X : sequence of length n_patients
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_patients,)
        """
        return self._outputs(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities per patient; NaN rows for patients without images.

        Parameters
        ----------
        X : sequence of length n_patients
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_patients, 2)
        """
        positive = expit(self.decision_function(X))
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class per patient.

        Patients without images get NaN when the classes are numbers and None otherwise.

        Parameters
        ----------
        X : sequence of length n_patients
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_patients,)
        """
        logits = self.decision_function(X)
        missing = np.isnan(logits)
        return with_no_answer(self.classes_[(logits > 0).astype(int)], missing)

    def transform(self, X: Any) -> np.ndarray:
        """Penultimate-layer embeddings, averaged over each patient's images.

        Parameters
        ----------
        X : sequence of length n_patients
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_patients, ``n_embedding_features_``)
            NaN rows for patients without images.
        """
        return self._outputs(X, embed=True)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the embedding columns: ``cnnimageclassifier0``, ``cnnimageclassifier1``...

        Returns
        -------
        ndarray of str objects
        """
        check_is_fitted(self, "n_embedding_features_")
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(self.n_embedding_features_)], dtype=object)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the fitted model to ``directory`` (safetensors weights + JSON, no pickle).

        The directory is written under a temporary name and renamed at the end, so an
        interrupted save never looks complete. Its bytes depend on the model alone: the
        history is saved without each epoch's ``seconds``, and ``verbose`` as 0 (a loaded
        model shows no progress bar unless told to), so two fits with the same data,
        parameters and seed save the same files, with or without progress bars.

        Parameters
        ----------
        directory : str or path-like
            Destination; replaced if it holds a CNN saved by ramultimodal.

        Returns
        -------
        pathlib.Path
        """
        return write_cnn_folder(self, directory)

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], *, device: str | None = None
    ) -> CNNImageClassifier:
        """Read a model written by :meth:`save`, checking it before it is trusted.

        The configuration is plain JSON whose parameters must be this class's; the weights
        are safetensors (tensors and nothing else), which must be exactly those of the
        network the configuration names. ``cache_dir`` is not kept: a folder of the machine
        that saved the model means nothing here.

        Parameters
        ----------
        directory : str or path-like
            Folder holding ``config.json`` and ``model.safetensors``.
        device : str, optional
            Device to load onto (default: the saved ``device`` parameter).

        Returns
        -------
        CNNImageClassifier

        Raises
        ------
        FileNotFoundError
            When `directory` holds no ``config.json``.
        ValueError
            One line saying what is wrong with the configuration or the weights.
        """
        return read_cnn_folder(cls, directory, device=device)
