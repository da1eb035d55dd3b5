"""`render_hand`: one posteroanterior hand radiograph, from the anatomy to the detector.

A patient's anatomy is drawn (`_hand_anatomy`), its findings are put on the bones
(`_hand_findings`), and the hand is projected on the detector (`_hand_projection`).
Acquisition (magnification, rotation, shift, exposure, blur, quantum noise) is applied by
sampling that scene on the detector grid, and a log-processed computed radiography tone
curve turns path lengths into 12-bit pixels. Random draws never depend on the findings, so
two renders with the same generator state differ only where the findings differ.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter

from ramultimodal.synthetic._hand_anatomy import build_hand, draw_anatomy
from ramultimodal.synthetic._hand_findings import HandFindings, apply_findings
from ramultimodal.synthetic._hand_projection import Scene, draw_bone, draw_palm, draw_soft

__all__ = ["render_hand"]

_FIELD_OF_VIEW_MM = 270.0  # detector width: an adult hand fits at 1.1x magnification
_IMAGE_MAX = 4095  # 12 bits stored

# Attenuation per mm of path, tuned so that soft tissue is faint and cortex is brightest
# on the log-processed image (relative values matter, not the physics of one kVp).
_MU_SOFT, _MU_TRABECULAR, _MU_CORTEX = 0.010, 0.030, 0.17


def render_hand(
    findings: HandFindings,
    *,
    size: int = 512,
    laterality: str = "R",
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict]:
    """Render a posteroanterior (PA) hand radiograph showing the given findings.

    Parameters
    ----------
    findings : HandFindings
        What to draw at each joint; missing joints are normal.
    size : int, default=512
        Width and height of the image in pixels.
    laterality : {"R", "L"}, default="R"
        A left hand is the mirror image of a right hand.
    rng : numpy.random.Generator
        Source of the patient's anatomy and of the acquisition; the same state gives the
        same image, and the draws do not depend on `findings`.

    Returns
    -------
    pixels : ndarray of uint16, shape (size, size)
        12-bit values (0-4095), bone bright (MONOCHROME2).
    acquisition : dict
        ``pixel_spacing_mm`` (detector, mm per pixel), ``rotation_deg``, ``scale``
        (magnification), ``shift_px`` (x, y), ``exposure`` (gain of the tone curve),
        ``noise_sigma``, ``blur_sigma_px``, ``finger_spread``, ``laterality`` and
        ``joints``: joint name -> (x, y), where the joint sits on the returned pixels
        (column and row, 0 at the centre of the first pixel; may lie outside the image).

    Examples
    --------
    >>> import numpy as np
    >>> ra = HandFindings(erosion={"mcp2": 2}, narrowing={"mcp2": 2}, osteopenia=0.5)
    >>> pixels, acquisition = render_hand(ra, size=128, rng=np.random.default_rng(0))
    >>> pixels.shape, pixels.dtype, int(pixels.max()) <= 4095
    ((128, 128), dtype('uint16'), True)
    >>> round(acquisition["pixel_spacing_mm"], 3)
    2.109
    >>> sorted(acquisition["joints"])[:3]
    ['cmc1', 'dip2', 'dip3']
    """
    if laterality not in ("R", "L"):
        raise ValueError(f"laterality must be 'R' or 'L', got {laterality!r}")
    if size < 32:
        raise ValueError(f"size must be at least 32 pixels, got {size}")
    findings.validate()

    patient = draw_anatomy(rng)
    rotation = float(rng.uniform(-10.0, 10.0))
    scale = float(rng.uniform(0.85, 1.1))
    shift = rng.uniform(-0.05, 0.05, 2) * size
    exposure = float(rng.uniform(0.7, 1.1))
    background = float(rng.uniform(120.0, 420.0))
    white = float(rng.uniform(3400.0, 4000.0))
    heel = float(rng.uniform(-0.12, 0.12))
    blur = float(rng.uniform(0.45, 1.0)) * size / 512
    noise_sigma = float(rng.uniform(12.0, 40.0))
    noise = rng.standard_normal((size, size), dtype=np.float32)

    hand = build_hand(patient, findings.narrowing)
    apply_findings(hand, findings, patient["damage"])
    hand_size = float(patient["size"])

    spacing = _FIELD_OF_VIEW_MM / size
    mm_per_px = spacing / (scale * hand_size)  # template millimetres per pixel
    turn = math.radians(rotation)
    cos, sin = math.cos(turn), math.sin(turn)
    to_mm = mm_per_px * np.array([[cos, sin], [-sin, cos]])
    to_px = np.linalg.inv(to_mm)
    # The radiographer centres the hand (80 mm distal to the wrist), not the wrist.
    origin = np.array([0.5, 0.5]) * size + shift + to_px @ np.array([0.0, 80.0])
    # Trabeculae: smoothed noise (a grain of about 1 mm) modulating trabecular density.
    grain = gaussian_filter(patient["trabeculae"], 1.0, mode="wrap")
    trabeculae = (1.0 + 0.2 * grain / grain.std()).clip(0.5, 1.5).astype(np.float32)
    scene = Scene(size, to_mm, origin, mm_per_px, trabeculae)

    draw_palm(scene, np.array(hand.palm), thickness=26.0, edge=9.0)
    for shape, depth in hand.limb:
        draw_soft(scene, shape, depth, add=False)
    for shape in hand.swellings:
        draw_soft(scene, shape, 1.0, add=True)
    for bone in hand.bones.values():
        draw_bone(scene, bone)

    # Path lengths grow with the patient's hand.
    attenuation = hand_size * (
        _MU_SOFT * scene.soft + _MU_TRABECULAR * scene.trabecular + _MU_CORTEX * scene.cortex
    )
    attenuation = gaussian_filter(attenuation, blur, truncate=3.0)
    # Log-processed CR: the displayed value saturates for the thickest bone.
    signal = 1.0 - np.exp(-exposure * attenuation)
    rows = np.linspace(-0.5, 0.5, size, dtype=np.float32)[:, None]
    image = background * (1.0 + heel * rows) + (white - background) * signal
    # Quantum noise: fewer photons reach the detector behind bone, so it is noisier there.
    image += noise * (noise_sigma * (1.0 + 0.6 * signal))
    pixels = np.clip(np.rint(image), 0, _IMAGE_MAX).astype(np.uint16)
    if laterality == "L":
        pixels = pixels[:, ::-1].copy()

    acquisition = {
        "pixel_spacing_mm": spacing,
        "rotation_deg": rotation,
        "scale": scale,
        "shift_px": (float(shift[0]), float(shift[1])),
        "exposure": exposure,
        "noise_sigma": noise_sigma,
        "blur_sigma_px": blur,
        "finger_spread": float(patient["spread_scale"]),
        "hand_size": hand_size,
        "laterality": laterality,
        "joints": _joint_pixels(hand, to_px, origin, size, mirrored=laterality == "L"),
    }
    return pixels, acquisition


def _joint_pixels(
    hand, to_px: np.ndarray, origin: np.ndarray, size: int, *, mirrored: bool
) -> dict[str, tuple[float, float]]:
    """Each scored joint's place on the detector, (column, row), as `Scene.patch` maps it.

    A finger joint is put in the middle of its joint space (the convex head's surface plus
    half the gap), where a reader points at it; the wrist at the centre of the carpus the
    anatomy gives it, the ulnar styloid on its tip. Computed from the hand only: no draw
    from the generator, so the pixels stay as they were.
    """
    places = {}
    for joint in hand.joints:
        centre = joint.centre
        if joint.name not in ("wrist", "ulnar_styloid"):
            centre = centre + joint.axis * (joint.head + 0.5 * joint.gap)
        column, row = to_px @ centre + origin
        if mirrored:  # the left hand is the right one flipped left to right
            column = size - 1 - column
        places[joint.name] = (float(column), float(row))
    return places
