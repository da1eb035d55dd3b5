"""Joint-level truth of the synthetic radiographs: ``joints.csv`` and where each joint lies."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from ramultimodal.cli import main
from ramultimodal.synthetic import HandFindings, make_cohort, render_hand, write_cohort
from ramultimodal.terminology.joints import (
    EROSION_JOINTS,
    JOINTS,
    NARROWING_JOINTS,
    SVDH_EROSION_AREAS,
    SVDH_NARROWING_AREAS,
    joint_family,
)

# sha256 of every image file written for this cohort before joints.csv existed (commit
# bf030a5): writing the joint truth must not change a single byte of the radiographs.
_IMAGES_SHA256 = "53eb7d9cd45b4919eabc478eefe02ed34c2bcfb8f63bcc92c7f0e27012ded6a1"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    cohort = make_cohort(4, image_size=64, seed=3, images_per_patient=2, image_missing_rate=0.0)
    out = write_cohort(cohort, tmp_path_factory.mktemp("c") / "c", formats=["dicom", "png"])
    return cohort, out


def test_images_are_byte_identical_to_before(written):
    _, out = written
    digest = hashlib.sha256()
    for path in sorted((out / "images").iterdir()):
        digest.update(path.read_bytes())
    assert digest.hexdigest() == _IMAGES_SHA256


def test_joints_csv_has_every_joint_of_every_image(written):
    cohort, out = written
    joints = pd.read_csv(out / "joints.csv")
    assert joints.columns.tolist() == [
        "image_id", "subject_id", "laterality", "joint", "x", "y", "erosion", "narrowing",
    ]  # fmt: skip
    assert len(joints) == len(cohort.images) * len(JOINTS) == 8 * 17
    assert set(joints["joint"]) == set(JOINTS)
    assert joints.groupby("subject_id")["laterality"].agg(set).eq({"L", "R"}).all()
    assert joints["erosion"].between(0, 5).all() and joints["narrowing"].between(0, 4).all()
    truth = cohort.damage.merge(cohort.joint_places, on=["image_id", "joint"])
    truth = truth.merge(joints, on=["image_id", "joint"], suffixes=("", "_csv"))
    assert np.allclose(truth["x"], truth["x_csv"], atol=0.005)
    assert (truth["erosion"] == truth["erosion_csv"]).all()


def test_each_joint_point_lies_on_bone():
    cohort = make_cohort(6, image_size=128, seed=11, images_per_patient=2, image_missing_rate=0)
    for image_id, pixels in cohort.pixels.items():
        background = np.median(pixels[:, :12])
        bone = np.percentile(pixels, 90)
        places = cohort.joint_places
        for joint in places[places["image_id"] == image_id].itertuples():
            column, row = round(joint.x), round(joint.y)
            assert 2 <= column < 126 and 2 <= row < 126, joint.joint
            near = pixels[row - 2 : row + 3, column - 2 : column + 3]
            # Bone around every joint point: far brighter than the background.
            assert near.max() > background + 0.5 * (bone - background), joint.joint


def test_left_hand_is_the_mirror_of_the_right():
    findings = HandFindings(erosion={"mcp2": 2})
    right, r = render_hand(findings, size=96, laterality="R", rng=np.random.default_rng(4))
    left, l_ = render_hand(findings, size=96, laterality="L", rng=np.random.default_rng(4))
    assert np.array_equal(left, right[:, ::-1])
    for joint in JOINTS:
        assert l_["joints"][joint][0] == pytest.approx(95 - r["joints"][joint][0])
        assert l_["joints"][joint][1] == pytest.approx(r["joints"][joint][1])
    # On a posteroanterior view the right thumb lies on the image's left.
    assert r["joints"]["mcp1"][0] < r["joints"]["mcp5"][0]
    assert l_["joints"]["mcp1"][0] > l_["joints"]["mcp5"][0]


def test_synth_command_writes_both_hands(tmp_path):
    out = tmp_path / "c"
    args = ["--n-patients", "3", "--seed", "2", "--image-size", "48", "--quiet"]
    assert main(["synth", str(out), *args, "--formats", "png", "--images-per-patient", "2"]) == 0
    images = pd.read_csv(out / "images.csv")
    hands = images.groupby("subject_id")["laterality"]
    assert len(images) > 0 and all(sorted(side) == ["L", "R"] for _, side in hands)
    assert len(pd.read_csv(out / "joints.csv")) == len(images) * len(JOINTS)


def test_svdh_joint_lists():
    assert len(SVDH_EROSION_AREAS) == 16 and len(SVDH_NARROWING_AREAS) == 15
    assert set(EROSION_JOINTS) <= set(JOINTS) and set(NARROWING_JOINTS) <= set(JOINTS)
    assert "ip1" in EROSION_JOINTS and "ip1" not in NARROWING_JOINTS
    assert not any(j.startswith("dip") for j in (*EROSION_JOINTS, *NARROWING_JOINTS))
    assert {joint_family(j) for j in JOINTS} == {"mcp", "pip", "ip", "dip", "cmc", "wrist", "ulna"}
    with pytest.raises(ValueError, match="Unknown joint"):
        joint_family("mtp1")
