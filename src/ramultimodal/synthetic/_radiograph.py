"""Procedural PA hand radiographs with rheumatoid and osteoarthritic damage.

The hand is built in millimetres in a right-hand frame (``x`` towards the ulna, ``y`` towards
the elbow, origin at the middle of the radiocarpal joint) from tapered tubes (long bones)
and ellipsoids (carpals), each a cortical shell around trabecular bone. Every pixel gets the
projected path length through soft tissue, trabecular and cortical bone, as an X-ray does;
the tube formula makes a shaft bright at its rim and darker in its core without any
drawing trick. Acquisition (magnification, rotation, shift, exposure, blur, quantum noise)
is applied by sampling that scene on the detector grid, so the bones stay sharp.

Damage is drawn where it is told to be: joint-space narrowing shrinks the gap between the
convex head and the concave base, an erosion bites out of the bone margin next to the
joint, osteophytes are small bright spurs on the joint margins, swelling widens and
densifies the soft tissue around the joint, and osteopenia thins the bone around every
joint. Random draws never depend on the findings, so two renders with the same generator
state differ only where the findings differ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter

__all__ = ["JOINTS", "HandFindings", "render_hand"]

JOINTS: tuple[str, ...] = (
    "cmc1", "mcp1", "mcp2", "mcp3", "mcp4", "mcp5", "ip1", "pip2", "pip3", "pip4", "pip5",
    "dip2", "dip3", "dip4", "dip5", "wrist", "ulnar_styloid",
)  # fmt: skip

# Sharp/van der Heijde ranges: erosion 0-5, joint-space narrowing 0-4 per joint.
_SCORE_RANGES = {"erosion": 5.0, "narrowing": 4.0, "osteophytes": 1.0, "swelling": 1.0}

_FIELD_OF_VIEW_MM = 270.0  # detector width: an adult hand fits at 1.1x magnification
_IMAGE_MAX = 4095  # 12 bits stored

# Attenuation per mm of path, tuned so that soft tissue is faint and cortex is brightest
# on the log-processed image (relative values matter, not the physics of one kVp).
_MU_SOFT, _MU_TRABECULAR, _MU_CORTEX = 0.010, 0.030, 0.17


@dataclass
class HandFindings:
    """Radiographic findings of one hand, per joint (a joint missing from a dict scores 0).

    Parameters
    ----------
    erosion : dict of str to float
        Joint -> erosion score, 0-5 (Sharp/van der Heijde).
    narrowing : dict of str to float
        Joint -> joint-space narrowing score, 0-4 (4 is ankylosis).
    osteophytes : dict of str to float
        Joint -> osteophyte size, 0-1.
    swelling : dict of str to float
        Joint -> soft-tissue swelling, 0-1.
    osteopenia : float
        Periarticular osteopenia, 0-1, at every joint.

    Examples
    --------
    >>> HandFindings(erosion={"mcp2": 2.0}).erosion["mcp2"]
    2.0
    """

    erosion: dict[str, float] = field(default_factory=dict)
    narrowing: dict[str, float] = field(default_factory=dict)
    osteophytes: dict[str, float] = field(default_factory=dict)
    swelling: dict[str, float] = field(default_factory=dict)
    osteopenia: float = 0.0

    def validate(self) -> None:
        """Raise ValueError on an unknown joint or a score outside its range."""
        for kind, top in _SCORE_RANGES.items():
            for joint, score in getattr(self, kind).items():
                if joint not in JOINTS:
                    raise ValueError(
                        f"HandFindings.{kind} has unknown joint {joint!r}; use one of {JOINTS}"
                    )
                if not 0.0 <= float(score) <= top:
                    raise ValueError(
                        f"HandFindings.{kind}[{joint!r}] = {score} is outside 0..{top:g}"
                    )
        if not 0.0 <= float(self.osteopenia) <= 1.0:
            raise ValueError(f"HandFindings.osteopenia = {self.osteopenia} is outside 0..1")


# ---------------------------------------------------------------------------------------
# Anatomy (mm, right hand). Adult bone lengths and widths, rounded from standard
# hand-radiograph anatomy; joint spaces are slightly wide so they survive a 256 px image.


@dataclass
class _Tube:
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
class _Ellipsoid:
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
class _Bone:
    shape: _Tube | _Ellipsoid
    extra: list[_Tube | _Ellipsoid] = field(default_factory=list)  # fused parts (max)
    carves: list[tuple[_Tube | _Ellipsoid, float]] = field(default_factory=list)  # (shape, gap)
    bites: list[tuple[np.ndarray, float]] = field(default_factory=list)  # erosions (centre, r)
    spurs: list[_Tube] = field(default_factory=list)  # osteophytes
    # Joints it takes part in: (centre, reach mm, osteopenia, subchondral sclerosis).
    periarticular: list[tuple[np.ndarray, float, float, float]] = field(default_factory=list)


@dataclass
class _Joint:
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
_CARPALS = {
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
class _Hand:
    """A right hand in template millimetres (the patient's size is applied at exposure)."""

    bones: dict[str, _Bone] = field(default_factory=dict)
    joints: list[_Joint] = field(default_factory=list)
    limb: list[tuple[_Tube | _Ellipsoid, float]] = field(default_factory=list)  # (shape, depth)
    swellings: list[_Ellipsoid] = field(default_factory=list)
    palm: list[np.ndarray] = field(default_factory=list)  # points whose hull is the palm


def _build_hand(findings: HandFindings, draws: dict[str, np.ndarray]) -> _Hand:
    """The bones, joints and soft tissue of one right hand, with its findings."""
    narrowing = findings.narrowing

    def gap(joint: str) -> float:
        return _GAP_MM[joint.rstrip("12345")] * (1.0 - narrowing.get(joint, 0.0) / 4.0)

    hand = _Hand()
    _add_carpus(hand, draws, crowding=narrowing.get("wrist", 0.0))
    k = 0  # index of the long bone, for its length and width draws
    for finger in _RAYS:
        k = _add_ray(hand, finger, draws, gap, k)
    _add_forearm(hand, gap("wrist"))
    _add_palm(hand)
    _apply_findings(hand, findings, draws["damage"])
    return hand


def _add_carpus(hand: _Hand, draws: dict[str, np.ndarray], crowding: float) -> None:
    # Narrowing at the wrist crowds the carpals towards the capitate.
    shrink = 1.0 - 0.04 * crowding
    capitate = np.array(_CARPALS["capitate"][0])
    for i, (name, (centre, a, b, angle)) in enumerate(_CARPALS.items()):
        c = np.array(centre) + draws["carpal_jitter"][i]
        c = capitate + (c - capitate) * shrink
        w = 1.12 * draws["widths"][i]
        carpal = _Ellipsoid(c, a * w, b * w, math.radians(angle), 0.8 * min(a, b) * w, power=2.6)
        hand.bones[name] = _Bone(carpal)


def _add_ray(hand: _Hand, finger: int, draws: dict[str, np.ndarray], gap, k: int) -> int:
    """A metacarpal and its phalanges, each base cupped around the previous head."""
    base, angle, finger_spread = _RAYS[finger]
    angle += draws["spread"][finger - 1]
    kinds = ("mc", "pp", "dp") if finger == 1 else ("mc", "pp", "mp", "dp")
    # The joint proximal to each bone: its carpometacarpal joint, then the joint at the head
    # of the previous bone. Only the thumb's carpometacarpal joint is scored.
    joint_names = ("cmc1" if finger == 1 else None, *_JOINT_NAMES[finger])
    soft_radius = _FINGER_SOFT_MM[finger]
    previous_name = "trapezium" if finger == 1 else _CMC[finger]
    previous: _Tube | _Ellipsoid = hand.bones[previous_name].shape
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
        if isinstance(previous, _Tube):  # cupped around the previous head
            head, head_radius = previous.p1, previous.r1
            p0 = head + axis * (head_radius + 0.55 * r0)
        elif finger == 1:  # the thumb's saddle joint on the trapezium
            head, head_radius = previous.centre, 0.5 * (previous.a + previous.b)
            p0 = head + axis * (head_radius + g + 0.5 * r0)
        else:
            p0 = np.array(base)
        p1 = p0 + axis * max(length - r0 - r1, 0.3 * length)
        name = f"{kinds[j]}{finger}"
        bone = _Bone(_Tube(p0, p1, r0, rs, r1), carves=[(previous, g)])
        hand.bones[name] = bone
        if joint:
            radius = soft_radius * (1.2 if joint == "cmc1" else 1.0)
            hand.joints.append(
                _Joint(joint, head, axis, previous_name, name, head_radius, g, radius)
            )
        if j == 0 and finger > 1:
            hand.palm.append(p1 + axis * 11.0)  # the web spaces lie distal to the heads
        if j == 0 and finger == 1:  # the two sesamoids over the thumb's MCP joint
            across = np.array([-axis[1], axis[0]])
            for side, tag in ((-1.0, "radial"), (1.0, "ulnar")):
                centre = p1 - axis * 1.5 + across * side * 0.55 * r1
                sesamoid = _Ellipsoid(centre, 2.3, 1.9, 0.0, 2.4)
                hand.bones[f"sesamoid1_{tag}"] = _Bone(sesamoid)
        previous, previous_name = bone.shape, name
    # The finger's soft tissue, from its metacarpal head (mid-shaft for the thumb) to the tip.
    metacarpal = hand.bones[f"mc{finger}"].shape
    root = 0.5 * (metacarpal.p0 + metacarpal.p1) if finger == 1 else metacarpal.p1
    tip = previous.p1 + _unit(angle) * 4.0
    finger_tube = _Tube(root, tip, soft_radius, 0.92 * soft_radius, 0.78 * soft_radius)
    hand.limb.append((finger_tube, 0.8))
    return k


def _add_forearm(hand: _Hand, wrist_gap: float) -> None:
    """Distal radius and ulna, cupped by the proximal carpal row, and the ulnar styloid."""
    bones = hand.bones
    radius = _Bone(_Tube(np.array([-6.5, 13.0]), np.array([-4.0, 160.0]), 14.0, 8.5, 8.5))
    # A broad epiphysis tilted by the radial inclination: the styloid reaches further
    # distally than the ulnar notch.
    epiphysis = _Ellipsoid(np.array([-6.5, 6.0]), 15.0, 6.5, math.radians(14.0), 11.0, 2.2)
    radius.extra.append(epiphysis)
    radius.carves += [(bones["scaphoid"].shape, wrist_gap), (bones["lunate"].shape, wrist_gap)]
    bones["radius"] = radius
    ulna = _Bone(_Tube(np.array([17.5, 10.0]), np.array([14.0, 160.0]), 7.5, 6.0, 6.0))
    ulna.carves.append((bones["triquetrum"].shape, 3.5))  # room for the TFCC
    bones["ulna"] = ulna
    styloid = _Tube(np.array([22.0, 5.5]), np.array([23.5, -3.0]), 2.6, 1.8, 1.2)
    bones["ulnar_styloid"] = _Bone(styloid)
    hand.joints.append(
        _Joint(
            "wrist", np.array([0.0, -8.0]), _unit(0.0), "radius", "lunate", 16.0, wrist_gap, 24.0
        )
    )
    centre = styloid.p1 + np.array([-1.5, 3.0])
    hand.joints.append(
        _Joint("ulnar_styloid", centre, _unit(0.0), "ulnar_styloid", "triquetrum", 2.5, 3.5, 14.0)
    )
    forearm = _Tube(np.array([1.5, 4.0]), np.array([4.0, 170.0]), 30.0, 29.0, 28.0)
    hand.limb.append((forearm, 0.55))  # the wrist is wider than it is deep


def _add_palm(hand: _Hand) -> None:
    """The palm outline (hypothenar, wrist, the index's radial side) and the thenar eminence."""
    mc1, mc2, mc5 = (hand.bones[f"mc{i}"].shape for i in (1, 2, 5))
    hand.palm += [np.array(p) for p in ((-27.0, 12.0), (30.0, 12.0), (32.0, -24.0))]
    hand.palm += [mc1.p0 + np.array([-7.0, 0.0]), mc2.p1 + np.array([-9.0, 2.0])]
    hand.palm.append(mc5.p1 + np.array([8.5, 4.0]))
    centre = 0.55 * 0.5 * (mc1.p0 + mc1.p1) + 0.45 * mc2.p0
    angle = math.atan2(*(mc1.p1 - mc1.p0)[::-1])
    hand.limb.append((_Ellipsoid(centre, 23.0, 13.0, angle, 11.0), 1.0))


def _apply_findings(hand: _Hand, findings: HandFindings, damage: np.ndarray) -> None:
    """Add erosions, osteophytes, periarticular osteopenia and swellings to the hand."""
    bones = hand.bones
    for joint in hand.joints:
        u = damage[JOINTS.index(joint.name)]  # fixed-size uniform draws per joint
        normal = np.array([-joint.axis[1], joint.axis[0]])  # towards the ulna for a right hand
        prox, dist = bones[joint.proximal], bones[joint.distal]
        erosion = findings.erosion.get(joint.name, 0.0)
        spur = findings.osteophytes.get(joint.name, 0.0)
        swelling = findings.swelling.get(joint.name, 0.0)
        r = joint.head
        if joint.name in ("wrist", "ulnar_styloid"):
            _wrist_damage(bones, joint, erosion, spur, u)
        else:
            # Marginal erosions start in the bare area on the radial side of the head, then
            # the ulnar side, then the base of the distal bone (Sharp/van der Heijde 0-5).
            sites = (
                (prox, -1.0, 1.0, 0.0),  # (bone, side, along axis, threshold)
                (prox, 1.0, 1.0, 1.5),
                (dist, -1.0, -1.0, 3.0),
                (dist, 1.0, -1.0, 3.5),
            )
            for i, (bone, side, along, threshold) in enumerate(sites):
                if erosion > threshold:
                    theta = math.radians(60.0 + 30.0 * u[i])
                    bite = r * (0.16 + 0.085 * (erosion - threshold))
                    reach = r if along > 0 else r + joint.gap + 0.25 * r
                    direction = (
                        along * math.cos(theta) * joint.axis + side * math.sin(theta) * normal
                    )
                    base = joint.centre + (along < 0) * joint.axis * (r + joint.gap) * 0.35
                    bone.bites.append((base + direction * (reach - 0.25 * bite), bite))
            if spur > 0:  # beaks that prolong the joint margins outwards and towards the gap
                length = r * (0.15 + 0.35 * spur)
                for side in (-1.0, 1.0):
                    for bone, along in ((prox, 1.0), (dist, -1.0)):
                        theta = math.radians(75.0 if along > 0 else 55.0)
                        reach = 0.9 * r if along > 0 else 0.95 * (r + joint.gap)
                        out = along * math.cos(theta) * joint.axis + side * math.sin(theta) * normal
                        root = joint.centre + out * reach
                        tip = root + (side * normal + 0.5 * along * joint.axis) * length
                        bone.spurs.append(_Tube(root, tip, 0.22 * r, 0.14 * r, 0.06 * r))
        # Periarticular osteopenia and (with osteophytes) subchondral sclerosis; every
        # carpal takes part in the wrist.
        members = [prox, dist]
        if joint.name == "wrist":
            members = [bones[name] for name in (*_CARPALS, "radius", "ulna")]
        for bone in members:
            bone.periarticular.append((joint.centre, 1.6 * r, findings.osteopenia, spur))
        if swelling > 0:
            along = 1.4 * joint.finger_radius
            across = joint.finger_radius * (1.0 + 0.35 * swelling)
            angle = math.atan2(joint.axis[1], joint.axis[0])
            depth = 0.45 * swelling * joint.finger_radius
            hand.swellings.append(_Ellipsoid(joint.centre, along, across, angle, depth))


def _wrist_damage(
    bones: dict[str, _Bone], joint: _Joint, erosion: float, spur: float, u: np.ndarray
) -> None:
    """Wrist erosions (carpals, radius) and ulnar styloid erosion: holes and margin bites."""
    if joint.name == "ulnar_styloid":
        styloid = bones["ulnar_styloid"].shape
        if erosion > 0:
            along = styloid.p1 + (styloid.p0 - styloid.p1) * (0.2 + 0.3 * u[0])
            side = np.array([1.0, 0.0]) * styloid.rs * (0.6 + 0.3 * u[1])
            bones["ulnar_styloid"].bites.append((along + side, styloid.rs * (0.3 + 0.3 * erosion)))
            if erosion > 2.5:
                ulna = bones["ulna"].shape
                edge = ulna.p0 + np.array([ulna.r0 * 0.75, -ulna.r0 * 0.55])
                bones["ulna"].bites.append((edge, ulna.r0 * 0.12 * (erosion - 2.0)))
        return
    order = ("scaphoid", "capitate", "lunate", "radius", "triquetrum", "trapezium")
    for i, name in enumerate(order):
        threshold = 0.8 * i
        if erosion > threshold:
            shape = bones[name].shape
            if isinstance(shape, _Ellipsoid):
                theta = 2 * math.pi * u[i]
                rim = np.array([math.cos(theta) * shape.a, math.sin(theta) * shape.b])
                c, s = math.cos(shape.angle), math.sin(shape.angle)
                centre = shape.centre + np.array([c * rim[0] - s * rim[1], s * rim[0] + c * rim[1]])
                centre = shape.centre + (centre - shape.centre) * 0.85
                r = min(shape.a, shape.b) * (0.2 + 0.1 * (erosion - threshold))
            else:  # the radial styloid, at the radial end of the distal radius
                epiphysis = bones[name].extra[0]
                centre = epiphysis.centre + np.array([-0.9 * epiphysis.a, -0.2 * epiphysis.b])
                r = epiphysis.b * (0.15 + 0.08 * (erosion - threshold))
            bones[name].bites.append((centre, r))
    if spur > 0:  # a beak on the radial styloid
        epiphysis = bones["radius"].extra[0]
        root = epiphysis.centre + np.array([-0.95 * epiphysis.a, -0.3 * epiphysis.b])
        tip = root + np.array([-0.5, -1.0]) * (1.0 + 2.5 * spur)
        bones["radius"].spurs.append(_Tube(root, tip, 1.4, 1.0, 0.4))


# ---------------------------------------------------------------------------------------
# Rasterisation: every shape is evaluated only on the pixels of its bounding box.


class _Scene:
    """Path-length maps (mm) of soft tissue, trabecular and cortical bone on the detector."""

    def __init__(
        self,
        size: int,
        to_mm: np.ndarray,
        origin: np.ndarray,
        mm_per_px: float,
        trabeculae: np.ndarray,
    ):
        self.size, self.to_mm, self.origin, self.mm_per_px = size, to_mm, origin, mm_per_px
        self.trabeculae = trabeculae  # a periodic tile of bone texture, one texel per 0.5 mm
        self.soft = np.zeros((size, size), np.float32)
        self.trabecular = np.zeros((size, size), np.float32)
        self.cortex = np.zeros((size, size), np.float32)
        self.to_px = np.linalg.inv(to_mm)

    def patch(self, lo: np.ndarray, hi: np.ndarray):
        """Slices and hand-frame coordinates (mm) of the pixels covering the box lo..hi (mm)."""
        corners = np.array([[lo[0], lo[1]], [lo[0], hi[1]], [hi[0], lo[1]], [hi[0], hi[1]]])
        px = corners @ self.to_px.T + self.origin
        (c0, r0), (c1, r1) = np.floor(px.min(0)) - 1, np.ceil(px.max(0)) + 2
        c0, r0 = max(int(c0), 0), max(int(r0), 0)
        c1, r1 = min(int(c1), self.size), min(int(r1), self.size)
        if c0 >= c1 or r0 >= r1:
            return None
        cols = np.arange(c0, c1, dtype=np.float32)[None, :] - self.origin[0]
        rows = np.arange(r0, r1, dtype=np.float32)[:, None] - self.origin[1]
        x = self.to_mm[0, 0] * cols + self.to_mm[0, 1] * rows
        y = self.to_mm[1, 0] * cols + self.to_mm[1, 1] * rows
        return (slice(r0, r1), slice(c0, c1)), x, y


def _tube_geometry(tube: _Tube, x: np.ndarray, y: np.ndarray):
    """Distance to the axis (mm) and outer radius (mm) of a tube with flared ends."""
    axis = tube.p1 - tube.p0
    length = float(np.hypot(*axis))
    ux, uy = axis / length
    dx, dy = x - tube.p0[0], y - tube.p0[1]
    s = np.clip(dx * ux + dy * uy, 0.0, length)
    dist = np.hypot(dx - s * ux, dy - s * uy)
    # Metaphyseal flare: the radius relaxes from the end radius to the shaft radius.
    flare0 = np.exp(-((s / (1.3 * tube.r0)) ** 2))
    flare1 = np.exp(-(((length - s) / (1.3 * tube.r1)) ** 2))
    outer = tube.rs + (tube.r0 - tube.rs) * flare0 + (tube.r1 - tube.rs) * flare1
    return dist, outer, np.maximum(flare0, flare1)


def _chord(radius, dist):
    return 2.0 * np.sqrt(np.maximum(radius * radius - dist * dist, 0.0))


def _bone_paths(shape: _Tube | _Ellipsoid, x: np.ndarray, y: np.ndarray):
    """Cortical and trabecular path lengths (mm) through a bone at each pixel."""
    if isinstance(shape, _Tube):
        dist, outer, flare = _tube_geometry(shape, x, y)
        # Thick cortex along the diaphysis (a healthy metacarpal cortical index, combined
        # cortical thickness over width, is about 0.45-0.5), a thin shell around the ends.
        wall = outer * (0.46 - 0.36 * flare)
        total, inner = _chord(outer, dist), _chord(outer - wall, dist)
        return total - inner, inner
    q_outer = _ellipse_radius(shape, x, y, 0.0)
    wall = 0.6 / min(shape.a, shape.b)
    total = shape.depth * _chord(1.0, q_outer)
    inner = shape.depth * (1.0 - wall) * _chord(1.0, q_outer / (1.0 - wall))
    return total - inner, inner


def _ellipse_radius(shape: _Ellipsoid, x, y, grow: float):
    """Normalised radius (1 on the outline) of the (super)ellipse grown by `grow` mm."""
    c, s = math.cos(shape.angle), math.sin(shape.angle)
    dx, dy = x - shape.centre[0], y - shape.centre[1]
    along = np.abs(dx * c + dy * s) / (shape.a + grow)
    across = np.abs(-dx * s + dy * c) / (shape.b + grow)
    if shape.power == 2.0:
        return np.hypot(along, across)
    p = shape.power
    return (along**p + across**p) ** (1.0 / p)


def _outside(shape: _Tube | _Ellipsoid, x, y, grow: float, soft_mm: float):
    """1 outside the shape grown by `grow` mm, 0 inside, a ramp `soft_mm` wide in between.

    A tube only ever carves with its head (the convex side of a joint), so its round end
    stands for it.
    """
    if isinstance(shape, _Tube):
        signed = np.hypot(x - shape.p1[0], y - shape.p1[1]) - shape.r1 - grow
    else:
        q = _ellipse_radius(shape, x, y, grow)
        signed = (q - 1.0) * (min(shape.a, shape.b) + grow)
    return np.clip(signed / soft_mm + 0.5, 0.0, 1.0)


def _draw_bone(scene: _Scene, bone: _Bone) -> None:
    lo, hi = bone.shape.bounds()
    for spur in (*bone.extra, *bone.spurs):
        spur_lo, spur_hi = spur.bounds()
        lo, hi = np.minimum(lo, spur_lo), np.maximum(hi, spur_hi)
    patch = scene.patch(lo, hi)
    if patch is None:
        return
    where, x, y = patch
    cortex, trabecular = _bone_paths(bone.shape, x, y)
    for part in bone.extra:  # the union of two shells is the shell of the union
        part_cortex, part_trabecular = _bone_paths(part, x, y)
        total = np.maximum(cortex + trabecular, part_cortex + part_trabecular)
        np.maximum(trabecular, part_trabecular, out=trabecular)
        cortex = total - trabecular
    # Trabecular texture is fixed to the bone, so it moves with the hand.
    tile = scene.trabeculae
    n = tile.shape[0]
    trabecular *= tile[(2.0 * y).astype(np.intp) % n, (2.0 * x).astype(np.intp) % n]
    keep = np.ones_like(cortex)
    aa = scene.mm_per_px
    for shape, gap in bone.carves:
        keep *= _outside(shape, x, y, gap, aa)
    for centre, r in bone.bites:
        hole = 1.0 - np.clip((np.hypot(x - centre[0], y - centre[1]) - r) / aa + 0.5, 0.0, 1.0)
        keep *= 1.0 - 0.92 * hole
    for centre, reach, osteopenia, sclerosis in bone.periarticular:
        near = np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (2.0 * reach**2))
        if osteopenia > 0:  # periarticular demineralisation: trabeculae first, then cortex
            trabecular *= 1.0 - 0.7 * osteopenia * near
            cortex *= 1.0 - 0.5 * osteopenia * near
        if sclerosis > 0:  # subchondral sclerosis beside osteophytes (osteoarthritis)
            trabecular *= 1.0 + 0.8 * sclerosis * near**4
    for spur in bone.spurs:
        dist, outer, _ = _tube_geometry(spur, x, y)
        cortex += 1.3 * _chord(outer, dist)
    scene.cortex[where] += cortex * keep
    scene.trabecular[where] += trabecular * keep


def _draw_soft(scene: _Scene, shape: _Tube | _Ellipsoid, depth_ratio: float, add: bool) -> None:
    """Soft tissue; a tube is `depth_ratio` as deep as wide, an ellipsoid has its own depth."""
    patch = scene.patch(*shape.bounds())
    if patch is None:
        return
    where, x, y = patch
    if isinstance(shape, _Tube):
        dist, outer, _ = _tube_geometry(shape, x, y)
        path = depth_ratio * _chord(outer, dist)
    else:
        path = shape.depth * _chord(1.0, _ellipse_radius(shape, x, y, 0.0))
    if add:  # oedema adds density on top of the limb
        scene.soft[where] += path
    else:  # a limb is the union of its parts
        np.maximum(scene.soft[where], path, out=scene.soft[where])


def _convex_hull(points: np.ndarray) -> np.ndarray:
    """Convex hull (Andrew's monotone chain), positively oriented: the normal (e_y, -e_x) of
    each edge e points outwards."""

    def half(ordered):
        chain: list[np.ndarray] = []
        for p in ordered:
            while len(chain) >= 2:
                (ax, ay), (bx, by) = chain[-1] - chain[-2], p - chain[-2]
                if ax * by - ay * bx > 0:  # a left turn: keep it
                    break
                chain.pop()
            chain.append(p)
        return chain[:-1]

    ordered = points[np.lexsort((points[:, 1], points[:, 0]))]
    return np.array(half(ordered) + half(ordered[::-1]))


def _draw_palm(scene: _Scene, outline: np.ndarray, thickness: float, edge: float) -> None:
    hull = _convex_hull(outline)
    patch = scene.patch(hull.min(0), hull.max(0))
    if patch is None:
        return
    where, x, y = patch
    edges = np.roll(hull, -1, axis=0) - hull
    normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    offsets = np.einsum("ij,ij->i", normals, hull)
    signed = np.full(x.shape, -np.inf, np.float32)
    for (nx, ny), c in zip(normals, offsets, strict=True):
        signed = np.maximum(signed, nx * x + ny * y - c)
    depth = np.clip(-signed / edge, 0.0, 1.0)
    path = thickness * np.sqrt(depth * (2.0 - depth))
    np.maximum(scene.soft[where], path, out=scene.soft[where])


# ---------------------------------------------------------------------------------------


def _draw_patient(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Anatomy and where damage would sit, drawn alike whatever the findings are."""
    n_long = sum(len(b) for b in _BONES.values())
    return {
        "size": np.float64(rng.normal(0.96, 0.05)).clip(0.86, 1.1),
        "lengths": rng.normal(1.0, 0.03, n_long).clip(0.92, 1.08),
        "widths": rng.normal(1.0, 0.05, n_long).clip(0.88, 1.12),
        "spread": rng.normal(0.0, 3.0, 5),
        "spread_scale": np.float64(rng.uniform(0.3, 1.8)),
        "bend": rng.normal(0.0, 2.0, n_long),
        "carpal_jitter": rng.normal(0.0, 0.4, (len(_CARPALS), 2)),
        "damage": rng.uniform(0.0, 1.0, (len(JOINTS), 8)),
        "trabeculae": rng.standard_normal((64, 64)),
    }


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
        ``noise_sigma``, ``blur_sigma_px``, ``finger_spread`` and ``laterality``.

    Examples
    --------
    >>> import numpy as np
    >>> ra = HandFindings(erosion={"mcp2": 2}, narrowing={"mcp2": 2}, osteopenia=0.5)
    >>> pixels, acquisition = render_hand(ra, size=128, rng=np.random.default_rng(0))
    >>> pixels.shape, pixels.dtype, int(pixels.max()) <= 4095
    ((128, 128), dtype('uint16'), True)
    >>> round(acquisition["pixel_spacing_mm"], 3)
    2.109
    """
    if laterality not in ("R", "L"):
        raise ValueError(f"laterality must be 'R' or 'L', got {laterality!r}")
    if size < 32:
        raise ValueError(f"size must be at least 32 pixels, got {size}")
    findings.validate()

    patient = _draw_patient(rng)
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

    hand = _build_hand(findings, patient)
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
    scene = _Scene(size, to_mm, origin, mm_per_px, trabeculae)

    _draw_palm(scene, np.array(hand.palm), thickness=26.0, edge=9.0)
    for shape, depth in hand.limb:
        _draw_soft(scene, shape, depth, add=False)
    for shape in hand.swellings:
        _draw_soft(scene, shape, 1.0, add=True)
    for bone in hand.bones.values():
        _draw_bone(scene, bone)

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
    }
    return pixels, acquisition
