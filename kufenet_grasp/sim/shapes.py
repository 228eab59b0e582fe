# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Procedural household-like objects built from PyBullet primitives (compound shapes).

Shape ``k`` (0 <= k < ``NUM_SHAPES``) is a kind, ``KINDS[k % len(KINDS)]``, with dimensions
drawn from a generator seeded by ``k`` alone, so a shape is the same on every machine. A shape
is a list of :class:`Part` primitives in the body frame (metres, quaternions x, y, z, w); it is
built as one rigid body with a compound collision shape and a matching compound visual shape,
so concavities (a mug's inside, its handle, the gap between glasses' rims) stay concave. Every
kind has a side that an 8 cm parallel gripper can close on.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

from kufenet_grasp.common.vectors import float3
import numpy as np

KINDS = ('box', 'cylinder', 'bottle', 'mug', 'tool', 'flat', 'pen', 'glasses')
NUM_SHAPES = 800  #: 100 shapes of each kind
SHAPE_SEED = 20241
DENSITY = 500.0  #: kg/m³ of the solid volume (mass clipped to MASS_RANGE)
MASS_RANGE = (0.02, 0.4)  #: kg
_Z = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Part:
    """One primitive of a compound shape, in the body frame.

    ``geom`` is 'box' (``size`` = half extents, m), 'cylinder' or 'capsule' (``size`` =
    (radius, length) along the local z axis, m) or 'sphere' (``size`` = (radius,), m).
    """

    geom: str
    size: tuple[float, ...]
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    orientation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)

    def volume(self) -> float:
        """Return the solid volume in m³."""
        if self.geom == 'box':
            return 8.0 * self.size[0] * self.size[1] * self.size[2]
        if self.geom == 'sphere':
            return 4.0 / 3.0 * math.pi * self.size[0] ** 3
        r, length = self.size
        extra = 4.0 / 3.0 * math.pi * r ** 3 if self.geom == 'capsule' else 0.0
        return math.pi * r * r * length + extra


def _quat_z_to(direction: np.ndarray) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) turning the z axis onto ``direction``."""
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    axis = np.cross(_Z, d)
    s = np.linalg.norm(axis)
    if s < 1e-9:
        return (0.0, 0.0, 0.0, 1.0) if d[2] > 0 else (1.0, 0.0, 0.0, 0.0)
    angle = math.atan2(s, float(d[2]))
    axis = axis / s * math.sin(angle / 2)
    return (float(axis[0]), float(axis[1]), float(axis[2]), math.cos(angle / 2))


def _quat_about_z(angle: float) -> tuple[float, float, float, float]:
    return (0.0, 0.0, math.sin(angle / 2), math.cos(angle / 2))


def _segment(geom: str, a, b, radius: float) -> Part:
    """Cylinder or capsule of ``radius`` from point ``a`` to point ``b`` (body frame, m)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    mid = (a + b) / 2
    return Part(geom, (radius, float(np.linalg.norm(b - a))), float3(mid),
                _quat_z_to(b - a))


def _box(rng: np.random.Generator) -> list[Part]:
    # one side narrow enough for the gripper, the others anything household-sized
    half = [rng.uniform(0.012, 0.032), rng.uniform(0.02, 0.07), rng.uniform(0.01, 0.05)]
    rng.shuffle(half)
    return [Part('box', tuple(float(h) for h in half))]


def _cylinder(rng: np.random.Generator) -> list[Part]:
    return [Part('cylinder', (float(rng.uniform(0.015, 0.034)), float(rng.uniform(0.03, 0.18))))]


def _bottle(rng: np.random.Generator) -> list[Part]:
    r = rng.uniform(0.02, 0.034)
    body = rng.uniform(0.08, 0.16)
    shoulder = rng.uniform(0.015, 0.03)
    neck_r = rng.uniform(0.008, 0.014)
    neck = rng.uniform(0.02, 0.05)
    z_top = body / 2
    parts = [Part('cylinder', (r, body)),
             Part('cylinder', (0.5 * (r + neck_r), shoulder), (0.0, 0.0, z_top + shoulder / 2)),
             Part('cylinder', (neck_r, neck), (0.0, 0.0, z_top + shoulder + neck / 2)),
             Part('cylinder', (neck_r * 1.25, 0.012),
                  (0.0, 0.0, z_top + shoulder + neck + 0.006))]
    return parts


def _mug(rng: np.random.Generator) -> list[Part]:
    radius = rng.uniform(0.028, 0.038)
    height = rng.uniform(0.07, 0.11)
    wall = rng.uniform(0.004, 0.007)
    n = 12
    half_chord = radius * math.sin(math.pi / n) + 0.001
    parts = []
    for i in range(n):
        phi = 2 * math.pi * i / n
        r = radius - wall / 2
        parts.append(Part('box', (wall / 2, half_chord, height / 2),
                          (r * math.cos(phi), r * math.sin(phi), 0.0), _quat_about_z(phi)))
    parts.append(Part('cylinder', (radius - wall / 2, 0.008), (0.0, 0.0, -height / 2 + 0.004)))
    reach = rng.uniform(0.02, 0.03)  # handle sticks out this far from the wall
    bar = rng.uniform(0.004, 0.006)  # half thickness of the handle bars
    width = rng.uniform(0.005, 0.008)  # half width of the handle
    span = rng.uniform(0.3, 0.4) * height  # half height between the two arms
    x_mid = radius + reach / 2
    for z in (-span, span):
        parts.append(Part('box', (reach / 2 + bar, width, bar), (x_mid, 0.0, z)))
    parts.append(Part('box', (bar, width, span + bar), (radius + reach, 0.0, 0.0)))
    return parts


def _tool(rng: np.random.Generator) -> list[Part]:
    r = rng.uniform(0.01, 0.017)
    length = rng.uniform(0.09, 0.15)
    parts = [_segment('cylinder', (-length / 2, 0, 0), (length / 2, 0, 0), r)]
    kind = int(rng.integers(3))
    end = length / 2
    if kind == 0:  # hammer: a block across the end of the handle
        hx = rng.uniform(0.012, 0.02)
        parts.append(Part('box', (hx, rng.uniform(0.03, 0.05), rng.uniform(0.012, 0.018)),
                          (end + hx, 0.0, 0.0)))
    elif kind == 1:  # spatula: a thin blade
        bx = rng.uniform(0.03, 0.05)
        parts.append(Part('box', (bx, rng.uniform(0.025, 0.04), rng.uniform(0.0015, 0.003)),
                          (end + bx, 0.0, 0.0)))
    else:  # screwdriver: a thin shaft
        shaft = rng.uniform(0.05, 0.1)
        parts.append(_segment('cylinder', (end, 0, 0), (end + shaft, 0, 0),
                              rng.uniform(0.0025, 0.004)))
    return parts


def _flat(rng: np.random.Generator) -> list[Part]:
    width = rng.uniform(0.018, 0.037)
    length = rng.uniform(0.05, 0.1)
    thick = rng.uniform(0.004, 0.012)
    parts = [Part('box', (width, length, thick))]
    if rng.random() < 0.5:  # remote: a few buttons on top
        for i in range(int(rng.integers(2, 6))):
            parts.append(Part('box', (width * 0.3, 0.006, 0.002),
                              (0.0, length * (0.6 - 0.25 * i), thick + 0.002)))
    return parts


def _pen(rng: np.random.Generator) -> list[Part]:
    if rng.random() < 0.5:  # pen with a clip
        r = rng.uniform(0.004, 0.007)
        length = rng.uniform(0.12, 0.16)
        return [_segment('capsule', (0, -length / 2, 0), (0, length / 2, 0), r),
                Part('box', (0.0015, length * 0.2, 0.002),
                     (0.0, length * 0.3, r + 0.002))]
    half = rng.uniform(0.075, 0.095)  # toothbrush: handle and a thicker head
    return [Part('box', (rng.uniform(0.005, 0.008), half, rng.uniform(0.004, 0.006))),
            Part('box', (0.006, 0.013, 0.008), (0.0, half - 0.013, 0.004))]


def _glasses(rng: np.random.Generator) -> list[Part]:
    rim = rng.uniform(0.018, 0.026)
    wire = rng.uniform(0.0015, 0.0025)
    gap = rng.uniform(0.012, 0.02)
    n = 10
    parts = []
    for side in (-1.0, 1.0):
        cx = side * (gap / 2 + rim)
        pts = [(cx + rim * math.cos(2 * math.pi * i / n), 0.0,
                rim * 0.8 * math.sin(2 * math.pi * i / n)) for i in range(n + 1)]
        parts += [_segment('capsule', a, b, wire) for a, b in zip(pts[:-1], pts[1:])]
        outer = cx + side * rim
        temple = rng.uniform(0.1, 0.13)
        spread = rng.uniform(-0.01, 0.02)
        parts.append(_segment('capsule', (outer, 0.0, 0.0),
                              (outer + side * spread, -temple, 0.0), wire))
    parts.append(_segment('capsule', (-gap / 2, 0.0, rim * 0.3), (gap / 2, 0.0, rim * 0.3), wire))
    return parts


_BUILDERS = {'box': _box, 'cylinder': _cylinder, 'bottle': _bottle, 'mug': _mug,
             'tool': _tool, 'flat': _flat, 'pen': _pen, 'glasses': _glasses}


def shape_kind(shape_id: int) -> str:
    """Kind of procedural shape ``shape_id``."""
    if not 0 <= int(shape_id) < NUM_SHAPES:
        raise ValueError(f'shape_kind: shape_id must be in [0, {NUM_SHAPES}), got {shape_id}')
    return KINDS[int(shape_id) % len(KINDS)]


def shape_parts(shape_id: int) -> list[Part]:
    """Primitives of procedural shape ``shape_id`` (body frame, metres, scale 1)."""
    kind = shape_kind(shape_id)
    parts = _BUILDERS[kind](np.random.default_rng([SHAPE_SEED, int(shape_id)]))
    # the body frame is the centre of mass: PyBullet reports and takes base poses there
    centre = centroid(parts)
    return [Part(p.geom, p.size, float3(np.asarray(p.position) - centre),
                 p.orientation) for p in parts]


def scaled(parts: list[Part], scale: float) -> list[Part]:
    """Copy of ``parts`` with every length and position multiplied by ``scale``."""
    return [Part(p.geom, tuple(float(s) * scale for s in p.size),
                 float3(float(v) * scale for v in p.position), p.orientation) for p in parts]


def mass_of(parts: list[Part]) -> float:
    """Mass (kg) of the parts at :data:`DENSITY`, clipped to :data:`MASS_RANGE`."""
    return float(np.clip(DENSITY * sum(p.volume() for p in parts), *MASS_RANGE))


def centroid(parts: list[Part]) -> np.ndarray:
    """Volume-weighted centre of the parts (body frame, m)."""
    vols = np.array([p.volume() for p in parts])
    pos = np.array([p.position for p in parts], dtype=float)
    return (vols[:, None] * pos).sum(axis=0) / vols.sum()


def build_shape(client: int, parts: list[Part], position, orientation) -> int:
    """Create one rigid body from ``parts`` at ``position``/``orientation`` (world); its id."""
    import pybullet as p

    geoms = {'box': p.GEOM_BOX, 'cylinder': p.GEOM_CYLINDER, 'capsule': p.GEOM_CAPSULE,
             'sphere': p.GEOM_SPHERE}
    types, radii, halves, lengths = [], [], [], []
    for part in parts:
        types.append(geoms[part.geom])
        if part.geom == 'box':
            halves.append(list(part.size))
            radii.append(0.0)
            lengths.append(0.0)
        else:
            halves.append([0.0, 0.0, 0.0])
            radii.append(part.size[0])
            lengths.append(part.size[1] if len(part.size) > 1 else 0.0)
    positions = [list(part.position) for part in parts]
    orientations = [list(part.orientation) for part in parts]
    kw = {'physicsClientId': client}
    col = p.createCollisionShapeArray(types, radii=radii, halfExtents=halves, lengths=lengths,
                                      collisionFramePositions=positions,
                                      collisionFrameOrientations=orientations, **kw)
    vis = p.createVisualShapeArray(types, radii=radii, halfExtents=halves, lengths=lengths,
                                   visualFramePositions=positions,
                                   visualFrameOrientations=orientations, **kw)
    return p.createMultiBody(baseMass=mass_of(parts), baseCollisionShapeIndex=col,
                             baseVisualShapeIndex=vis, basePosition=list(position),
                             baseOrientation=list(orientation), **kw)
