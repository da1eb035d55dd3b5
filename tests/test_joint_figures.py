"""The pictures of the joint models: hand diagrams, joints on the radiograph, and the CLI.

Most tests draw a joints table made from a synthetic cohort's truth (no model needed); the
CLI tests train a one-epoch model on a few 64 px radiographs, which takes seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ramultimodal.cli import main
from ramultimodal.evaluation import (
    hand_sides,
    plot_hand_diagram,
    plot_joints_on_radiograph,
    write_joint_figures,
)
from ramultimodal.evaluation._joint_overlay import save_figure
from ramultimodal.synthetic import make_cohort, write_cohort
from ramultimodal.terminology.joints import JOINTS


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Three patients, both hands, as PNG and DICOM, with their joints.csv."""
    made = make_cohort(3, image_size=96, seed=7, images_per_patient=2, image_missing_rate=0.0,
                       prevalence=1.0)  # fmt: skip
    return write_cohort(made, tmp_path_factory.mktemp("c") / "c", formats=["png", "dicom"])


@pytest.fixture(scope="module")
def truth(cohort):
    return pd.read_csv(cohort / "joints.csv", dtype={"image_id": str})


def scores_from(truth: pd.DataFrame, not_found: tuple[str, ...] = ()) -> pd.DataFrame:
    """A score_images-like table: every joint at its true place with its true grades."""
    scores = truth[["image_id", "joint", "x", "y", "erosion", "narrowing"]].copy()
    scores["erosion"] = scores["erosion"] + 0.3
    scores["found"], scores["confidence"] = True, 0.9
    lost = scores["joint"].isin(not_found)
    scores.loc[lost, ["found"]] = False
    scores.loc[lost, ["x", "y", "erosion", "narrowing"]] = np.nan
    return scores


def texts(figure) -> list[str]:
    return [text.get_text() for axes in figure.axes for text in axes.texts]


def test_hand_diagram_png_of_both_hands_with_truth(truth, tmp_path):
    patient = truth[truth["subject_id"] == truth["subject_id"].iloc[0]]
    assert sorted(patient["laterality"].unique()) == ["L", "R"]
    figure = plot_hand_diagram(scores_from(patient, ("pip5", "dip2")), patient, title="Patient 1")
    png = save_figure(figure, tmp_path / "hands.png")
    assert Image.open(png).size == (800, 760)
    drawn = texts(figure)
    # Two hands, erosion and narrowing: each joint not found is marked four times, with no grade.
    assert drawn.count("n.f.") == 2 * 2 * 2
    titles = [axes.get_title() for axes in figure.axes]
    assert any(title.startswith("right hand: SvdH erosion") for title in titles)
    assert any(title.startswith("left hand: SvdH narrowing") for title in titles)
    # The true grades are beside the joints: one per joint, hand and scale.
    assert sum(text.startswith("[") for text in drawn) == 2 * 2 * len(JOINTS)


def test_hand_diagram_of_one_hand_says_the_other_is_missing(truth):
    one = truth[truth["image_id"] == truth["image_id"].iloc[0]]
    figure = plot_hand_diagram(scores_from(one))
    titles = [axes.get_title() for axes in figure.axes]
    other = "left hand" if one["laterality"].iloc[0] == "R" else "right hand"
    assert f"{other}: no radiograph" in titles
    # No truth given: no bracketed grade, and the side came from the thumb's place.
    assert not any(text.startswith("[") for text in texts(figure))
    assert any("side read from the thumb" in title for title in titles)


def test_hand_sides_from_the_thumb_match_the_truth(truth):
    sides = hand_sides(scores_from(truth))
    expected = truth.groupby("image_id")["laterality"].first()
    assert {image: side for image, (side, _) in sides.items()} == expected.to_dict()
    assert {source for _, source in sides.values()} == {"thumb side"}


def test_nothing_found_draws_no_hand_and_says_why(truth):
    one = truth[truth["image_id"] == truth["image_id"].iloc[0]]
    figure = plot_hand_diagram(scores_from(one, JOINTS))
    assert "not drawn: which hand is not known (no joint found)" in figure.get_supxlabel()
    assert "n.f." not in texts(figure)


@pytest.mark.parametrize(
    "change, error, words",
    [
        (lambda s: s.drop(columns="found"), ValueError, "lacks column(s) ['found']"),
        (lambda s: s.assign(joint="knee"), ValueError, "unknown joint(s) ['knee']"),
        (lambda s: s.to_numpy(), TypeError, "must be a DataFrame"),
        (lambda s: s.assign(laterality="X"), ValueError, "neither 'L' nor 'R'"),
        (lambda s: s.iloc[:0], ValueError, "scores is empty"),
    ],
)
def test_wrong_scores_give_one_clear_error(truth, change, error, words):
    scores = scores_from(truth[truth["image_id"] == truth["image_id"].iloc[0]])
    with pytest.raises(error) as raised:
        plot_hand_diagram(change(scores))
    assert words in str(raised.value)


def test_joints_on_the_radiograph(cohort, truth, tmp_path):
    image_id = truth["image_id"].iloc[0]
    scores = scores_from(truth[truth["image_id"] == image_id], ("mcp4", "ulnar_styloid"))
    figure = plot_joints_on_radiograph(cohort / "images" / f"{image_id}.dcm", scores)
    png = save_figure(figure, tmp_path / "radiograph.png")
    assert Image.open(png).size == (800, 600)
    labels = [text.get_text() for text in figure.axes[0].texts]
    assert len(labels) == len(JOINTS) - 2 and "MCP2 0.90" in labels
    listed = figure.axes[1].texts[0].get_text()
    assert "found 15 of 17 joints" in listed
    assert "0.3±" not in listed  # no SD columns, no SD shown
    with_sd = scores.assign(erosion_sd=0.25, narrowing_sd=0.5)
    listed = plot_joints_on_radiograph(np.zeros((96, 96)), with_sd).axes[1].texts[0].get_text()
    assert "±0.5" in listed
    assert listed.split("not found:")[1].split() == ["MCP4", "ulnar", "styloid"]


def test_joints_on_the_radiograph_takes_one_image(truth):
    with pytest.raises(ValueError, match="holds 2 images"):
        plot_joints_on_radiograph(np.zeros((32, 32)), scores_from(truth.iloc[: 2 * len(JOINTS)]))
    with pytest.raises(ValueError, match="2-D array"):
        plot_joints_on_radiograph(np.zeros((3, 32, 32)), scores_from(truth.iloc[: len(JOINTS)]))


def test_write_joint_figures_numbers_the_files_and_groups_patients(cohort, truth, tmp_path):
    images = sorted((cohort / "images").glob("*.png"))
    table = write_joint_figures(scores_from(truth), images, tmp_path / "f", truth=truth)
    assert (table["kind"] == "radiograph").sum() == 6 and (table["kind"] == "hands").sum() == 3
    written = sorted(path.name for path in (tmp_path / "f").iterdir())
    assert written == sorted([*table["figure"], ".ramultimodal", "figures.csv", "index.html"])
    assert "radiograph-0001.png" in written and "hands-0003.png" in written
    # Grouped by the truth's subject_id: two images (both hands) per diagram.
    hands = table[table["kind"] == "hands"]
    assert hands["images"].str.split().map(len).tolist() == [2, 2, 2]
    assert set(hands["patient"]) == set(truth["subject_id"])
    page = (tmp_path / "f" / "index.html").read_text()
    assert page.count("<img") == 9
    with pytest.raises(ValueError, match="no rows for 1 of the images"):
        write_joint_figures(scores_from(truth).iloc[len(JOINTS) :], images, tmp_path / "g")
    with pytest.raises(ValueError, match="given twice"):
        write_joint_figures(scores_from(truth), [images[0], images[0]], tmp_path / "h")


@pytest.fixture(scope="module")
def model_dir(cohort, tmp_path_factory):
    from ramultimodal.image import JointScoreTransformer

    images = pd.read_csv(cohort / "images.csv")
    X = [[str(cohort / path)] for path in images["path"]]
    model = JointScoreTransformer(image_size=64, locator_epochs=1, epochs=1, locator_width=8)
    model.fit(X, joints=pd.read_csv(cohort / "joints.csv"))
    return model.save(tmp_path_factory.mktemp("m") / "model")


def test_cli_predict_draws_figures(cohort, model_dir, tmp_path, capsys):
    images = [str(p) for p in sorted((cohort / "images").glob("*.dcm"))]
    status = main(["joints", "predict", *images, "--model", str(model_dir),
                   "--out", str(tmp_path / "scores.csv"), "--figures", str(tmp_path / "fig"),
                   "--manifest", str(cohort / "images.csv"),
                   "--truth", str(cohort / "joints.csv")])  # fmt: skip
    assert status == 0
    assert "hand diagrams in" in capsys.readouterr().out
    drawn = pd.read_csv(tmp_path / "fig" / "figures.csv")
    assert (drawn["kind"] == "radiograph").sum() == 6 and (drawn["kind"] == "hands").sum() == 3
    for name in drawn["figure"]:
        assert (tmp_path / "fig" / name).read_bytes().startswith(b"\x89PNG")
    again = ["joints", "predict", *images, "--model", str(model_dir),
             "--out", str(tmp_path / "scores.csv"), "--figures", str(tmp_path / "fig")]  # fmt: skip
    assert main(again) == 1  # the scores and pictures are there: only --force replaces them
    assert "already exists" in capsys.readouterr().err
    assert main([*again, "--force"]) == 0  # without the manifest: a diagram per image
    redrawn = pd.read_csv(tmp_path / "fig" / "figures.csv")
    assert (redrawn["kind"] == "hands").sum() == 6
    assert sorted(p.name for p in (tmp_path / "fig").iterdir()) == sorted(
        [".ramultimodal", "figures.csv", "index.html", *redrawn["figure"]]
    )


def test_cli_truth_without_figures_is_refused(cohort, model_dir, tmp_path, capsys):
    status = main(["joints", "predict", str(next((cohort / "images").glob("*.png"))),
                   "--model", str(model_dir), "--out", str(tmp_path / "s.csv"),
                   "--truth", str(cohort / "joints.csv")])  # fmt: skip
    assert status == 1
    assert "add --figures" in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()


def test_cli_draws_real_hand_radiographs(real_data, model_dir, tmp_path):
    """Real hands (an adult CR in JPEG 2000, two children's PNGs) and a knee: no crash."""
    images = [real_data / "dicom" / "cr_hand_pa_mono2_j2k_lossless.dcm",
              *sorted((real_data / "images" / "hand").glob("*.png")),
              real_data / "images" / "knee-kl" / "kl0_9501891L.png"]  # fmt: skip
    status = main(["joints", "predict", *map(str, images), "--model", str(model_dir),
                   "--out", str(tmp_path / "s.csv"), "--figures", str(tmp_path / "f")])  # fmt: skip
    assert status == 0
    drawn = pd.read_csv(tmp_path / "f" / "figures.csv")
    assert len(drawn) == 2 * len(images)
    assert all((tmp_path / "f" / name).stat().st_size > 1000 for name in drawn["figure"])


def test_patient_pages_show_the_hand_diagram(cohort, model_dir, tmp_path):
    from types import SimpleNamespace

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ramultimodal.evaluation._patient_report import explain_joints, write_patient_reports
    from ramultimodal.image import JointScoreTransformer

    joints = JointScoreTransformer.load(model_dir)
    images = pd.read_csv(cohort / "images.csv")
    first = images[images["subject_id"] == images["subject_id"].iloc[0]]
    table = pd.DataFrame({"proba": [0.8, 0.3], "has_image": [True, False], "logit": [1.4, -0.8],
                          "contribution_image": [0.5, np.nan], "reason_1": ["", ""]},
                         index=pd.Index(["a", "b"], name="subject_id"))  # fmt: skip
    features = pd.DataFrame({"image": [[str(cohort / p) for p in first["path"]], None]})
    index = write_patient_reports(table, features, tmp_path / "pages", modality_names=["image"],
                                  joints=joints)  # fmt: skip
    pages = [(index.parent / f"patient-000{n}.html").read_text() for n in (1, 2)]
    assert "<h2>Joint by joint</h2>" in pages[0] and "class='hands'" in pages[0]
    assert "Joint by joint" not in pages[1]  # no radiograph, no diagram
    # The joint model is found inside a modality's pipeline of a fitted fusion.
    fusion = SimpleNamespace(estimators_=[StandardScaler(), make_pipeline(joints)])
    assert explain_joints(fusion) is joints
    assert explain_joints(SimpleNamespace(estimators_=[StandardScaler()])) is None


def test_ungraded_truth_and_a_hand_with_nothing_found():
    scores = pd.DataFrame({"image_id": "a", "joint": JOINTS, "found": False, "x": np.nan,
                           "y": np.nan, "confidence": 0.2, "erosion": np.nan,
                           "narrowing": np.nan, "laterality": "L"})  # fmt: skip
    truth = pd.DataFrame({"image_id": "a", "joint": JOINTS, "erosion": np.nan, "narrowing": 1.0})
    titles = [axes.get_title() for axes in plot_hand_diagram(scores, truth).axes]
    assert "left hand: SvdH erosion - (true: not graded)" in titles
    assert "left hand: SvdH narrowing - (true 10)" in titles


def test_the_hand_of_a_dicom_comes_from_its_image_laterality(cohort, truth):
    from ramultimodal.evaluation._joint_overlay import radiograph_pixels

    sides = truth.groupby("image_id")["laterality"].first()
    for image_id, side in sides.items():
        assert radiograph_pixels(cohort / "images" / f"{image_id}.dcm")[2] == side
        assert radiograph_pixels(cohort / "images" / f"{image_id}.png")[2] is None
