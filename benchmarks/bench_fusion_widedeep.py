"""pytorch-widedeep on the patients of bench_fusion.py, run in its own venv (numpy<2).

Called by ``bench_fusion.py`` as ``/tmp/wd-venv/bin/python bench_fusion_widedeep.py FOLDER``;
FOLDER holds ``{train,test}_tabular.npy`` (EHR features, NaN for missing), ``train_y.npy``
and ``{train,test}_images.json`` (one PNG path per patient, ``""`` without a radiograph).
Writes ``FOLDER/result.json``: test probabilities and the fit's wall and CPU time.

The model is the library's multimodal recipe: ``TabMlp`` on the standardised, median-imputed
features plus a ``Vision`` CNN (untrained basic CNN, as small as ours: 16-128 channels),
joined by ``WideDeep``. pytorch-widedeep cannot take a patient without an image, so such a
patient gets a blank (constant) image, the workaround its users are given (pytorch-widedeep
#251).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

# This script's folder is on sys.path: the two sides of the benchmark count CPU time alike.
from bench_fusion import cpu_seconds
from pytorch_widedeep import Trainer
from pytorch_widedeep.models import TabMlp, Vision, WideDeep
from pytorch_widedeep.preprocessing import ImagePreprocessor, TabPreprocessor


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    folder = args.folder

    # Not all black: widedeep scales each image by its maximum, and 0 / 0 would make the whole
    # batch NaN. Any constant image becomes all ones after that scaling.
    blank = folder / "no_image.png"
    cv2.imwrite(str(blank), np.ones((args.image_size, args.image_size, 3), np.uint8))
    frames = {}
    for split in ("train", "test"):
        tabular = np.load(folder / f"{split}_tabular.npy")
        images = json.loads((folder / f"{split}_images.json").read_text())
        frame = pd.DataFrame(tabular, columns=[f"f{i}" for i in range(tabular.shape[1])])
        frame["image"] = [path or str(blank) for path in images]
        frames[split] = frame
    y_train = np.load(folder / "train_y.npy").astype(np.float32)
    columns = [c for c in frames["train"].columns if c != "image"]

    started, started_cpu = time.perf_counter(), cpu_seconds()
    train = frames["train"]
    median = train[columns].median().fillna(0.0)
    scale = train[columns].std().replace(0.0, 1.0).fillna(1.0)

    def standardise(frame):
        return ((frame[columns].fillna(median) - median) / scale).astype(np.float32)

    tab_preprocessor = TabPreprocessor(continuous_cols=columns, verbose=0)
    X_tab = tab_preprocessor.fit_transform(standardise(train))
    image_preprocessor = ImagePreprocessor(
        img_col="image", img_path="", width=args.image_size, height=args.image_size, verbose=0
    )
    X_img = image_preprocessor.fit_transform(train)
    model = WideDeep(
        deeptabular=TabMlp(
            column_idx=tab_preprocessor.column_idx,
            continuous_cols=columns,
            mlp_hidden_dims=[64, 32],
        ),
        deepimage=Vision(
            channel_sizes=[16, 32, 64, 128],
            kernel_sizes=[7, 3, 3, 3],
            strides=[2, 2, 2, 2],
            head_hidden_dims=[32],
        ),
    )
    trainer = Trainer(model, objective="binary", seed=args.seed, verbose=0)
    trainer.fit(X_tab=X_tab, X_img=X_img, target=y_train, n_epochs=args.epochs, batch_size=32)
    fit_seconds = time.perf_counter() - started
    fit_cpu_seconds = cpu_seconds() - started_cpu

    test = frames["test"]
    proba = trainer.predict_proba(
        X_tab=tab_preprocessor.transform(standardise(test)),
        X_img=image_preprocessor.transform(test),
        batch_size=64,
    )[:, 1]
    result = {
        "proba": proba.tolist(),
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": fit_cpu_seconds,
        "description": f"TabMlp + Vision CNN, blank image when missing, {args.epochs} epochs",
    }
    (folder / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
