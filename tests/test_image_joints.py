"""Joint localisation (`JointLocator`) and the joints table reader."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ramultimodal.image import JointLocator
from ramultimodal.io import read_joints_csv
from ramultimodal.synthetic import make_cohort, write_cohort
from ramultimodal.terminology.joints import JOINTS


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory):
    cohort = make_cohort(16, image_size=64, seed=7, images_per_patient=2, image_missing_rate=0)
    return write_cohort(cohort, tmp_path_factory.mktemp("j") / "c", formats=["png"])


@pytest.fixture(scope="module")
def paths(cohort_dir):
    return [str(cohort_dir / p) for p in pd.read_csv(cohort_dir / "images.csv")["path"]]


@pytest.fixture(scope="module")
def locator(cohort_dir, paths):
    truth = read_joints_csv(cohort_dir / "joints.csv")
    model = JointLocator(
        image_size=64,
        width=8,
        epochs=60,
        batch_size=8,
        negatives=0.25,
        learning_rate=5e-3,
        max_spread=4.0,
    )
    return model.fit(paths, truth)


def test_predicts_every_joint_near_the_truth(locator, cohort_dir, paths):
    found = locator.predict(paths)
    assert found.columns.tolist() == ["image_id", "joint", "x", "y", "confidence", "found"]
    assert len(found) == len(paths) * len(JOINTS)
    assert found["confidence"].between(0, 1).all()
    truth = read_joints_csv(cohort_dir / "joints.csv")
    both = found.merge(truth, on=["image_id", "joint"], suffixes=("", "_true"))
    assert both["found"].mean() > 0.9
    error = np.hypot(both["x"] - both["x_true"], both["y"] - both["y_true"])
    # Seen images, a tiny network, a few epochs: within a few pixels of 64.
    assert np.nanmedian(error) < 4.0


def test_not_found_on_a_blank_or_noise_image(locator):
    blank = np.full((64, 64), 0.3, np.float32)
    noise = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    found = locator.predict([blank, noise])
    assert not found["found"].any()
    assert found["x"].isna().all() and found["y"].isna().all()
    assert found["image_id"].unique().tolist() == ["0", "1"]


def test_save_and_load_predict_the_same(locator, paths, tmp_path):
    folder = locator.save(tmp_path / "locator")
    assert sorted(p.name for p in folder.iterdir()) == [
        ".ramultimodal", "config.json", "heatmaps.safetensors", "refine.safetensors",
    ]  # fmt: skip
    loaded = JointLocator.load(folder)
    pd.testing.assert_frame_equal(loaded.predict(paths[:3]), locator.predict(paths[:3]))
    config = json.loads((folder / "config.json").read_text())
    config["params"]["evil"] = 1
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="no parameter 'evil'"):
        JointLocator.load(folder)


def test_a_folder_saved_before_the_second_stage_loads_without_it(locator, paths, tmp_path):
    folder = locator.save(tmp_path / "old")
    config = json.loads((folder / "config.json").read_text())
    for name in ("refine", "refine_size", "refine_width", "refine_epochs"):
        del config["params"][name]
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "refine.safetensors").unlink()
    old = JointLocator.load(folder)
    assert old.refiner_ is None
    coarse = old.predict(paths[:2])
    refined = locator.predict(paths[:2])
    assert coarse["found"].tolist() != [] and coarse.columns.tolist() == refined.columns.tolist()
    assert not np.allclose(coarse["x"].fillna(0), refined["x"].fillna(0))


def test_fit_refuses_images_missing_from_the_table(paths):
    table = pd.DataFrame({"image_id": ["x"], "joint": ["mcp2"], "x": [1.0], "y": [1.0]})
    with pytest.raises(ValueError, match="No image of X is in the joints table"):
        JointLocator(image_size=64, epochs=1).fit(paths[:2], table)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("image_id,joint,x\na,mcp2,1\n", "no column 'y'"),
        ("image_id,joint,x,y\na,mtp1,1,2\n", "line 2: unknown joint 'mtp1'"),
        ("image_id,joint,x,y\na,mcp2,1,2\na,mcp3,one,2\n", "line 3: x 'one' is not a number"),
        ("image_id,joint,x,y,erosion\na,mcp2,1,2,6\n", "erosion '6' is not a whole grade 0-5"),
        ("image_id,joint,x,y\na,mcp2,1,2\na,mcp2,3,4\n", "line 3: joint 'mcp2' .* twice"),
    ],
)
def test_read_joints_csv_names_the_bad_line(tmp_path, text, message):
    path = tmp_path / "joints.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_joints_csv(path)


def test_read_joints_csv_keeps_joints_off_the_image(tmp_path):
    path = tmp_path / "joints.csv"
    path.write_text("image_id,joint,x,y,narrowing\na,dip5,,,\na,mcp2,3.5,4,2\n")
    table = read_joints_csv(path)
    assert table["x"].isna().tolist() == [True, False]
    assert table["narrowing"].tolist()[1] == 2.0


def test_refinement_crops_map_points_both_ways():
    import torch

    from ramultimodal.image._joint_crops import sample_crops
    from ramultimodal.image._joint_refine import _to_crop

    image = torch.zeros(80, 80)
    image[30, 50] = 1.0  # a dot at column 50, row 30
    centre = torch.tensor([[46.0, 33.0]])
    step, angle, mirror = torch.tensor([0.5]), torch.tensor([0.4]), torch.tensor([-1.0])
    crop = sample_crops(image, centre, step, 32, angle, mirror)[0, 0]
    where = _to_crop(torch.tensor([[50.0, 30.0]]), centre, step, 32, angle, mirror)[0]
    row, column = np.unravel_index(int(crop.argmax()), crop.shape)
    assert abs(column - float(where[0])) <= 1.0 and abs(row - float(where[1])) <= 1.0
