"""The procedural hand radiograph: format, determinism, anatomy and where findings show."""

from __future__ import annotations

import numpy as np
import pytest

from ramultimodal.synthetic import JOINTS, HandFindings, render_hand

SIZE = 160


def render(findings=None, seed=0, size=SIZE, laterality="R"):
    pixels, acquisition = render_hand(
        findings or HandFindings(),
        size=size,
        laterality=laterality,
        rng=np.random.default_rng(seed),
    )
    return pixels, acquisition


def test_format_and_acquisition():
    pixels, acquisition = render(HandFindings(erosion=dict.fromkeys(JOINTS, 5.0)))
    assert pixels.shape == (SIZE, SIZE)
    assert pixels.dtype == np.uint16
    assert pixels.max() <= 4095
    assert np.isfinite(pixels.astype(float)).all()
    assert acquisition["pixel_spacing_mm"] == pytest.approx(270.0 / SIZE)
    assert -10.0 <= acquisition["rotation_deg"] <= 10.0
    assert 0.85 <= acquisition["scale"] <= 1.1
    assert acquisition["laterality"] == "R"
    assert {
        "exposure",
        "noise_sigma",
        "blur_sigma_px",
        "shift_px",
        "hand_size",
    } <= acquisition.keys()


def test_same_generator_state_gives_the_same_image():
    a, _ = render(seed=7)
    b, _ = render(seed=7)
    c, _ = render(seed=8)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 50


def test_findings_do_not_change_what_is_drawn_from_the_generator():
    plain, damaged = np.random.default_rng(5), np.random.default_rng(5)
    render_hand(HandFindings(), size=64, rng=plain)
    render_hand(HandFindings(erosion=dict.fromkeys(JOINTS, 5.0), osteopenia=1.0), size=64,
                rng=damaged)  # fmt: skip
    assert plain.random() == damaged.random()


def test_bone_is_brighter_than_soft_tissue_brighter_than_air():
    findings = HandFindings()
    pixels, _ = render(findings, size=256)
    # Soft tissue and bones only: compare the same hand without bones against air.
    air = np.median(pixels[:20, :20])  # corners are outside the hand
    top = np.percentile(pixels, 99.5)  # the densest bone
    hand = pixels[pixels > air + 300]
    soft = np.percentile(hand, 20)
    assert air + 300 < soft < top - 600
    # A bright share of the image is bone, not everything bright.
    assert 0.03 < np.mean(pixels > (soft + top) / 2) < 0.25


def test_left_hand_is_the_mirror_of_the_right():
    right, _ = render(seed=3, laterality="R")
    left, acquisition = render(seed=3, laterality="L")
    np.testing.assert_array_equal(left, right[:, ::-1])
    assert acquisition["laterality"] == "L"
    # The thumb side is heavier: the mass centres sit on opposite sides of the midline.
    cols = np.arange(SIZE)
    weight_r = (right.astype(float) - right.min()).sum(0)
    weight_l = (left.astype(float) - left.min()).sum(0)
    centre_r = (cols * weight_r).sum() / weight_r.sum()
    centre_l = (cols * weight_l).sum() / weight_l.sum()
    assert centre_r + centre_l == pytest.approx(SIZE - 1)


def difference(findings, seed=0, size=256):
    normal, _ = render(HandFindings(), seed=seed, size=size)
    diseased, _ = render(findings, seed=seed, size=size)
    return np.abs(diseased.astype(float) - normal.astype(float))


def centre_of(diff):
    rows, cols = np.nonzero(diff > 0)
    return np.array([rows.mean(), cols.mean()])


@pytest.mark.parametrize(
    "findings",
    [
        HandFindings(erosion={"mcp2": 3.0}),
        HandFindings(narrowing={"mcp2": 3.0}),
        HandFindings(osteophytes={"mcp2": 1.0}),
        HandFindings(swelling={"mcp2": 1.0}),
    ],
    ids=["erosion", "narrowing", "osteophytes", "swelling"],
)
def test_a_finding_changes_the_image_near_its_joint_only(findings):
    diff = difference(findings)
    assert diff.max() > 100
    rows, cols = np.nonzero(diff > 0)
    spread = max(np.ptp(rows), np.ptp(cols))
    # A joint of one finger, not the hand (256 px cover 270 mm; a finger joint ~20 mm).
    assert spread < 40
    # The same finding at the little finger shows elsewhere: it follows the joint.
    kinds = ("erosion", "narrowing", "osteophytes", "swelling")
    far = difference(
        HandFindings(**{k: {"mcp5": getattr(findings, k).get("mcp2", 0)} for k in kinds})
    )
    assert np.linalg.norm(centre_of(diff) - centre_of(far)) > 25


def test_damage_grows_with_the_score():
    small = difference(HandFindings(erosion={"mcp3": 1.0}, narrowing={"pip3": 1.0})).sum()
    large = difference(HandFindings(erosion={"mcp3": 4.0}, narrowing={"pip3": 4.0})).sum()
    assert large > 2 * small > 0


def test_osteopenia_darkens_bone_around_joints_and_leaves_air_alone():
    normal, _ = render(size=256)
    thin, _ = render(HandFindings(osteopenia=1.0), size=256)
    change = thin.astype(float) - normal.astype(float)
    assert change.min() < -150  # bone lost density
    assert change.max() <= 0  # nothing got denser
    air = normal < np.percentile(normal, 30)
    assert np.all(change[air] == 0)


def test_wrist_and_styloid_findings_change_the_wrist():
    diff = difference(HandFindings(erosion={"wrist": 4.0, "ulnar_styloid": 4.0}))
    whole_hand = difference(HandFindings(erosion=dict.fromkeys(JOINTS, 4.0)))
    assert diff.max() > 200
    # The wrist is the proximal part of the hand.
    assert centre_of(diff)[0] > centre_of(whole_hand)[0] + 10


@pytest.mark.parametrize(
    ("findings", "message"),
    [
        (HandFindings(erosion={"mcp9": 1.0}), "unknown joint 'mcp9'"),
        (HandFindings(erosion={"mcp2": 6.0}), r"erosion\['mcp2'\] = 6.0 is outside 0..5"),
        (HandFindings(narrowing={"pip3": -1.0}), "outside 0..4"),
        (HandFindings(osteopenia=2.0), "osteopenia = 2.0"),
    ],
)
def test_bad_findings_are_named(findings, message):
    with pytest.raises(ValueError, match=message):
        render(findings)


def test_bad_laterality():
    with pytest.raises(ValueError, match="laterality must be 'R' or 'L'"):
        render(laterality="left")
