# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The planar grasp rectangle (pixels, radians) used across the package.

Frame: image pixels, ``x`` = column to the right, ``y`` = row downwards, origin at the top-left
pixel's centre. The angle is that of the gripper's closing axis from the image +x axis,
counter-clockwise *as displayed* (towards -y), wrapped to ``[-pi/2, pi/2)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported where used: only the metric needs polygons, not a detector
    from shapely.geometry import Polygon

HALF_PI = math.pi / 2.0


def wrap_angle(angle: float) -> float:
    """Wrap an angle (rad) to ``[-pi/2, pi/2)``, the half-turn symmetry of a parallel jaw."""
    wrapped = (float(angle) + HALF_PI) % math.pi - HALF_PI
    if wrapped >= HALF_PI:  # floating-point edge case of the modulo
        wrapped -= math.pi
    wrapped = max(wrapped, -HALF_PI)
    return wrapped


def clamp_quality(quality: float) -> float:
    """Return a grasp quality clamped to [0, 1], as messages and reports carry it.

    The quality map is a regression output and strays outside [0, 1]; grasps are ranked on
    the raw values before this is applied.
    """
    return min(max(float(quality), 0.0), 1.0)


@dataclass(frozen=True)
class GraspRectangle:
    """A parallel-jaw grasp in image pixels.

    Attributes:
        center: ``(x, y)`` centre in pixels.
        angle: closing-axis angle in rad, counter-clockwise as displayed, wrapped to
            ``[-pi/2, pi/2)`` on construction.
        opening: length along the closing axis in pixels (the gripper opening).
        jaw: size perpendicular to the closing axis in pixels (the finger size).
        quality: grasp confidence, nominally in [0, 1] (not clipped).
    """

    center: tuple[float, float]
    angle: float
    opening: float
    jaw: float
    quality: float = 1.0

    def __post_init__(self) -> None:
        """Validate the fields and wrap the angle."""
        try:
            cx, cy = (float(v) for v in self.center)
        except (TypeError, ValueError) as exc:
            raise ValueError(f'GraspRectangle: center must be (x, y) px, got {self.center!r}'
                             ) from exc
        values = {'center x': cx, 'center y': cy, 'angle': self.angle,
                  'opening': self.opening, 'jaw': self.jaw, 'quality': self.quality}
        for name, value in values.items():
            if not math.isfinite(float(value)):
                raise ValueError(f'GraspRectangle: {name} must be finite, got {value!r}')
        for name in ('opening', 'jaw'):
            if float(getattr(self, name)) < 0:
                raise ValueError(f'GraspRectangle: {name} must be >= 0 px, '
                                 f'got {getattr(self, name)!r}')
        object.__setattr__(self, 'center', (cx, cy))
        object.__setattr__(self, 'angle', wrap_angle(self.angle))
        object.__setattr__(self, 'opening', float(self.opening))
        object.__setattr__(self, 'jaw', float(self.jaw))
        object.__setattr__(self, 'quality', float(self.quality))

    # ------------------------------------------------------------------ geometry
    def axis(self) -> np.ndarray:
        """Return unit closing-axis direction ``(dx, dy)`` in pixel coordinates (y down)."""
        return np.array([math.cos(self.angle), -math.sin(self.angle)])

    def normal(self) -> np.ndarray:
        """Return unit jaw direction ``(dx, dy)``, perpendicular to :meth:`axis` (p1 -> p2)."""
        return np.array([math.sin(self.angle), math.cos(self.angle)])

    def corners(self) -> np.ndarray:
        """Corners ``(4, 2)`` float ``(x, y)`` px, Cornell order; p0 -> p1 is the closing axis."""
        c = np.asarray(self.center, dtype=np.float64)
        u = self.axis() * (self.opening / 2.0)
        n = self.normal() * (self.jaw / 2.0)
        return np.stack([c - u - n, c + u - n, c + u + n, c - u + n])

    @classmethod
    def from_corners(cls, points: Sequence[Sequence[float]] | np.ndarray,
                     quality: float = 1.0) -> GraspRectangle:
        """Build from 4 corners ``(x, y)`` px in Cornell order (p0 -> p1 = closing axis).

        angle = atan2(-dy, dx) of p0 -> p1, opening = |p1 - p0|, jaw = |p2 - p1|,
        centre = mean of the corners.
        """
        pts = np.asarray(points, dtype=np.float64)
        if pts.shape != (4, 2):
            raise ValueError(f'GraspRectangle.from_corners: points must have shape (4, 2), '
                             f'got {pts.shape}')
        if not np.all(np.isfinite(pts)):
            raise ValueError('GraspRectangle.from_corners: points contain NaN or inf')
        d01 = pts[1] - pts[0]
        d12 = pts[2] - pts[1]
        centre = pts.mean(axis=0)
        return cls(center=(float(centre[0]), float(centre[1])),
                   angle=math.atan2(-d01[1], d01[0]),
                   opening=float(np.hypot(*d01)), jaw=float(np.hypot(*d12)),
                   quality=quality)

    def polygon(self) -> Polygon:
        """Return the rectangle as a shapely Polygon in pixel coordinates."""
        from shapely.geometry import Polygon

        return Polygon(self.corners())

    # ------------------------------------------------------------------ transforms
    def scaled(self, s: float, about_xy: tuple[float, float] = (0.0, 0.0)) -> GraspRectangle:
        """Scale by ``s`` (> 0) about ``about_xy`` px: centre, opening and jaw; angle kept."""
        if not (math.isfinite(s) and s > 0):
            raise ValueError(f'GraspRectangle.scaled: s must be finite and > 0, got {s!r}')
        ax, ay = about_xy
        cx, cy = self.center
        return replace(self, center=(ax + (cx - ax) * s, ay + (cy - ay) * s),
                       opening=self.opening * s, jaw=self.jaw * s)

    def translated(self, dx: float, dy: float) -> GraspRectangle:
        """Shift the centre by ``(dx, dy)`` px."""
        return replace(self, center=(self.center[0] + dx, self.center[1] + dy))

    def rotated(self, angle_rad: float, about_xy: tuple[float, float]) -> GraspRectangle:
        """Rotate by ``angle_rad`` counter-clockwise as displayed about ``about_xy`` px."""
        c, s = math.cos(angle_rad), math.sin(angle_rad)
        dx = self.center[0] - about_xy[0]
        dy = self.center[1] - about_xy[1]
        # counter-clockwise on screen (y down): +x turns towards -y
        nx = about_xy[0] + c * dx + s * dy
        ny = about_xy[1] - s * dx + c * dy
        return replace(self, center=(nx, ny), angle=self.angle + angle_rad)

    def flipped_horizontal(self, image_width: int) -> GraspRectangle:
        """Mirror left-right in an image ``image_width`` px wide (x -> W - 1 - x)."""
        return replace(self, center=(image_width - 1 - self.center[0], self.center[1]),
                       angle=-self.angle)

    def flipped_vertical(self, image_height: int) -> GraspRectangle:
        """Mirror top-bottom in an image ``image_height`` px high (y -> H - 1 - y)."""
        return replace(self, center=(self.center[0], image_height - 1 - self.center[1]),
                       angle=-self.angle)

    def with_quality(self, q: float) -> GraspRectangle:
        """Return a copy with quality ``q``."""
        return replace(self, quality=q)
