"""Projection of the hand on the detector: path lengths through soft tissue and bone.

Every pixel gets the projected path length through soft tissue, trabecular and cortical
bone, as an X-ray does; the tube formula makes a shaft bright at its rim and darker in its
core without any drawing trick. Every shape is evaluated only on the pixels of its bounding
box, on the detector grid, so the bones stay sharp whatever the magnification and rotation.
"""

from __future__ import annotations

import math

import numpy as np

from ramultimodal.synthetic._hand_anatomy import Bone, Ellipsoid, Tube

__all__ = ["Scene", "draw_bone", "draw_palm", "draw_soft"]


class Scene:
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


def _tube_geometry(tube: Tube, x: np.ndarray, y: np.ndarray):
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


def _bone_paths(shape: Tube | Ellipsoid, x: np.ndarray, y: np.ndarray):
    """Cortical and trabecular path lengths (mm) through a bone at each pixel."""
    if isinstance(shape, Tube):
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


def _ellipse_radius(shape: Ellipsoid, x, y, grow: float):
    """Normalised radius (1 on the outline) of the (super)ellipse grown by `grow` mm."""
    c, s = math.cos(shape.angle), math.sin(shape.angle)
    dx, dy = x - shape.centre[0], y - shape.centre[1]
    along = np.abs(dx * c + dy * s) / (shape.a + grow)
    across = np.abs(-dx * s + dy * c) / (shape.b + grow)
    if shape.power == 2.0:
        return np.hypot(along, across)
    p = shape.power
    return (along**p + across**p) ** (1.0 / p)


def _outside(shape: Tube | Ellipsoid, x, y, grow: float, soft_mm: float):
    """1 outside the shape grown by `grow` mm, 0 inside, a ramp `soft_mm` wide in between.

    A tube only ever carves with its head (the convex side of a joint), so its round end
    stands for it.
    """
    if isinstance(shape, Tube):
        signed = np.hypot(x - shape.p1[0], y - shape.p1[1]) - shape.r1 - grow
    else:
        q = _ellipse_radius(shape, x, y, grow)
        signed = (q - 1.0) * (min(shape.a, shape.b) + grow)
    return np.clip(signed / soft_mm + 0.5, 0.0, 1.0)


def draw_bone(scene: Scene, bone: Bone) -> None:
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


def draw_soft(scene: Scene, shape: Tube | Ellipsoid, depth_ratio: float, add: bool) -> None:
    """Soft tissue; a tube is `depth_ratio` as deep as wide, an ellipsoid has its own depth."""
    patch = scene.patch(*shape.bounds())
    if patch is None:
        return
    where, x, y = patch
    if isinstance(shape, Tube):
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


def draw_palm(scene: Scene, outline: np.ndarray, thickness: float, edge: float) -> None:
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
