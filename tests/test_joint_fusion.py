"""The joint grades as a fusion's radiograph modality: recipes, model folder, CLI, words."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from ramultimodal.cli import main
from ramultimodal.fusion import ModelFolderError, load_model, save_model, survival_y
from ramultimodal.image import JointScoreFeatures, JointScoreTransformer
from ramultimodal.image._hand_sides import file_laterality, hand_sides
from ramultimodal.io import read_cohort, read_image, read_joints_csv, write_dicom
from ramultimodal.models import ConfigError, make_model, make_pipeline
from ramultimodal.terminology.joints import JOINTS

pytestmark = pytest.mark.usefixtures("one_blas_thread")

# Small joint models at 64 px, that find most joints (about 15 s); and tiny ones, that
# find none, for the plumbing of training them inside 'ramultimodal train'.
JOINT_PARAMS = {"image_size": 64, "locator_width": 8, "locator_epochs": 20, "max_spread": 4.0,
                "epochs": 3}  # fmt: skip
TINY_PARAMS = {"image_size": 64, "locator_width": 8, "locator_epochs": 2, "epochs": 1}
# DICOM first (images.csv names the .dcm files): their Image Laterality says which hand.
SYNTH = ["--image-size", "96", "--images-per-patient", "2", "--formats", "csv", "dicom", "png",
         "-q"]  # fmt: skip


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("joint-fusion") / "c"
    args = ["synth", str(folder), "--n-patients", "40", "--seed", "11", "--prevalence", "0.5"]
    assert main([*args, *SYNTH]) == 0
    return folder


@pytest.fixture(scope="module")
def records(cohort):
    return read_cohort(cohort)


@pytest.fixture(scope="module")
def joint_model(cohort, records):
    paths = [[p] for p in records.images["path"]]
    return JointScoreTransformer(**JOINT_PARAMS).fit(
        paths, joints=read_joints_csv(cohort / "joints.csv")
    )


def _fit(kind, records, joint_model, image_model="joints"):
    cv = {} if kind == "survival-late" else {"fusion_params": {"cv": 2}}
    image = {"image_params": {"image_size": 64, "max_epochs": 1}} if image_model == "both" else {}
    pipeline = make_pipeline(kind, image_model=image_model, joint_model=joint_model, **cv, **image)
    target = records.labels.to_numpy()
    if kind == "survival-late":
        target = survival_y(records.follow_up)
    return pipeline.fit(records, target)


@pytest.mark.parametrize("kind", ["late", "stacking", "early", "survival-late"])
def test_joint_modality_saves_and_loads_with_identical_predictions(
    kind, records, joint_model, tmp_path
):
    pipeline = _fit(kind, records, joint_model)
    fusion = pipeline._final_estimator
    assert "joints" in fusion.modality_names_ and "image" not in fusion.modality_names_
    before = pipeline.predict_proba(records)
    folder = save_model(pipeline, tmp_path / "model")
    manifest = json.loads((folder / "manifest.json").read_text())
    saved = [name for name in manifest["files"] if "JointScoreTransformer" in name]
    # The joint models are their own plain files, each with its sha256; nothing pickled.
    assert sorted(name.rsplit("/", 1)[1] for name in saved) == [
        "config.json", "grades.safetensors", "heatmaps.safetensors", "refine.safetensors",
        "wrist_grades.safetensors",
    ]  # fmt: skip
    assert all(name.endswith((".json", ".txt", ".safetensors")) for name in manifest["files"])
    loaded = load_model(folder)
    after = loaded.predict_proba(records)
    assert np.array_equal(before, after, equal_nan=True)


def test_a_patient_without_a_radiograph_has_no_joint_modality(records, joint_model):
    pipeline = _fit("late", records, joint_model)
    table = pipeline._final_estimator.predict_modalities(pipeline.features(records))
    without = ~table["has_joints"]
    assert without.any() and table["has_joints"].any()
    assert table.loc[without, "proba_joints"].isna().all()
    assert table.loc[~without, "proba_joints"].notna().all()
    # The fusion answers them from the other modalities, as for a missing CNN.
    assert table["proba"].notna().all()


def test_both_reads_the_radiographs_twice(records, joint_model):
    pipeline = _fit("early", records, joint_model, image_model="both")
    fusion = pipeline._final_estimator
    assert fusion.modality_names_[:2] == ["image", "joints"]
    names = fusion.get_feature_names_out().tolist()
    assert "joints__svdh_total" in names and "joints__erosion_mcp2_right" in names
    assert "joints__svdh_total_left" in names and "joints__narrowing_pip3_left" in names


def test_the_survival_fusion_explains_its_risk_with_the_joint_modality(records, joint_model):
    from ramultimodal.evaluation._contributions import SURVIVAL_SCORE, explain_fusion

    pipeline = _fit("survival-late", records, joint_model)
    X = pipeline.features(records)
    explanation = explain_fusion(pipeline._final_estimator, X)
    table = explanation.modalities
    parts = table.filter(like="contribution_").sum(axis=1)
    np.testing.assert_allclose(parts, pipeline._final_estimator.predict(X))
    assert set(table["explained"]) == {SURVIVAL_SCORE}
    assert "modality:joints" in explanation.features  # its classifier's say, as one item


def test_explanations_name_the_joint_grades(records, joint_model):
    from ramultimodal.evaluation._contributions import explain_fusion
    from ramultimodal.evaluation._reasons import reasons

    pipeline = _fit("late", records, joint_model)
    X = pipeline.features(records)
    explanation = explain_fusion(pipeline._final_estimator, X)
    parts = explanation.modalities.filter(like="contribution_")
    assert np.allclose(parts.sum(axis=1), explanation.modalities["logit"])
    assert {"erosion_mcp2_right", "narrowing_pip3_left", "svdh_total", "svdh_total_right"} <= set(
        explanation.features
    )
    # The grades' parts and the modality's differ by the model's intercept only (the same
    # for every patient who has all modalities: each weighs the same in the fusion).
    joints = [c for c in explanation.features if c.startswith(("erosion_", "narrowing_"))]
    joints += [c for c in explanation.features if c.startswith(("svdh_", "joints_found"))]
    everything = explanation.presence.all(axis=1).to_numpy()
    summed = explanation.features[joints].fillna(0).sum(axis=1).to_numpy()
    gap = explanation.modalities["contribution_joints"].to_numpy() - summed
    assert everything.sum() > 5 and np.ptp(gap[everything]) < 1e-9
    words = reasons(explanation, k=len(explanation.features.columns)).to_numpy().ravel()
    # "+0.12 erosion MCP2 right = 0.4 of 5": each grade names its hand.
    assert any(re.fullmatch(r"[-+]\S+ erosion \S+ (right|left) = \S+ of 5", str(w)) for w in words)
    assert any(
        re.fullmatch(r"[-+]\S+ narrowing \S+ (right|left) = \S+ of 4", str(w)) for w in words
    )
    assert any(str(w).split()[1:3] == ["SvdH", "total"] for w in words)


def test_joint_words():
    from ramultimodal.ehr._feature_text import describe_feature, feature_label

    assert describe_feature("erosion_mcp2_right", 2.0) == "erosion MCP2 right = 2 of 5"
    assert describe_feature("narrowing_pip3_left", 1.0) == "narrowing PIP3 left = 1 of 4"
    assert describe_feature("erosion_ulnar_styloid_left", np.nan) == (
        "erosion ulnar styloid left: no grade (hand not imaged or joint not found)"
    )
    assert describe_feature("svdh_total_right", 7.46) == "SvdH total, right hand = 7.5 of 105"
    assert describe_feature("svdh_erosion_left", 3.0) == "SvdH erosion total, left hand = 3 of 65"
    assert describe_feature("svdh_total", 7.46) == "SvdH total (hands imaged) = 7.5"
    assert describe_feature("joints_found", 0.93).endswith("= 93%")
    assert feature_label("svdh_erosion_sd") == "SD of the SvdH erosion total"
    # JointScoreTransformer.transform's own columns pool the hands, and say so.
    assert describe_feature("erosion_mcp2", 2.0) == "erosion MCP2 = 2 of 5 (worse hand)"
    assert describe_feature("erosion_ulnar_styloid", np.nan) == "erosion ulnar styloid: not found"


def _image_alone(joint_model, path):
    """One image's grades by joint, and its side as the DICOM (else the thumb) says it."""
    scores = joint_model.score_images([path])
    image_id = scores["image_id"].iloc[0]
    side = hand_sides(scores, {image_id: file_laterality(path)})[image_id][0]
    return scores.set_index("joint"), side


def test_features_are_per_hand(cohort, records, joint_model):
    features = JointScoreFeatures(joint_model).fit()
    X = pd.Series(records.image_lists(), index=records.subject_ids)
    table = features.transform(X)
    assert table.shape[1] == 81 and list(table.columns[:2]) == ["erosion_cmc1_right",
                                                               "erosion_mcp1_right"]  # fmt: skip
    manifest = pd.read_csv(cohort / "images.csv")
    true_side = dict(zip(manifest["path"].map(lambda p: Path(p).stem), manifest["laterality"],
                         strict=True))  # fmt: skip
    checked = 0
    for subject, paths in X.items():
        if len(paths) != 2:
            continue
        row = table.loc[subject]
        for path in paths:
            scores, side = _image_alone(joint_model, path)
            assert side == true_side[Path(path).stem]
            word = {"R": "right", "L": "left"}[side]
            for joint in JOINTS:
                for kind in ("erosion", "narrowing"):
                    expected = scores.loc[joint, kind] if scores.loc[joint, "found"] else np.nan
                    assert np.isclose(row[f"{kind}_{joint}_{word}"], expected, equal_nan=True)
            checked += 1
    assert checked >= 40
    # No radiograph: every column NaN; both hands: the totals over all add the two hands'.
    assert table.loc[X.map(len) == 0].isna().all().all()
    both = table.dropna(subset=["svdh_total_right", "svdh_total_left"])
    assert len(both) >= 15
    assert np.allclose(both["svdh_total"], both["svdh_total_right"] + both["svdh_total_left"])
    assert (both["svdh_total_right"] != both["svdh_total_left"]).all()


def test_the_thumb_tells_the_side(cohort):
    # Without a laterality, the true joints' places give the manifest's side every time.
    truth = read_joints_csv(cohort / "joints.csv")
    sides = hand_sides(truth.drop(columns="laterality").assign(found=True))
    expected = truth.groupby(truth["image_id"].astype(str))["laterality"].first()
    assert {image: side for image, (side, _) in sides.items()} == expected.to_dict()
    assert {source for _, source in sides.values()} == {"thumb side"}


def test_a_dicoms_laterality_decides_the_hand(cohort, joint_model, tmp_path):
    pixels, _ = read_image(sorted((cohort / "images").glob("*.dcm"))[0])
    rows = {}
    for side in ("R", "L"):
        path = tmp_path / f"{side}.dcm"
        write_dicom(path, np.round(pixels * 4095).astype(np.uint16), patient_id="p",
                    study_date="2020-01-01", study_uid="1.2.3", series_uid="1.2.3.1",
                    sop_uid="1.2.3.1.1", laterality=side, pixel_spacing_mm=0.2)  # fmt: skip
        rows[side] = JointScoreFeatures(joint_model).fit().transform([[str(path)]]).iloc[0]
    right, left = rows["R"], rows["L"]
    assert right.filter(regex="_left$").isna().all() and left.filter(regex="_right$").isna().all()
    named = right.filter(regex="_right$")
    assert named.notna().sum() > 5
    assert np.array_equal(named.to_numpy(), left.filter(regex="_left$").to_numpy(), equal_nan=True)


def _without_state(node, name):
    """Drop the fitted state of every `name` estimator in a model.json tree."""
    if isinstance(node, dict):
        if node.get("class", "").endswith(name):
            node["state"] = {}
        for value in node.values():
            _without_state(value, name)
    elif isinstance(node, list):
        for value in node:
            _without_state(value, name)


def test_a_folder_of_pooled_hands_is_refused(records, joint_model, tmp_path):
    import hashlib

    folder = save_model(_fit("late", records, joint_model), tmp_path / "model")
    # What the code before per-hand features saved: a JointScoreFeatures with no state.
    tree = json.loads((folder / "model.json").read_text())
    _without_state(tree, ".JointScoreFeatures")
    (folder / "model.json").write_text(json.dumps(tree))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["model.json"] = hashlib.sha256(
        (folder / "model.json").read_bytes()
    ).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFolderError, match="before the joint features were per hand"):
        load_model(folder)


def test_recipes_refuse_what_does_not_fit(tmp_path):
    with pytest.raises(ConfigError, match="image_model must be one of"):
        make_model("late", ehr_columns=["crp"], image_model="joint")
    with pytest.raises(ConfigError, match="is the CNN alone"):
        make_model("image", ehr_columns=["crp"], image_model="joints")
    with pytest.raises(ConfigError, match="image_params are the CNN's"):
        make_model("late", ehr_columns=["crp"], image_model="joints", image_params={"a": 1})
    with pytest.raises(ConfigError, match="is not a saved JointScoreTransformer"):
        make_model("late", ehr_columns=["crp"], image_model="joints", joint_model=tmp_path)
    # No joint model yet: the recipe is built (train trains one first), and refuses to fit.
    with pytest.raises(NotFittedError, match="needs a trained JointScoreTransformer"):
        JointScoreFeatures().fit(pd.Series([["a.png"]]))


def _predict(model, data, out, *more):
    assert main(["predict", "--model", str(model), "--data", str(data), "--out", str(out),
                 "-q", *more]) == 0  # fmt: skip
    return pd.read_csv(out)


def test_cli_trains_the_joint_models_then_the_fusion(cohort, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"joint_params": TINY_PARAMS, "fusion_params": {"cv": 2}}))
    model = tmp_path / "model"
    train = ["train", "--data", str(cohort), "--model", "early", "--out", str(model), "-q"]
    assert main([*train, "--image-model", "joints", "--config", str(config)]) == 0
    table = _predict(model, cohort, tmp_path / "p.csv")
    assert table["proba"].notna().all() and table["has_joints"].any()
    facts = json.loads((model / "training.json").read_text())["model"]["parameters"]
    assert facts["model__joints__model__locator_epochs"] == TINY_PARAMS["locator_epochs"]


def test_cli_predicts_with_trained_joint_models_and_explains(cohort, joint_model, tmp_path, capsys):
    joints = joint_model.save(tmp_path / "joints")
    model = tmp_path / "model"
    train = ["train", "--data", str(cohort), "--model", "late", "--out", str(model), "-q"]
    assert main([*train, "--image-model", "early"]) == 2  # argparse: not a choice
    capsys.readouterr()
    assert main([*train, "--image-model", "joints", "--joint-model", str(joints)]) == 0
    new = tmp_path / "new"
    assert main(["synth", str(new), "--n-patients", "8", "--seed", "12", *SYNTH]) == 0
    pages = tmp_path / "pages"
    table = _predict(model, new, tmp_path / "p.csv", "--explain", "--patient-report", str(pages))
    assert {"proba", "proba_joints", "has_joints", "contribution_joints", "reason_1"} <= set(table)
    assert table["proba"].notna().all()
    assert table.loc[~table["has_joints"], "proba_joints"].isna().all()
    reasons = table.filter(like="reason_").fillna("").to_numpy().ravel()
    assert any(re.search(r" (right|left)( hand)? = ", text) for text in reasons)
    # The pages show the hands of the patients who have a radiograph, from the fusion's own
    # joint models.
    first = table["has_joints"].to_numpy().argmax()
    assert "Hand diagram" in (pages / f"patient-{first + 1:04d}.html").read_text()


def test_train_without_joints_csv_says_what_to_do(cohort, tmp_path, capsys):
    copy = tmp_path / "c"
    shutil.copytree(cohort, copy)
    (copy / "joints.csv").unlink()
    args = ["train", "--data", str(copy), "--model", "early", "--out", str(tmp_path / "m")]
    assert main([*args, "--image-model", "joints", "-q"]) == 1
    assert "joints.csv not found" in capsys.readouterr().err
