"""Gripper opening in metres from a pixel grasp rectangle and the depth image."""

from __future__ import annotations

import math

import numpy as np

from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.depth import depth_at
from kufenet_grasp.geometry.grasp_pose import RectLike, closing_axis_pixels


def jaw_points_px(rect: RectLike) -> tuple[np.ndarray, np.ndarray]:
    """The two ends ``(u, v)`` px of the rectangle's opening axis (where the fingers start)."""
    half = 0.5 * float(rect.opening) * closing_axis_pixels(rect.angle)
    centre = np.asarray(rect.center, dtype=float)
    return centre - half, centre + half


#: an end deeper or nearer than the centre by more than this (m) is off the object
MAX_END_STEP_M = 0.025


def width_m(rect: RectLike, depth_m: np.ndarray, camera: PinholeCamera, radius_px: int = 3,
            valid_range: tuple[float, float] | None = None,
            max_end_step_m: float = MAX_END_STEP_M) -> float | None:
    """Opening of the grasp in metres, or None without any usable depth.

    Each end of the opening axis is deprojected with its own depth (searched within
    ``radius_px``) and the width is the 3D distance between the two points, so a sloped
    surface gets its true length. An end without depth, outside the image, or whose depth
    differs from the centre's by more than ``max_end_step_m`` metres (it lies past the
    object's edge, on the background: the finger goes down there in free space) uses the
    centre's depth instead. If no end has a usable depth of its own, the width is
    ``opening_px * z_centre / fx`` (the centre at depth ``z_centre``).
    """
    cu, cv = rect.center
    z_centre = depth_at(depth_m, cu, cv, radius_px, valid_range)
    ends = jaw_points_px(rect)
    z_ends = [depth_at(depth_m, u, v, radius_px, valid_range) for u, v in ends]
    if z_centre is not None:
        z_ends = [z if z is not None and abs(z - z_centre) <= max_end_step_m else None
                  for z in z_ends]
    if all(z is None for z in z_ends):
        if z_centre is None:
            return None
        # Direction-aware pixel → metre scale at the centre depth (fx == fy gives opening*z/fx).
        dx, dy = closing_axis_pixels(rect.angle)
        return float(rect.opening) * z_centre * math.hypot(dx / camera.fx, dy / camera.fy)
    fallback = z_centre if z_centre is not None else next(z for z in z_ends if z is not None)
    points = [camera.deproject(u, v, z if z is not None else fallback)
              for (u, v), z in zip(ends, z_ends)]
    return float(np.linalg.norm(points[1] - points[0]))


def clamp_width(w: float, min_width: float, max_width: float,
                margin: float = 0.0) -> tuple[float, bool]:
    """Commanded opening (m) for a measured width ``w`` m, and whether the gripper can take it.

    The opening is ``w + margin`` clamped to ``[min_width, max_width]``. A width wider than
    ``max_width`` (before the margin) cannot be grasped: returns ``(max_width, False)``.
    """
    if not (0 <= min_width <= max_width) or margin < 0:
        raise ValueError(f"clamp_width: need 0 <= min_width <= max_width and margin >= 0, got "
                         f"min_width={min_width}, max_width={max_width}, margin={margin}")
    if not math.isfinite(w) or w < 0:
        raise ValueError(f"clamp_width: width must be a finite number >= 0 m, got {w!r}")
    if w > max_width:
        return max_width, False
    return min(max(w + margin, min_width), max_width), True
