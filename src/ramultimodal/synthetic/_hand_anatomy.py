"""The normal hand in millimetres: bones as tubes and ellipsoids, its joints, its soft tissue.

The hand is built in a right-hand frame (``x`` towards the ulna, ``y`` towards the elbow,
origin at the middle of the radiocarpal joint) from tapered tubes (long bones) and
ellipsoids (carpals), each a cortical shell around trabecular bone; every base is cupped
around the head of the bone before it, across a joint space that joint-space narrowing
shrinks. `draw_anatomy` draws one patient's bone sizes and finger spread, and `build_hand`
assembles the bones, joints and soft tissue from those draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# The joints of a hand that findings are scored at (`HandFindings`, a cohort's damage),
# kept with the rest of the clinical vocabulary.
from ramultimodal.terminology.joints import JOINTS

__all__ = [
    "CARPALS",
    "JOINTS",
    "Bone",
    "Ellipsoid",
    "Hand",
    "Joint",
    "Tube",
    "build_hand",
    "draw_anatomy",
]


@dataclass
class Tube:
    """A long bone: segment p0 -> p1, radius r0 at p0, rs along the shaft, r1 at p1."""

    p0: np.ndarray
    p1: np.ndarray
    r0: float
    rs: float
    r1: float

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        r = max(self.r0, self.rs, self.r1)
        return np.minimum(self.p0, self.p1) - r, np.maximum(self.p0, self.p1) + r


@dataclass
class Ellipsoid:
    """A carpal bone, or soft tissue: centre, semi-axes (a along angle, b across), depth."""

    centre: np.ndarray
    a: float
    b: float
    angle: float  # radians, of the a axis from +x
    depth: float
    power: float = 2.0  # > 2 squares the outline off (carpals are rounded boxes)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        r = max(self.a, self.b)
        return self.centre - r, self.centre + r


@dataclass
class Bone:
    shape: Tube | Ellipsoid
    extra: list[Tube | Ellipsoid] = field(default_factory=list)  # fused parts (max)
    carves: list[tuple[Tube | Ellipsoid, float]] = field(default_factory=list)  # (shape, gap)
    bites: list[tuple[np.ndarray, float]] = field(default_factory=list)  # erosions (centre, r)
    spurs: list[Tube] = field(default_factory=list)  # osteophytes
    # Joints it takes part in: (centre, reach mm, osteopenia, subchondral sclerosis).
    periarticular: list[tuple[np.ndarray, float, float, float]] = field(default_factory=list)


@dataclass
class Joint:
    name: str
    centre: np.ndarray  # centre of the convex (proximal) joint surface
    axis: np.ndarray  # unit vector, distal
    proximal: str
    distal: str
    head: float  # radius of the proximal joint surface, mm
    gap: float  # normal joint space, mm
    finger_radius: float  # soft tissue radius around it, mm


def _unit(angle_deg: float) -> np.ndarray:
    """Direction at angle_deg from 'distal' (-y), positive towards the ulna (+x)."""
    a = math.radians(angle_deg)
    return np.array([math.sin(a), -math.cos(a)])


# Adult bone lengths and widths (mm, right hand), rounded from standard hand-radiograph
# anatomy; joint spaces are slightly wide so they survive a 256 px image.
# finger -> (metacarpal base centre, metacarpal angle deg, phalanx spread deg)
_RAYS = {
    1: ((-19.0, -25.0), -50.0, 12.0),
    2: ((-9.5, -36.0), -11.0, -3.0),
    3: ((0.5, -37.0), -1.0, 0.0),
    4: ((10.0, -35.0), 8.0, 4.0),
    5: ((18.0, -32.0), 17.0, 8.0),
}
# finger -> [(end-to-end length, base radius, shaft radius, head radius)] from metacarpal out
_BONES = {
    1: [(44, 5.6, 3.9, 6.0), (31, 5.5, 3.6, 4.7), (23, 4.8, 2.7, 3.3)],
    2: [(66, 4.8, 3.8, 5.9), (40, 5.4, 3.4, 4.3), (23, 4.4, 2.8, 3.5), (17, 3.7, 2.0, 2.6)],
    3: [(63, 5.0, 3.9, 6.1), (45, 5.6, 3.6, 4.5), (28, 4.6, 3.0, 3.7), (19, 3.9, 2.1, 2.7)],
    4: [(56, 4.2, 3.2, 5.3), (42, 5.2, 3.3, 4.2), (26, 4.3, 2.8, 3.4), (18, 3.6, 2.0, 2.5)],
    5: [(52, 4.3, 3.2, 5.1), (33, 4.7, 3.0, 3.8), (19, 3.8, 2.4, 3.0), (16, 3.3, 1.8, 2.3)],
}
_JOINT_NAMES = {1: ("mcp1", "ip1"), 2: ("mcp2", "pip2", "dip2"), 3: ("mcp3", "pip3", "dip3"),
                4: ("mcp4", "pip4", "dip4"), 5: ("mcp5", "pip5", "dip5")}  # fmt: skip
_GAP_MM = {"cmc": 1.6, "mcp": 1.8, "pip": 1.4, "ip": 1.3, "dip": 1.2, "wrist": 2.0}
_FINGER_SOFT_MM = {1: 10.5, 2: 9.6, 3: 9.9, 4: 9.2, 5: 8.2}
# Carpals: name -> (centre, semi-axis along angle, semi-axis across, angle deg from +x).
CARPALS = {
    "scaphoid": ((-11.5, -9.0), 10.5, 5.8, 55.0),
    "lunate": ((-0.5, -6.5), 6.8, 6.3, 0.0),
    "triquetrum": ((10.5, -10.0), 6.0, 5.6, 30.0),
    "pisiform": ((13.0, -12.5), 4.6, 4.3, 0.0),
    "trapezium": ((-17.5, -22.0), 6.8, 5.8, 20.0),
    "trapezoid": ((-8.5, -24.0), 5.0, 5.6, 0.0),
    "capitate": ((0.5, -21.0), 6.9, 10.0, 0.0),
    "hamate": ((10.5, -22.5), 6.3, 8.2, 10.0),
}
_CMC = {2: "trapezoid", 3: "capitate", 4: "hamate", 5: "hamate"}


@dataclass
class Hand:
    """A right hand in template millimetres (the patient's size is applied at exposure)."""

    bones: dict[str, Bone] = field(default_factory=dict)
    joints: list[Joint] = field(default_factory=list)
    limb: list[tuple[Tube | Ellipsoid, float]] = field(default_factory=list)  # (shape, depth)
    swellings: list[Ellipsoid] = field(default_factory=list)
    palm: list[np.ndarray] = field(default_factory=list)  # points whose hull is the palm


def build_hand(draws: dict[str, np.ndarray], narrowing: dict[str, float]) -> Hand:
    """The bones, joints and soft tissue of one right hand, joint spaces narrowed as told.

    Parameters
    ----------
    draws : dict
        From `draw_anatomy`.
    narrowing : dict of str to float
        Joint -> joint-space narrowing score, 0-4 (4 is ankylosis).
    """

    def gap(joint: str) -> float:
        return _GAP_MM[joint.rstrip("12345")] * (1.0 - narrowing.get(joint, 0.0) / 4.0)

    hand = Hand()
    _add_carpus(hand, draws, crowding=narrowing.get("wrist", 0.0))
    k = 0  # index of the long bone, for its length and width draws
    for finger in _RAYS:
        k = _add_ray(hand, finger, draws, gap, k)
    _add_forearm(hand, gap("wrist"))
    _add_palm(hand)
    return hand


def _add_carpus(hand: Hand, draws: dict[str, np.ndarray], crowding: float) -> None:
    # Narrowing at the wrist crowds the carpals towards the capitate.
    shrink = 1.0 - 0.04 * crowding
    capitate = np.array(CARPALS["capitate"][0])
    for i, (name, (centre, a, b, angle)) in enumerate(CARPALS.items()):
        c = np.array(centre) + draws["carpal_jitter"][i]
        c = capitate + (c - capitate) * shrink
        w = 1.12 * draws["widths"][i]
        carpal = Ellipsoid(c, a * w, b * w, math.radians(angle), 0.8 * min(a, b) * w, power=2.6)
        hand.bones[name] = Bone(carpal)


def _add_ray(hand: Hand, finger: int, draws: dict[str, np.ndarray], gap, k: int) -> int:
    """A metacarpal and its phalanges, each base cupped around the previous head."""
    base, angle, finger_spread = _RAYS[finger]
    angle += draws["spread"][finger - 1]
    kinds = ("mc", "pp", "dp") if finger == 1 else ("mc", "pp", "mp", "dp")
    # The joint proximal to each bone: its carpometacarpal joint, then the joint at the head
    # of the previous bone. Only the thumb's carpometacarpal joint is scored.
    joint_names = ("cmc1" if finger == 1 else None, *_JOINT_NAMES[finger])
    soft_radius = _FINGER_SOFT_MM[finger]
    previous_name = "trapezium" if finger == 1 else _CMC[finger]
    previous: Tube | Ellipsoid = hand.bones[previous_name].shape
    for j, (length, r0, rs, r1) in enumerate(_BONES[finger]):
        length, w = length * draws["lengths"][k], draws["widths"][k]
        r0, rs, r1 = r0 * w, rs * w, r1 * w
        if j == 1:
            angle += finger_spread * draws["spread_scale"]
        elif j > 1:
            angle += draws["bend"][k]
        k += 1
        axis = _unit(angle)
        joint = joint_names[j]
        g = gap(joint) if joint else 0.9  # carpometacarpal joints 2-5 are not scored
        if isinstance(previous, Tube):  # cupped around the previous head
            head, head_radius = previous.p1, previous.r1
            p0 = head + axis * (head_radius + 0.55 * r0)
        elif finger == 1:  # the thumb's saddle joint on the trapezium
            head, head_radius = previous.centre, 0.5 * (previous.a + previous.b)
            p0 = head + axis * (head_radius + g + 0.5 * r0)
        else:
            p0 = np.array(base)
        p1 = p0 + axis * max(length - r0 - r1, 0.3 * length)
        name = f"{kinds[j]}{finger}"
        bone = Bone(Tube(p0, p1, r0, rs, r1), carves=[(previous, g)])
        hand.bones[name] = bone
        if joint:
            radius = soft_radius * (1.2 if joint == "cmc1" else 1.0)
            hand.joints.append(
                Joint(joint, head, axis, previous_name, name, head_radius, g, radius)
            )
        if j == 0 and finger > 1:
            hand.palm.append(p1 + axis * 11.0)  # the web spaces lie distal to the heads
        if j == 0 and finger == 1:  # the two sesamoids over the thumb's MCP joint
            across = np.array([-axis[1], axis[0]])
            for side, tag in ((-1.0, "radial"), (1.0, "ulnar")):
                centre = p1 - axis * 1.5 + across * side * 0.55 * r1
                sesamoid = Ellipsoid(centre, 2.3, 1.9, 0.0, 2.4)
                hand.bones[f"sesamoid1_{tag}"] = Bone(sesamoid)
        previous, previous_name = bone.shape, name
    # The finger's soft tissue, from its metacarpal head (mid-shaft for the thumb) to the tip.
    metacarpal = hand.bones[f"mc{finger}"].shape
    root = 0.5 * (metacarpal.p0 + metacarpal.p1) if finger == 1 else metacarpal.p1
    tip = previous.p1 + _unit(angle) * 4.0
    finger_tube = Tube(root, tip, soft_radius, 0.92 * soft_radius, 0.78 * soft_radius)
    hand.limb.append((finger_tube, 0.8))
    return k


def _add_forearm(hand: Hand, wrist_gap: float) -> None:
    """Distal radius and ulna, cupped by the proximal carpal row, and the ulnar styloid."""
    bones = hand.bones
    radius = Bone(Tube(np.array([-6.5, 13.0]), np.array([-4.0, 160.0]), 14.0, 8.5, 8.5))
    # A broad epiphysis tilted by the radial inclination: the styloid reaches further
    # distally than the ulnar notch.
    epiphysis = Ellipsoid(np.array([-6.5, 6.0]), 15.0, 6.5, math.radians(14.0), 11.0, 2.2)
    radius.extra.append(epiphysis)
    radius.carves += [(bones["scaphoid"].shape, wrist_gap), (bones["lunate"].shape, wrist_gap)]
    bones["radius"] = radius
    ulna = Bone(Tube(np.array([17.5, 10.0]), np.array([14.0, 160.0]), 7.5, 6.0, 6.0))
    ulna.carves.append((bones["triquetrum"].shape, 3.5))  # room for the TFCC
    bones["ulna"] = ulna
    styloid = Tube(np.array([22.0, 5.5]), np.array([23.5, -3.0]), 2.6, 1.8, 1.2)
    bones["ulnar_styloid"] = Bone(styloid)
    hand.joints.append(
        Joint("wrist", np.array([0.0, -8.0]), _unit(0.0), "radius", "lunate", 16.0, wrist_gap, 24.0)
    )
    centre = styloid.p1 + np.array([-1.5, 3.0])
    hand.joints.append(
        Joint("ulnar_styloid", centre, _unit(0.0), "ulnar_styloid", "triquetrum", 2.5, 3.5, 14.0)
    )
    forearm = Tube(np.array([1.5, 4.0]), np.array([4.0, 170.0]), 30.0, 29.0, 28.0)
    hand.limb.append((forearm, 0.55))  # the wrist is wider than it is deep


def _add_palm(hand: Hand) -> None:
    """The palm outline (hypothenar, wrist, the index's radial side) and the thenar eminence."""
    mc1, mc2, mc5 = (hand.bones[f"mc{i}"].shape for i in (1, 2, 5))
    hand.palm += [np.array(p) for p in ((-27.0, 12.0), (30.0, 12.0), (32.0, -24.0))]
    hand.palm += [mc1.p0 + np.array([-7.0, 0.0]), mc2.p1 + np.array([-9.0, 2.0])]
    hand.palm.append(mc5.p1 + np.array([8.5, 4.0]))
    centre = 0.55 * 0.5 * (mc1.p0 + mc1.p1) + 0.45 * mc2.p0
    angle = math.atan2(*(mc1.p1 - mc1.p0)[::-1])
    hand.limb.append((Ellipsoid(centre, 23.0, 13.0, angle, 11.0), 1.0))


def draw_anatomy(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Anatomy and where damage would sit, drawn alike whatever the findings are."""
    n_long = sum(len(b) for b in _BONES.values())
    return {
        "size": np.float64(rng.normal(0.96, 0.05)).clip(0.86, 1.1),
        "lengths": rng.normal(1.0, 0.03, n_long).clip(0.92, 1.08),
        "widths": rng.normal(1.0, 0.05, n_long).clip(0.88, 1.12),
        "spread": rng.normal(0.0, 3.0, 5),
        "spread_scale": np.float64(rng.uniform(0.3, 1.8)),
        "bend": rng.normal(0.0, 2.0, n_long),
        "carpal_jitter": rng.normal(0.0, 0.4, (len(CARPALS), 2)),
        "damage": rng.uniform(0.0, 1.0, (len(JOINTS), 8)),
        "trabeculae": rng.standard_normal((64, 64)),
    }
