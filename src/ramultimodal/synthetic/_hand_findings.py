"""Radiographic findings of one hand, and where each is drawn on its bones.

Joint-space narrowing is drawn by the anatomy itself (`build_hand` shrinks the gap between
the convex head and the concave base). Here: an erosion bites out of the bone margin next
to the joint, osteophytes are small bright spurs on the joint margins (with subchondral
sclerosis), swelling widens and densifies the soft tissue around the joint, and osteopenia
thins the bone around every joint. Where a finding sits on a joint comes from fixed-size
draws per joint, so the findings never change what is drawn from the generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ramultimodal.synthetic._hand_anatomy import (
    CARPALS,
    JOINTS,
    Bone,
    Ellipsoid,
    Hand,
    Joint,
    Tube,
)

__all__ = ["HandFindings", "apply_findings"]

# Sharp/van der Heijde ranges: erosion 0-5, joint-space narrowing 0-4 per joint.
_SCORE_RANGES = {"erosion": 5.0, "narrowing": 4.0, "osteophytes": 1.0, "swelling": 1.0}


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


def apply_findings(hand: Hand, findings: HandFindings, damage: np.ndarray) -> None:
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
                        bone.spurs.append(Tube(root, tip, 0.22 * r, 0.14 * r, 0.06 * r))
        # Periarticular osteopenia and (with osteophytes) subchondral sclerosis; every
        # carpal takes part in the wrist.
        members = [prox, dist]
        if joint.name == "wrist":
            members = [bones[name] for name in (*CARPALS, "radius", "ulna")]
        for bone in members:
            bone.periarticular.append((joint.centre, 1.6 * r, findings.osteopenia, spur))
        if swelling > 0:
            along = 1.4 * joint.finger_radius
            across = joint.finger_radius * (1.0 + 0.35 * swelling)
            angle = math.atan2(joint.axis[1], joint.axis[0])
            depth = 0.45 * swelling * joint.finger_radius
            hand.swellings.append(Ellipsoid(joint.centre, along, across, angle, depth))


def _wrist_damage(
    bones: dict[str, Bone], joint: Joint, erosion: float, spur: float, u: np.ndarray
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
            if isinstance(shape, Ellipsoid):
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
        bones["radius"].spurs.append(Tube(root, tip, 1.4, 1.0, 0.4))
