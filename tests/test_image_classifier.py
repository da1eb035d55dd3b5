"""CNNImageClassifier and build_backbone: scikit-learn conventions, missing images,
per-patient aggregation, repeatability, persistence and the error cases.

Images are tiny (32 px) and training lasts one or two epochs: accuracy lives in
benchmarks/bench_image.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from ramultimodal.image import BACKBONES, CNNImageClassifier, build_backbone

SIZE = 32


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def blob_images(n: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Noise images; the positive class has a bright square in the top-left corner."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = []
    for label in labels:
        image = rng.random((SIZE, SIZE), dtype=np.float32) * 0.5
        if label:
            image[2:12, 2:12] += 0.5
        images.append(image)
    return images, labels


def small_model(**params) -> CNNImageClassifier:
    defaults = dict(
        image_size=SIZE, max_epochs=2, batch_size=8, augment=False,
        validation_fraction=0, random_state=0, verbose=0,
    )  # fmt: skip
    return CNNImageClassifier(**{**defaults, **params})


@pytest.fixture(scope="module")
def fitted() -> tuple[CNNImageClassifier, list[np.ndarray], np.ndarray]:
    torch.set_num_threads(1)
    images, labels = blob_images(24)
    return small_model(max_epochs=3, lr=3e-3).fit(images, labels), images, labels


def test_parameters_are_stored_unchanged_and_clone():
    model = CNNImageClassifier(backbone="resnet18", lr=0.01, class_weight={0: 1, 1: 2})
    assert model.get_params()["backbone"] == "resnet18"
    assert model.get_params()["class_weight"] == {0: 1, 1: 2}
    copy = clone(model).set_params(lr=0.5, aggregate="max_logit")
    assert (copy.lr, copy.aggregate, model.lr) == (0.5, "max_logit", 0.01)
    assert CNNImageClassifier().get_params()["device"] == "auto"


def test_unfitted_model_refuses_to_predict(tmp_path):
    model = CNNImageClassifier()
    images, _ = blob_images(2)
    for method in (model.predict, model.predict_proba, model.decision_function, model.transform):
        with pytest.raises(NotFittedError):
            method(images)
    with pytest.raises(NotFittedError):
        model.get_feature_names_out()
    with pytest.raises(NotFittedError):
        model.save(tmp_path / "model")


def test_patients_without_images_get_nan_and_are_skipped_in_fit(fitted):
    model, images, labels = fitted
    X = pd.Series([images[0], None, [], np.nan, [images[1], images[2]]], index=list("abcde"))
    proba = model.predict_proba(X)
    assert proba.shape == (5, 2)
    assert np.isnan(proba[1:4]).all()
    assert np.isfinite(proba[[0, 4]]).all()
    np.testing.assert_allclose(proba[[0, 4]].sum(axis=1), 1.0)
    assert np.isnan(model.decision_function(X)[1:4]).all()
    embeddings = model.transform(X)
    assert embeddings.shape == (5, model.n_embedding_features_) == (5, 256)
    assert np.isnan(embeddings[1:4]).all() and np.isfinite(embeddings[[0, 4]]).all()
    predicted = model.predict(X)
    assert np.isnan(predicted[1:4]).all() and set(predicted[[0, 4]]) <= {0, 1}

    # Patients without an image do not take part in training, whatever their label.
    X_train = [*images, None, []]
    y_train = [*labels, 1, 1]
    with_gaps = clone(model).fit(X_train, y_train)
    np.testing.assert_array_equal(
        with_gaps.decision_function(images), model.decision_function(images)
    )


def test_string_classes_and_missing_prediction_is_none(fitted):
    _, images, labels = fitted
    names = np.where(labels == 1, "ra", "other")
    model = small_model(max_epochs=1).fit(images, names)
    assert model.classes_.tolist() == ["other", "ra"]
    predicted = model.predict([images[0], None])
    assert predicted[0] in {"other", "ra"} and predicted[1] is None


def test_multi_image_patient_aggregates_single_image_logits(fitted):
    model, images, _ = fitted
    pair = [images[0], images[1]]
    single = model.decision_function(pair)
    mean_logit = model.decision_function([pair])[0]
    assert mean_logit == pytest.approx(single.mean(), abs=1e-6)
    as_max = clone(model).set_params(aggregate="max_logit")
    as_max.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    assert as_max.decision_function([pair])[0] == pytest.approx(single.max(), abs=1e-6)
    as_proba = clone(model).set_params(aggregate="mean_proba")
    as_proba.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    proba = as_proba.predict_proba([pair])[0, 1]
    assert proba == pytest.approx(model.predict_proba(pair)[:, 1].mean(), abs=1e-6)
    # Embeddings of a patient are the mean of the images' embeddings.
    np.testing.assert_allclose(
        model.transform([pair])[0], model.transform(pair).mean(axis=0), rtol=1e-5, atol=1e-6
    )


def test_learns_a_localised_signal(fitted):
    from sklearn.metrics import roc_auc_score

    model, _, _ = fitted
    test_images, test_labels = blob_images(20, seed=1)
    assert roc_auc_score(test_labels, model.predict_proba(test_images)[:, 1]) > 0.9
    assert model.score(test_images, test_labels) >= 0.8


def test_random_state_makes_fits_repeatable():
    images, labels = blob_images(20)
    params = dict(max_epochs=2, augment=True, validation_fraction=0.25)
    first = small_model(**params).fit(images, labels)
    second = small_model(**params).fit(images, labels)
    np.testing.assert_array_equal(first.decision_function(images), second.decision_function(images))
    assert [h["train_loss"] for h in first.history_] == [h["train_loss"] for h in second.history_]
    other_seed = small_model(**params, random_state=1).fit(images, labels)
    assert not np.array_equal(first.decision_function(images), other_seed.decision_function(images))


@pytest.mark.parametrize(
    ("mixed_precision", "native_bf16", "expected"),
    [
        ("auto", True, torch.bfloat16),  # AMX / AVX512-BF16: bf16 is faster
        ("auto", False, None),  # emulated bf16 is slower: stay in float32
        (True, False, torch.bfloat16),  # asked for: granted
        (False, True, None),
        (0, True, None),  # falsy, as False
    ],
)
def test_mixed_precision_on_the_cpu_follows_the_hardware(
    monkeypatch, mixed_precision, native_bf16, expected
):
    import ramultimodal.image._classifier as classifier

    monkeypatch.setattr(classifier, "_cpu_has_native_bf16", lambda: native_bf16)
    model = small_model(device="cpu", mixed_precision=mixed_precision)
    model.device_ = torch.device("cpu")
    assert model._amp_dtype() == expected


def test_bf16_autocast_trains_and_predicts_in_float32_outputs():
    images, labels = blob_images(16)
    model = small_model(device="cpu", mixed_precision=True).fit(images, labels)
    proba = model.predict_proba(images)
    assert proba.dtype == np.float64 and np.isfinite(proba).all()
    assert model.transform(images).dtype == np.float32


@pytest.mark.parametrize(
    ("image_size", "train_crop", "side"),
    [(256, 0.75, 192), (64, 0.75, 48), (40, 0.5, 32), (32, 0.75, None), (64, 1.0, None)],
)
def test_training_crop_side(image_size, train_crop, side):
    # Never under 32 px, the networks' total stride; None: whole images.
    assert small_model(image_size=image_size, train_crop=train_crop)._crop_side() == side


def test_training_crops_are_random_squares_and_prediction_sees_whole_images(monkeypatch):
    import ramultimodal.image._classifier as classifier

    images, labels = blob_images(16)
    seen = []

    class Recording(classifier._ImageDataset):
        def __getitem__(self, index):
            image, target = super().__getitem__(index)
            seen.append(image)
            return image, target

    monkeypatch.setattr(classifier, "_ImageDataset", Recording)
    big = [np.kron(image, np.ones((2, 2), np.float32)) for image in images]  # 64 px
    model = small_model(image_size=64, train_crop=0.75, max_epochs=1).fit(big, labels)
    assert {tuple(image.shape) for image in seen} == {(1, 48, 48)}
    # Each crop is some 48 x 48 window of its 64 px image, not a resized copy of it.
    first = torch.from_numpy(big[0]).half().float()
    windows = first.unfold(0, 48, 1).unfold(1, 48, 1)  # (17, 17, 48, 48)
    crops = [image[0] for image in seen[:16]]
    windows = windows.reshape(-1, 48, 48)
    assert any(torch.equal(window, crop) for crop in crops for window in windows)
    assert model.predict_proba(big).shape == (16, 2)
    assert model.transform(big).shape == (16, model.n_embedding_features_)


@pytest.mark.parametrize("n_images, max_epochs", [(150, 1), (40, 1), (3, 2)])
def test_runs_too_short_for_a_learning_rate_cycle_still_train(n_images, max_epochs):
    # 150 images in batches of 32 make 5 steps: a warm-up of 0.2 x 5 = 1 step divided by
    # zero in OneCycleLR.
    rng = np.random.default_rng(0)
    X = [[rng.random((32, 32)).astype("float32")] for _ in range(n_images)]
    y = np.arange(n_images) % 2
    model = CNNImageClassifier(image_size=32, max_epochs=max_epochs, random_state=0, verbose=0)
    assert np.isfinite(model.fit(X, y).predict_proba(X)).all()


def test_history_and_best_epoch_restored():
    images, labels = blob_images(24)
    model = small_model(max_epochs=3, validation_fraction=0.25, early_stopping_patience=10)
    model.fit(images, labels)
    assert [h["epoch"] for h in model.history_] == [1, 2, 3]
    assert set(model.history_[0]) == {
        "epoch",
        "train_loss",
        "val_loss",
        "val_auroc",
        "lr",
        "seconds",
    }
    # Best: the highest patient-level AUROC, ties broken by the lower loss.
    scores = [(h["val_auroc"], -h["val_loss"]) for h in model.history_]
    assert model.best_epoch_ == scores.index(max(scores)) + 1


def test_cross_validation_and_grid_search_run_unchanged():
    from sklearn.model_selection import GridSearchCV, cross_val_score

    images, labels = blob_images(16)
    X = pd.Series([*images, None], name="image")
    y = np.append(labels, 0)
    model = small_model(max_epochs=1)
    scores = cross_val_score(model, images, labels, cv=2, scoring="roc_auc")
    assert scores.shape == (2,) and np.isfinite(scores).all()
    search = GridSearchCV(model, {"aggregate": ["mean_logit", "max_logit"]}, cv=2)
    search.fit(X[:-1], y[:-1])
    assert search.best_params_["aggregate"] in {"mean_logit", "max_logit"}
    assert np.isnan(search.predict_proba(X)[-1]).all()


def test_validation_split_is_over_patients_and_stratified():
    model = small_model(validation_fraction=0.25)
    target = np.array([0, 1] * 10, dtype=np.float32)
    train, valid = model._split_patients(target, np.random.RandomState(0))
    assert len(valid) == 5 and not set(train) & set(valid)
    assert sorted([*train, *valid]) == list(range(20))
    assert 0 < target[valid].sum() < len(valid)


def test_input_forms_agree(fitted, tmp_path):
    from PIL import Image

    model, images, _ = fitted
    expected = model.decision_function(images[:3])
    as_frame = pd.DataFrame({"image": images[:3]})
    np.testing.assert_array_equal(model.decision_function(as_frame), expected)
    np.testing.assert_array_equal(model.decision_function(np.stack(images[:3])), expected)
    as_objects = np.empty(3, dtype=object)
    as_objects[:] = images[:3]
    np.testing.assert_array_equal(model.decision_function(as_objects), expected)
    # Files work too (PNG, read through ramultimodal.io).
    path = tmp_path / "hand.png"
    Image.fromarray((images[0] * 255).astype(np.uint8)).save(path)
    assert np.isfinite(model.decision_function([str(path), [path, path]])).all()
    # Files are decoded once per process, whichever clone asks (cross-validation folds).
    before = model._preprocessor().cache_info()
    clone(model)._preprocessor().load(path)
    assert model._preprocessor().cache_info()["hits"] == before["hits"] + 1


def test_bad_inputs_raise_clear_errors(fitted):
    model, images, labels = fitted
    with pytest.raises(ValueError, match="None of the 3 patients"):
        small_model().fit([None, [], np.nan], [0, 1, 0])
    with pytest.raises(ValueError, match="binary"):
        small_model().fit(images[:4], [0, 0, 0, 0])
    with pytest.raises(ValueError, match="2 columns"):
        model.predict_proba(pd.DataFrame({"a": images[:2], "b": images[:2]}))
    with pytest.raises(ValueError, match="3 patients but y has 2"):
        small_model().fit(images[:3], [0, 1])
    with pytest.raises(TypeError, match="X row 1"):
        model.predict_proba([images[0], 3])
    with pytest.raises(TypeError, match="wrap a single image"):
        model.predict_proba("hand.dcm")
    with pytest.raises(ValueError, match="aggregate"):
        small_model(aggregate="median").fit(images[:4], labels[:4])
    with pytest.raises(ValueError, match="train_crop"):
        small_model(train_crop=0).fit(images[:4], labels[:4])


def test_save_load_round_trip(fitted, tmp_path):
    model, images, _ = fitted
    model.set_params(class_weight={0: 1.0, 1: 3.0})
    try:
        directory = model.save(tmp_path / "model")
    finally:
        model.set_params(class_weight="balanced")
    assert sorted(p.name for p in directory.iterdir()) == [
        ".ramultimodal",
        "config.json",
        "model.safetensors",
    ]
    config = json.loads((directory / "config.json").read_text())
    assert config["format_version"] == 3 and config["classes"] == [0, 1]
    loaded = CNNImageClassifier.load(directory)
    assert loaded.get_params()["class_weight"] == {0: 1.0, 1: 3.0}
    # Each epoch's record but its wall-clock seconds, which save() leaves out.
    assert loaded.history_ == [
        {k: v for k, v in record.items() if k != "seconds"} for record in model.history_
    ]
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    X = [images[0], None, images[1:3]]
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    # Saving again replaces the model; a folder that is not a model is never replaced.
    model.save(directory)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not written by ramultimodal"):
        model.save(tmp_path / "other")
    with pytest.raises(FileNotFoundError, match="not a saved model"):
        CNNImageClassifier.load(tmp_path / "other")
    # A "small" network of format 1 had its layers in another order: refused, not misread.
    config["format_version"], config["params"]["backbone"] = 1, "small"
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"format 1.*Fit the model again"):
        CNNImageClassifier.load(directory)


def test_a_small_network_saved_in_format_2_still_loads(tmp_path):
    # Before "lean" became the default, models were saved as format 2 with backbone "small".
    images, labels = blob_images(8)
    model = small_model(backbone="small", max_epochs=1).fit(images, labels)
    directory = model.save(tmp_path / "small")
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "format_version": 2}))
    loaded = CNNImageClassifier.load(directory)
    assert loaded.backbone == "small" and len(loaded.module_.features) == 34
    np.testing.assert_array_equal(loaded.predict_proba(images), model.predict_proba(images))


def test_the_same_model_saves_the_same_bytes_whatever_its_verbosity(tmp_path):
    # Two fits with the same seed, one with progress bars: the folders are byte for byte
    # the same (no wall-clock time, verbose saved as 0, the weights' header in one order),
    # and the loaded model is silent.
    images, labels = blob_images(8)
    quiet = small_model(max_epochs=1).fit(images, labels).save(tmp_path / "quiet")
    shown = small_model(max_epochs=1, verbose=1).fit(images, labels).save(tmp_path / "shown")
    for name in ("config.json", "model.safetensors"):
        assert (quiet / name).read_bytes() == (shown / name).read_bytes(), name
    assert CNNImageClassifier.load(shown).verbose == 0


def test_feature_names_and_pandas_output(fitted):
    model, images, _ = fitted
    names = model.get_feature_names_out()
    assert names[0] == "cnnimageclassifier0" and len(names) == 256
    frame = clone(model).set_output(transform="pandas")
    frame.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    X = pd.Series(images[:2], index=["p1", "p2"])
    out = frame.transform(X)
    assert list(out.columns[:2]) == ["cnnimageclassifier0", "cnnimageclassifier1"]


# --------------------------------------------------------------------------- backbones
def test_every_backbone_name_is_known():
    assert BACKBONES[:2] == ("small", "lean") and "resnet18" in BACKBONES
    assert "convnext_tiny" in BACKBONES and CNNImageClassifier().backbone == "lean"
    with pytest.raises(ValueError, match="Unknown backbone 'vgg'"):
        build_backbone("vgg")


def test_small_backbone_pools_before_the_second_batchnorm_of_each_stage():
    net = build_backbone("small")
    kinds = [type(layer).__name__ for layer in net.features]
    stage = ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU"]
    assert kinds == stage * 4 + [k for k in stage if k != "MaxPool2d"]
    with torch.no_grad():
        assert net.features(torch.rand(2, 1, 64, 64)).shape == (2, 256, 2, 2)


def _conv_multiply_adds(net: torch.nn.Module, side: int) -> int:
    total = 0

    def count(conv, _, output):
        nonlocal total
        total += output.numel() * conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]

    hooks = [
        m.register_forward_hook(count) for m in net.modules() if isinstance(m, torch.nn.Conv2d)
    ]
    with torch.no_grad():
        net.eval()(torch.zeros(1, 1, side, side))
    for hook in hooks:
        hook.remove()
    return total


def test_lean_backbone_pools_its_stem_at_once_and_costs_less_than_small():
    net = build_backbone("lean")
    kinds = [type(layer).__name__ for layer in net.features]
    single = ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU"]
    double = ["Conv2d", "BatchNorm2d", "ReLU", *single]
    assert kinds == single * 3 + double + [k for k in double if k != "MaxPool2d"]
    assert net.features[0].stride == (2, 2) and net.features[0].kernel_size == (7, 7)
    assert net.features[1].kernel_size == 2
    with torch.no_grad():
        assert net.features(torch.rand(2, 1, 64, 64)).shape == (2, 256, 2, 2)
    assert net.num_features == build_backbone("small").num_features == 256
    ratio = _conv_multiply_adds(net, 256) / _conv_multiply_adds(build_backbone("small"), 256)
    assert ratio < 0.65


def test_torchvision_backbone_takes_one_channel():
    net = build_backbone("resnet18").eval()
    with torch.no_grad():
        logits = net(torch.rand(2, 1, SIZE, SIZE))
        embedding = net.embed(torch.rand(2, 1, SIZE, SIZE))
    assert logits.shape == (2, 1) and embedding.shape == (2, 512)
    assert net.features[0].in_channels == 1


def test_torchvision_state_dict_is_summed_over_colour(tmp_path):
    import torchvision

    rgb = torchvision.models.resnet18(weights=None)
    torch.save(rgb.state_dict(), tmp_path / "resnet18.pth")
    net = build_backbone("resnet18", weights=tmp_path / "resnet18.pth")
    torch.testing.assert_close(net.features[0].weight, rgb.conv1.weight.sum(dim=1, keepdim=True))
    torch.testing.assert_close(net.features[4][0].conv1.weight, rgb.layer1[0].conv1.weight)
    # A state dict of the one-channel backbone itself loads back unchanged.
    from safetensors.torch import save_file

    save_file(net.state_dict(), tmp_path / "own.safetensors")
    again = build_backbone("resnet18", weights=tmp_path / "own.safetensors")
    torch.testing.assert_close(again.features[0].weight, net.features[0].weight)


def test_weights_name_missing_from_hub_cache_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match="not in the torch hub cache") as error:
        build_backbone("resnet18", weights="ResNet18_Weights.IMAGENET1K_V1")
    assert "resnet18-f37072fd.pth" in str(error.value)
    assert str(tmp_path / "checkpoints") in str(error.value)
    with pytest.raises(ValueError, match="no pretrained torchvision"):
        build_backbone("small", weights="ResNet18_Weights.IMAGENET1K_V1")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_backbone("small", weights=tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="do not fit"):
        torch.save({"nonsense": torch.zeros(1)}, tmp_path / "bad.pt")
        build_backbone("small", weights=tmp_path / "bad.pt")
