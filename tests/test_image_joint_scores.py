"""Per-joint grading (`JointScoreTransformer`) and the ordinal arithmetic behind it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ramultimodal.image import JointScoreTransformer
from ramultimodal.image._joint_crops import crop_joints
from ramultimodal.image._joint_scores import grade_distribution
from ramultimodal.synthetic import make_cohort, write_cohort
from ramultimodal.terminology.joints import JOINTS


def test_grade_distribution_from_cumulative_logits():
    logits = np.array([[10.0, 10.0, -10.0, -10.0], [0.0, -50.0, -50.0, -50.0]])
    p, expected, sd = grade_distribution(logits)
    assert p.shape == (2, 5)
    assert np.allclose(p.sum(1), 1.0)
    assert expected[0] == pytest.approx(2.0, abs=1e-3) and sd[0] == pytest.approx(0.0, abs=0.02)
    # Grade 0 or 1 at even odds: mean 0.5, SD 0.5.
    assert expected[1] == pytest.approx(0.5) and sd[1] == pytest.approx(0.5)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    made = make_cohort(10, image_size=64, seed=5, images_per_patient=2, image_missing_rate=0.0,
                       prevalence=0.9)  # fmt: skip
    folder = write_cohort(made, tmp_path_factory.mktemp("s") / "c", formats=["png"])
    images = pd.read_csv(folder / "images.csv")
    X = images.groupby("subject_id", sort=False)["path"].agg(
        lambda paths: [str(folder / p) for p in paths]
    )
    return X, pd.read_csv(folder / "joints.csv")


@pytest.fixture(scope="module")
def fitted(cohort):
    X, joints = cohort
    model = JointScoreTransformer(
        image_size=64, locator_width=8, locator_epochs=60, max_spread=4.0, epochs=3
    )
    return model.fit(X, joints=joints)


def test_transform_gives_joint_and_total_columns(fitted, cohort):
    X, _ = cohort
    scores = fitted.transform(X)
    names = fitted.get_feature_names_out().tolist()
    assert scores.columns.tolist() == names
    assert len(names) == 2 * len(JOINTS) + 7
    assert {"erosion_mcp2", "narrowing_pip3", "svdh_total", "svdh_total_sd"} <= set(names)
    assert scores.index.tolist() == X.index.tolist()
    erosion = scores["svdh_erosion"].dropna()
    assert (erosion >= 0).all() and (scores["svdh_erosion_sd"].dropna() >= 0).all()
    # The total is the sum of its parts, and its SD at least the larger part's.
    assert np.allclose(scores["svdh_total"], scores["svdh_erosion"] + scores["svdh_narrowing"])
    assert (scores["svdh_total_sd"] >= scores["svdh_erosion_sd"] - 1e-9).all()


def test_a_patient_without_a_radiograph_gets_nan(fitted, cohort):
    X, _ = cohort
    scores = fitted.transform([X.iloc[0], [], None])
    assert scores.iloc[0][["svdh_total", "joints_found"]].notna().all()
    assert scores.iloc[1:].isna().all().all()


def test_score_images_gives_grade_probabilities(fitted, cohort):
    X, _ = cohort
    table = fitted.score_images(X.iloc[0])
    assert len(table) == 2 * len(JOINTS)
    found = table[table["found"]]
    probabilities = found[[f"erosion_p{g}" for g in range(6)]].to_numpy()
    assert np.allclose(probabilities.sum(1), 1.0)
    assert found["narrowing"].between(0, 4).all()


def test_saved_model_loads_and_serves_as_pretrained(fitted, cohort, tmp_path):
    X, _ = cohort
    folder = fitted.save(tmp_path / "scores")
    assert sorted(p.name for p in folder.iterdir()) == [
        ".ramultimodal", "config.json", "grades.safetensors", "heatmaps.safetensors",
        "refine.safetensors", "wrist_grades.safetensors",
    ]  # fmt: skip
    expected = fitted.transform(X)
    pd.testing.assert_frame_equal(JointScoreTransformer.load(folder).transform(X), expected)
    # pretrained=: fit loads and learns nothing, so a clone in a fusion costs no training.
    from sklearn.base import clone

    again = clone(JointScoreTransformer(pretrained=folder)).fit(X, np.zeros(len(X)))
    pd.testing.assert_frame_equal(again.transform(X), expected)


def test_a_folder_saved_before_crop_spans_and_the_second_stage_loads(fitted, cohort, tmp_path):
    import json

    X, _ = cohort
    folder = fitted.save(tmp_path / "old")
    config = json.loads((folder / "config.json").read_text())
    for name in ("crop_span", "wrist_crop_span", "wrist_crop_size", "erosion_weighting",
                 "refine_epochs"):  # fmt: skip
        del config["params"][name]
    for name in ("refine", "refine_size", "refine_width", "refine_epochs"):
        del config["locator_params"][name]
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "refine.safetensors").unlink()
    (folder / "wrist_grades.safetensors").unlink()
    # The grader of then graded the wrist too, at the finger joints' crop.
    state = fitted.grader_.state_dict()
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, folder / "grades.safetensors")
    old = JointScoreTransformer.load(folder)
    assert old.crop_span == 1.6 and old.wrist_crop_span is None
    assert old.wrist_crop_size is None and old.wrist_grader_ is None
    assert old.locator_.refiner_ is None
    expected = old.transform(X)
    assert expected.shape == fitted.transform(X).shape
    # Through pretrained=, whose own parameters are this version's defaults: it reads as
    # the saved model was trained, and saves so.
    again = JointScoreTransformer(pretrained=folder).fit(X)
    pd.testing.assert_frame_equal(again.transform(X), expected)
    resaved = JointScoreTransformer.load(again.save(tmp_path / "again"))
    assert resaved.wrist_grader_ is None and resaved.crop_span == 1.6
    pd.testing.assert_frame_equal(resaved.transform(X), expected)


def test_a_development_folder_without_its_wrist_grader_says_what_to_do(fitted, tmp_path):
    folder = fitted.save(tmp_path / "dev")
    (folder / "wrist_grades.safetensors").unlink()
    with pytest.raises(ValueError, match=r"lacks \(wrist_grades\.safetensors\).*Train it again"):
        JointScoreTransformer.load(folder)


def test_wrist_crops_are_wider():
    from ramultimodal.image._joint_crops import crop_joints

    image = np.zeros((100, 100), np.float32)
    image[45:55, 45:55] = 1.0
    narrow, wide = crop_joints(image, np.array([[49.5, 49.5]] * 2), 10.0, 16, span=[1.0, 2.0])
    # The same square fills the narrow crop more than the wide one.
    assert narrow.mean() > 2 * wide.mean()


def test_the_wrist_has_a_grader_of_its_own(fitted, cohort, tmp_path):
    X, joints = cohort
    assert fitted.wrist_grader_ is not None
    # Its views: wider than a finger joint's crop, at more pixels, and turned in training.
    pixels = np.zeros((64, 64), np.float32)
    pixels[28:36, 28:36] = 1.0
    point = np.array([[31.5, 31.5]], np.float32)
    wrist = fitted._wrist_crops(pixels, point, 8.0)
    finger = crop_joints(pixels, point, 8.0, fitted.crop_size, span=fitted.crop_span)
    assert np.allclose(finger, fitted._finger_crops(pixels, point, 8.0))
    assert wrist.shape == (1, 1, 64, 64) and finger.shape == (1, 32, 32)
    assert wrist.mean() < finger.mean()  # the square fills less of the wider crop
    views = fitted._wrist_crops(pixels, point, 8.0, np.random.default_rng(0))
    assert views.shape == (6, 1, 64, 64) and len({float(v.sum()) for v in views}) == 6
    # The wrist's grades come from its grader: change it, and only the wrist's change.
    table = fitted.score_images(X.iloc[0])
    other = JointScoreTransformer.load(fitted.save(tmp_path / "m"))
    with torch.no_grad():
        other.wrist_grader_.erosion_score.bias += 5.0
    changed = other.score_images(X.iloc[0])
    moved = ~np.isclose(changed["erosion"], table["erosion"]) & table["found"]
    assert set(table.loc[moved, "joint"]) == {"wrist"}
    # Shared, as before the wrist's grader: no second network.
    shared = JointScoreTransformer(**{**fitted.get_params(), "wrist_crop_span": None,
                                      "wrist_crop_size": None})  # fmt: skip
    shared.locator_ = fitted.locator_
    shared._fit_grader([path for paths in X for path in paths], joints)
    assert shared.wrist_grader_ is None
    assert "wrist_grades.safetensors" not in {p.name for p in shared.save(tmp_path / "s").iterdir()}
    graded = shared.score_images(X.iloc[0])
    assert graded.loc[graded["found"], "erosion"].between(0, 5).all()


def test_a_joints_table_without_wrists_is_refused_for_the_wrist_grader(fitted, cohort):
    X, joints = cohort
    model = JointScoreTransformer(**fitted.get_params())
    model.locator_ = fitted.locator_
    with pytest.raises(ValueError, match="grades no wrist: add each image's wrist"):
        model._fit_grader([p for paths in X for p in paths], joints[joints["joint"] != "wrist"])


def test_rare_erosion_grades_can_weigh_more():
    from ramultimodal.image._joint_scores import _grade_weights

    grades = torch.tensor([0] * 16 + [1] * 4 + [3])
    weights = _grade_weights(grades, "inverse_sqrt_frequency")
    assert weights.mean().item() == pytest.approx(1.0)
    # One over the square root of the share: grade 3 (1 in 21) twice grade 1 (4 in 21).
    assert weights[-1].item() == pytest.approx(2 * weights[16].item())
    assert torch.equal(_grade_weights(grades, None), torch.ones(21))
    with pytest.raises(ValueError, match="erosion_weighting"):
        _grade_weights(grades, "balanced")


@pytest.mark.parametrize(
    ("params", "message"),
    [({"wrist_crop_size": 0}, "wrist_crop_size=0 must be a whole number of pixels"),
     ({"crop_span": -1.0}, "crop_span=-1.0 must be a positive number"),
     ({"wrist_crop_span": float("nan")}, "wrist_crop_span=nan")],
)  # fmt: skip
def test_a_crop_no_grader_can_read_is_refused_before_training(cohort, params, message):
    X, joints = cohort
    with pytest.raises(ValueError, match=message):
        JointScoreTransformer(**params).fit(X, joints=joints)


def test_fit_without_joints_says_what_it_needs(cohort):
    X, _ = cohort
    with pytest.raises(ValueError, match="needs joints="):
        JointScoreTransformer().fit(X)


def test_joints_command_trains_then_grades(tmp_path, capsys):
    from ramultimodal.cli import main

    data = tmp_path / "c"
    small = ["--n-patients", "3", "--seed", "4", "--image-size", "64", "--quiet"]
    assert main(["synth", str(data), *small, "--formats", "png"]) == 0
    model = tmp_path / "m"
    args = ["--image-size", "64", "--epochs", "2", "--grader-epochs", "1"]
    assert main(["joints", "train", "--data", str(data), "--out", str(model), *args]) == 0
    image = next((data / "images").iterdir())
    out = tmp_path / "scores.csv"
    assert main(["joints", "predict", str(image), "--model", str(model), "--out", str(out)]) == 0
    scores = pd.read_csv(out)
    assert len(scores) == len(JOINTS) and {"found", "erosion", "narrowing_sd"} <= set(scores)
    assert main(["joints", "train", "--data", str(tmp_path), "--out", str(model)]) == 1
    assert "images.csv not found" in capsys.readouterr().err
    # An output already there: refused before any training, replaced with --force only
    # when ramultimodal wrote it.
    before = (model / "config.json").read_bytes()
    assert main(["joints", "train", "--data", str(data), "--out", str(model), *args]) == 1
    assert "already exists" in capsys.readouterr().err
    assert (model / "config.json").read_bytes() == before
    assert main(["joints", "train", "--data", str(data), "--out", str(model), *args,
                 "--force"]) == 0  # fmt: skip
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    assert main(["joints", "train", "--data", str(data), "--out", str(theirs), *args,
                 "--force"]) == 1  # fmt: skip
    assert "not written by ramultimodal" in capsys.readouterr().err
    assert (theirs / "notes.txt").read_text() == "mine"
    out.write_text("my own table\n")
    predict = ["joints", "predict", str(image), "--model", str(model), "--out", str(out)]
    assert main([*predict, "--force"]) == 1
    assert out.read_text() == "my own table\n"
