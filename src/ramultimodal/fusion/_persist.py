"""Save a fitted model to a folder of plain data, and load it back only once it checks out.

A saved model is a folder (docs/model-folder.md)::

    manifest.json     what the folder is: format version, the library versions and the
                      terminology that saved it, and the sha256 of every other file
    model.json        the model as plain data (`ramultimodal.fusion._plain`): classes from
                      a fixed table, their parameters and fitted attributes
    estimators/       LightGBM text models, XGBoost JSON models, and a folder per CNN
                      (safetensors weights + JSON)
    .ramultimodal     the marker that lets --force replace the folder

Loading trusts nothing: it checks the format version, that every listed file is inside the
folder and matches its sha256 (so a flipped byte is found before anything is parsed), that
every class is in the table and every parameter in its class's signature, and that every
booster has its library's layout before that library reads it. No pickle, no constructor
named by the file, no code from the folder runs. Last, a saved pipeline is asked about two
made-up patients (`check_records`) and must give the answers it gave when it was saved:
the loaded model computes what the saved one did, with this version of every library.
Every problem is one `ModelFolderError` line that names the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import os
import platform
import sys
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ramultimodal._staging import MARKER, staged_folder
from ramultimodal._text import one_line
from ramultimodal.fusion._base import NoModalityWarning
from ramultimodal.fusion._calibration import check_calibrator
from ramultimodal.fusion._early import EarlyFusionClassifier
from ramultimodal.fusion._late import LateFusionClassifier
from ramultimodal.fusion._pipeline import CohortPipeline
from ramultimodal.fusion._plain import ModelFolderError
from ramultimodal.fusion._plain_decoder import Decoder
from ramultimodal.fusion._plain_encoder import Encoder
from ramultimodal.fusion._recalibrated import RecalibratedClassifier
from ramultimodal.fusion._stacking import StackingFusionClassifier
from ramultimodal.fusion._survival import LateFusionSurvival

__all__ = ["ModelVersionWarning", "load_model", "save_model"]

FORMAT = "ramultimodal.model"
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
MODEL = "model.json"
#: What the model was trained on and how (`ramultimodal.fusion.training_facts`): plain JSON,
#: written only when given, hashed in the manifest like every other file, never decoded
#: into objects.
TRAINING = "training.json"
# Format 1 (ramultimodal 0.1.0.dev0 until this version) kept the fitted state in skops.
_LEGACY_FORMAT = "ramultimodal.fusion"
_FUSIONS = (
    LateFusionClassifier, StackingFusionClassifier, EarlyFusionClassifier, LateFusionSurvival
)  # fmt: skip
# Packages whose estimators' fitted attributes the folder holds: another version of one
# may name or mean them otherwise.
_VERSIONED = ("scikit-learn", "lightgbm", "xgboost", "torch")
_MODULES = {"scikit-learn": "sklearn", "lightgbm": "lightgbm", "xgboost": "xgboost",
            "torch": "torch", "numpy": "numpy", "pandas": "pandas"}  # fmt: skip


class ModelVersionWarning(UserWarning):
    """A model saved with other library versions or another terminology than this one's."""


def _versions() -> dict[str, str | None]:
    from ramultimodal import __version__

    versions: dict[str, str | None] = {"ramultimodal": __version__}
    versions["python"] = platform.python_version()
    for package, module in _MODULES.items():
        loaded = sys.modules.get(module)
        if loaded is not None:
            versions[package] = getattr(loaded, "__version__", None)
    return versions


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_records() -> Any:
    """Two made-up patients that a saved pipeline is asked about when saved and when loaded.

    Every saved manifest holds their answers: change them only with `FORMAT_VERSION`.

    One has nothing recorded, the other a few facts at the index date (age, sex, CRP, RF,
    joint counts, pain) and a radiograph (a grey gradient, as pixels). They are no one's
    data; their probabilities, kept in the manifest, prove that the loaded pipeline
    computes what the saved one did, every modality included.

    Returns
    -------
    CohortRecords
    """
    from ramultimodal.io import CohortRecords, as_events
    from ramultimodal.terminology.codes import CONCEPTS
    from ramultimodal.terminology.events import BIRTH, gender_code

    index = pd.Index(["check-nothing", "check-some"], name="subject_id")
    patients = pd.DataFrame({"index_date": pd.to_datetime(["2020-06-01"] * 2)}, index=index)
    facts = {"crp": 12.0, "rf": 40.0, "tender_joints_28": 4.0, "swollen_joints_28": 3.0}
    facts |= {"pain": 6.0, "patient_global": 5.0}
    events = as_events(
        [
            {"subject_id": "check-some", "time": "1960-03-01", "code": BIRTH},
            {"subject_id": "check-some", "time": None, "code": gender_code("female")},
            *(
                {"subject_id": "check-some", "time": "2020-05-20", "code": CONCEPTS[name].code,
                 "numeric_value": value}
                for name, value in facts.items()
            ),
        ]
    )  # fmt: skip
    gradient = np.outer(np.linspace(0.1, 0.9, 64), np.linspace(0.9, 0.2, 64)).astype(np.float32)
    images = pd.DataFrame(
        {"subject_id": ["check-some"], "path": [gradient], "body_part": ["HAND"]}
        | {"study_time": pd.to_datetime(["2020-05-20"])}
    )
    return CohortRecords(patients, events, images)


#: How close the check patients' probabilities must come to the saved ones. The CNN answers
#: them on the CPU in float32 (`ramultimodal.image.exact_inference`), which CPUs compute to
#: about 1e-6; a model that computes otherwise differs by far more.
CHECK_TOLERANCE = 1e-4


def _check_answers(model: Any) -> list[list[float | None]] | None:
    """The model's probabilities for `check_records` (None for a bare fusion: no records).

    Computed the same way on every machine: the CNN runs on the CPU in float32, whatever
    its device and mixed precision (a GPU's TF32 or a CPU's bf16 move probabilities by
    up to 1e-3).
    """
    if not isinstance(model, CohortPipeline):
        return None
    image = sys.modules.get("ramultimodal.image")
    exact = image.exact_inference() if image is not None else contextlib.nullcontext()
    with exact, warnings.catch_warnings(), _quiet_info():
        # "check-nothing" has no modality, by design: that warning is not the user's, nor
        # what the steps tell of the made-up patients at INFO level.
        warnings.simplefilter("ignore", NoModalityWarning)
        proba = model.predict_proba(check_records())
    return [[None if np.isnan(p) else float(p) for p in row] for row in proba]


@contextlib.contextmanager
def _quiet_info():
    """The library's INFO messages held back (its warnings still shown)."""
    library = logging.getLogger("ramultimodal")
    level = library.level
    library.setLevel(max(logging.WARNING, library.getEffectiveLevel()))
    try:
        yield
    finally:
        library.setLevel(level)


def _data_files(folder: Path) -> list[Path]:
    """The files of a model folder that it is read from: all but the manifest and markers."""
    return sorted(
        path
        for path in folder.rglob("*")
        if (path.is_file() or path.is_symlink())
        and path.name != MARKER
        and path.relative_to(folder).as_posix() != MANIFEST
    )


def _check_model(model: Any) -> None:
    if isinstance(model, CohortPipeline):
        steps = model.steps
        if not (
            isinstance(steps, list)
            and steps
            and all(isinstance(step, tuple) and len(step) == 2 for step in steps)
        ):
            raise TypeError("a CohortPipeline whose steps are not (name, estimator) pairs")
    final = model._final_estimator if isinstance(model, CohortPipeline) else model
    if isinstance(final, RecalibratedClassifier):
        raise TypeError(
            "save_model cannot save a RecalibratedClassifier: its calibrator wraps a model "
            "that a model folder may not hold as such. For a fusion, give it calibration="
            "'sigmoid' (or 'isotonic') instead, which is saved with it (make_pipeline(kind, "
            "calibration='sigmoid'), or the 'calibration' key of train --config)."
        )
    if not isinstance(final, _FUSIONS) or type(final) not in _FUSIONS:
        raise TypeError(
            "save_model saves fusion classifiers (LateFusionClassifier, "
            "StackingFusionClassifier, EarlyFusionClassifier), LateFusionSurvival and "
            f"CohortPipelines ending in one; got {type(model).__name__}."
        )
    check_is_fitted(model)
    check_calibrator(getattr(final, "calibrator_", None))


def save_model(
    model: Any,
    directory: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    training: Mapping[str, Any] | None = None,
) -> Path:
    """Save a fitted fusion model or pipeline, everything included, as a folder of plain data.

    Parameters
    ----------
    model : CohortPipeline, LateFusionClassifier, StackingFusionClassifier or \
EarlyFusionClassifier
        A fitted model. A `CohortPipeline` (what ``ramultimodal train`` saves) keeps its
        feature extraction with it, so predictions need only the records.
    directory : str or path-like
        Folder to create. It is written under a temporary name and renamed at the end, so
        an interrupted save never looks complete.
    overwrite : bool, default=False
        Replace `directory` if it holds a model saved by ramultimodal (and nothing else).
    training : mapping, optional
        Facts about the training data and the model (`training_facts`), written as
        ``training.json`` (plain JSON, its sha256 in the manifest) and read back by
        `read_training_facts`. None (the default) writes no such file.

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    TypeError
        For a model that is not a fusion, or a part that cannot be saved as plain data (a
        base model of your own is saved if it saves itself: ``save(directory)`` and a
        classmethod ``load(directory)``; `load_model` then needs its class in `trusted`).
        A `RecalibratedClassifier` is refused: give the fusion ``calibration=`` instead.
    ramultimodal._staging.OutputError
        When `directory` exists and may not be replaced.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ramultimodal.fusion import LateFusionClassifier, load_model, save_model
    >>> X, y = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 3.0], [3.0, 2.0]]), np.array([0, 0, 1, 1])
    >>> model = LateFusionClassifier(
    ...     [("a", LogisticRegression(), [0]), ("b", LogisticRegression(), [1])]
    ... ).fit(X, y)
    >>> folder = save_model(model, tempfile.mkdtemp() + "/model")
    >>> sorted(path.name for path in folder.iterdir())
    ['.ramultimodal', 'manifest.json', 'model.json']
    >>> bool((load_model(folder).predict_proba(X) == model.predict_proba(X)).all())
    True
    """
    from ramultimodal.terminology.codes import terminology_fingerprint

    _check_model(model)
    with staged_folder(directory, "model", overwrite=overwrite) as staging:
        root = Encoder(staging).estimator(model, "model")
        (staging / MODEL).write_text(json.dumps(root, indent=1, allow_nan=False) + "\n")
        if training is not None:
            try:
                text = json.dumps(dict(training), indent=2, allow_nan=False)
            except (TypeError, ValueError) as error:
                raise TypeError(f"training facts must be plain JSON data: {error}") from None
            (staging / TRAINING).write_text(text + "\n")
        files = {
            path.relative_to(staging).as_posix(): _sha256(path) for path in _data_files(staging)
        }
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": type(model).__name__,
            "saved_by": _versions(),
            "terminology": terminology_fingerprint(),
            "check": _check_answers(model),
            "files": files,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return Path(directory)


def _read_manifest(directory: Path) -> dict[str, Any]:
    from ramultimodal import __version__

    path = directory / MANIFEST
    if not path.is_file() or path.is_symlink():
        raise ModelFolderError(f"{directory} is not a saved model: {MANIFEST} not found.")
    try:
        manifest = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ModelFolderError(f"{path} is not valid JSON: the folder is damaged.") from None
    if not isinstance(manifest, dict):
        raise ModelFolderError(f"{path} is not a ramultimodal manifest.")
    # Who saved it: format 2 says so in "saved_by", format 1 in "versions".
    saved_by = [manifest.get(key) for key in ("saved_by", "versions")]
    by = next(
        (v["ramultimodal"] for v in saved_by if isinstance(v, dict) and v.get("ramultimodal")), None
    )
    by = str(by)[:40] if by else "an earlier version"
    version = manifest.get("format_version")
    if manifest.get("format") == _LEGACY_FORMAT and version == 1:
        raise ModelFolderError(
            f"{directory} was saved by ramultimodal {by} in model format 1, whose skops files "
            f"could run code when loaded; this is ramultimodal {__version__}, which reads "
            "format 2 only. Train the model again (ramultimodal train --data DIR --model "
            "KIND --out NEW_DIR) to get a folder of plain data."
        )
    if manifest.get("format") != FORMAT or not isinstance(version, int):
        raise ModelFolderError(f"{path} does not describe a ramultimodal model.")
    if version != FORMAT_VERSION:
        newer = version > FORMAT_VERSION
        raise ModelFolderError(
            f"{directory} was saved by ramultimodal {by} (model format {version}); this is "
            f"ramultimodal {__version__}, which reads format {FORMAT_VERSION}: "
            + ("upgrade ramultimodal to load it." if newer else "train the model again.")
        )
    if not isinstance(manifest.get("files"), dict) or MODEL not in manifest["files"]:
        raise ModelFolderError(f"{path} lists no {MODEL}: the folder is damaged.")
    return manifest


def _check_files(directory: Path, listed: dict[str, Any]) -> set[str]:
    """Every listed file inside the folder, a plain file, with its sha256; return them."""
    root = directory.resolve()
    for name, digest in listed.items():
        parts = PurePosixPath(name).parts if isinstance(name, str) else ()
        if (
            not parts
            or PurePosixPath(name).is_absolute()
            or ".." in parts
            or any(character in name for character in "\\\0")
            or len(name) > 1000
            or name == MANIFEST
            or parts[-1] == MARKER
        ):
            raise ModelFolderError(
                f"{directory / MANIFEST} lists {str(name)[:80]!r}, which is not a file "
                "inside the model folder."
            )
        path = directory / name
        try:
            steps = [directory.joinpath(*parts[: i + 1]) for i in range(len(parts))]
            if any(step.is_symlink() for step in steps):
                raise ModelFolderError(
                    f"{path} is a symbolic link; a model folder holds plain files."
                )
            if not path.resolve().is_relative_to(root):
                raise ModelFolderError(f"{path} lies outside the model folder.")
            if not path.is_file():
                raise ModelFolderError(f"{path} is listed in {MANIFEST} but missing.")
            matches = _sha256(path) == digest
        except OSError as error:
            raise ModelFolderError(f"{path}: cannot be read ({one_line(error)}).") from None
        if not matches:
            raise ModelFolderError(
                f"{path} does not match its sha256 in {MANIFEST}: it was changed or damaged "
                "after saving; do not use this model."
            )
    extra = [
        path.relative_to(directory).as_posix()
        for path in _data_files(directory)
        if path.relative_to(directory).as_posix() not in listed
    ]
    if extra:
        warnings.warn(
            f"{directory} holds {len(extra)} file(s) that its manifest does not list (such as "
            f"{extra[0]!r}); they are not read.",
            ModelVersionWarning,
            stacklevel=3,
        )
    return set(listed)


def _warn_on_versions(directory: Path, manifest: dict[str, Any]) -> None:
    from ramultimodal.terminology.codes import terminology_fingerprint

    saved = manifest.get("saved_by") if isinstance(manifest.get("saved_by"), dict) else {}
    current = _versions()
    for package in _VERSIONED:
        now = current.get(package)
        if package in saved and now is not None and saved[package] != now:
            warnings.warn(
                f"{directory} was saved with {package} {saved[package]}; this is {now}. Its "
                "predictions may differ: check them, or train the model again.",
                ModelVersionWarning,
                stacklevel=3,
            )
    if manifest.get("terminology") != terminology_fingerprint():
        warnings.warn(
            f"{directory} was saved with another terminology (code sets) than ramultimodal "
            f"{current['ramultimodal']} has: its features may now be computed otherwise. "
            "Check its predictions, or train it again.",
            ModelVersionWarning,
            stacklevel=3,
        )


def load_model(
    directory: str | os.PathLike[str],
    *,
    trusted: Iterable[type] = (),
    device: str | None = None,
    check: bool = True,
) -> Any:
    """Load a model saved by :func:`save_model`, after checking the whole folder.

    Parameters
    ----------
    directory : str or path-like
        Folder written by :func:`save_model` (or ``ramultimodal train``).
    trusted : iterable of classes, default=()
        Classes of your own, used as base models, that save and load themselves
        (``save(directory)``, classmethod ``load(directory)``). Pass the classes
        themselves: a name in the folder is never imported.
    device : str, optional
        Device for the CNN (default: the one it was saved with, ``"auto"``).
    check : bool, default=True
        Ask a pipeline about the two check patients and refuse it unless it gives the
        answers saved in the manifest (to `CHECK_TOLERANCE`). Turn it off only to inspect a
        model that fails it: it would then predict otherwise than when it was saved.

    Returns
    -------
    CohortPipeline or a fusion classifier
        The fitted model, as it was saved. Its parameters hold unfitted clones of the fitted
        base models (the fitted ones themselves with ``cv="prefit"``), so ``clone`` and
        ``set_params`` work as before saving.

    Raises
    ------
    ModelFolderError
        One line naming the file and what is wrong: not a model, another format version, a
        file changed after saving (sha256), a path outside the folder, a class outside the
        table, a parameter its class does not have, a damaged booster.

    Warns
    -----
    ModelVersionWarning
        When the folder was saved with other versions of scikit-learn, LightGBM, XGBoost
        or torch, or another terminology, or holds files its manifest does not list.

    Examples
    --------
    See :func:`save_model`.
    """
    trusted = list(trusted)
    if any(not isinstance(item, type) for item in trusted):
        raise TypeError(
            "trusted takes classes (the class objects themselves), not names: a model folder "
            "can no longer name the types to trust."
        )
    directory = Path(directory)
    try:
        return _load(directory, trusted, device, check)
    except ModelFolderError:
        raise
    except Exception as error:  # every file may be hostile: whatever it provokes, one line
        raise ModelFolderError(
            f"{directory}: not a model this version can load ({type(error).__name__}: "
            f"{one_line(error, 200)})."
        ) from None


def _load(directory: Path, trusted: list[type], device: str | None, check: bool) -> Any:
    manifest = _read_manifest(directory)
    known = _check_files(directory, manifest["files"])
    _warn_on_versions(directory, manifest)
    try:
        root = json.loads((directory / MODEL).read_bytes())
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ModelFolderError(f"{directory / MODEL} is not valid JSON.") from None

    def load_own(cls: type, path: Path) -> Any:
        # The CNN chooses its device; the joint models run on the CPU, and take none.
        takes_device = "device" in inspect.signature(cls.load).parameters
        if device is not None and cls.__module__.startswith("ramultimodal.image") and takes_device:
            return cls.load(path, device=device)
        return cls.load(path)

    decoder = Decoder(directory, MODEL, known, trusted, load_own)
    if not isinstance(root, dict) or set(root) != {"estimator"}:
        raise ModelFolderError(f"{directory / MODEL} does not hold a model.")
    model = decoder.value(root, "model")
    try:
        _check_model(model)
    except (TypeError, ValueError, AttributeError) as error:
        raise ModelFolderError(f"{directory / MODEL}: {error}") from None
    if check:
        _compare_answers(directory, model, manifest.get("check"))
    return model


def _compare_answers(directory: Path, model: Any, saved: Any) -> None:
    """Ask the loaded pipeline about `check_records`; refuse it unless it answers as saved."""
    if not isinstance(model, CohortPipeline):
        return
    try:
        expected = np.array(saved, dtype=float)
    except (TypeError, ValueError):
        raise ModelFolderError(f"{directory / MANIFEST}: a damaged 'check'.") from None
    try:
        answers = np.array(_check_answers(model), dtype=float)
    except Exception as error:  # whatever a crafted folder makes the model do: one line
        raise ModelFolderError(
            f"{directory / MODEL}: the loaded model fails on its check patients "
            f"({type(error).__name__}: {one_line(error, 200)}); the folder is damaged."
        ) from None
    if expected.shape != answers.shape or not np.allclose(
        answers, expected, rtol=0, atol=CHECK_TOLERANCE, equal_nan=True
    ):
        raise ModelFolderError(
            f"{directory}: the loaded model does not give its saved answers for the check "
            f"patients ({_shown(answers)} instead of {_shown(expected)}): it would predict "
            "otherwise than the model that was saved (other library versions, or a damaged "
            "folder). Train it again with this installation (or load it with check=False "
            "to inspect it)."
        )


def _shown(proba: np.ndarray) -> str:
    return "[" + ", ".join(f"{p:.6f}" for p in np.ravel(proba)[1::2]) + "]"
