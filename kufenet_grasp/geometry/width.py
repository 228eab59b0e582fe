# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Gripper opening in metres from a pixel grasp rectangle and the depth image."""

from __future__ import annotations

from dataclasses import dataclass
import math

from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.depth import depth_at, valid_mask
from kufenet_grasp.geometry.grasp_pose import closing_axis_pixels, RectLike
from kufenet_grasp.geometry.support_plane import inlier_tolerance_m, SupportPlane
import numpy as np


def jaw_points_px(rect: RectLike) -> tuple[np.ndarray, np.ndarray]:
    """Return two ends ``(u, v)`` px of the rectangle's opening axis (where the fingers start)."""
    half = 0.5 * float(rect.opening) * closing_axis_pixels(rect.angle)
    centre = np.asarray(rect.center, dtype=float)
    return centre - half, centre + half


#: an end deeper or nearer than the centre by more than this (m) is off the object
MAX_END_STEP_M = 0.025


def width_m(rect: RectLike, depth_m: np.ndarray, camera: PinholeCamera, radius_px: int = 3,
            valid_range: tuple[float, float] | None = None,
            max_end_step_m: float = MAX_END_STEP_M) -> float | None:
    """Return opening of the grasp in metres, or None without any usable depth.

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
    points = [camera.deproject_point(u, v, z if z is not None else fallback)
              for (u, v), z in zip(ends, z_ends)]
    return float(np.linalg.norm(points[1] - points[0]))


def clamp_width(w: float, min_width: float, max_width: float,
                margin: float = 0.0) -> tuple[float, bool]:
    """Commanded opening (m) for a measured width ``w`` m, and whether the gripper can take it.

    The opening is ``w + margin`` clamped to ``[min_width, max_width]``. A width wider than
    ``max_width`` (before the margin) cannot be grasped: returns ``(max_width, False)``.
    """
    if not (0 <= min_width <= max_width) or margin < 0:
        raise ValueError(f'clamp_width: need 0 <= min_width <= max_width and margin >= 0, got '
                         f'min_width={min_width}, max_width={max_width}, margin={margin}')
    if not math.isfinite(w) or w < 0:
        raise ValueError(f'clamp_width: width must be a finite number >= 0 m, got {w!r}')
    if w > max_width:
        return max_width, False
    return min(max(w + margin, min_width), max_width), True


#: depth this much (m) behind the grasp centre is the support past the object's edge
EDGE_STEP_M = 0.01


@dataclass(frozen=True)
class ObjectSpan:
    """Where the object between the jaws ends along the closing axis (image px, metres).

    ``ends_px`` (2, 2) are the last on-object points ``(u, v)`` of the two sides, ``ends_z``
    their depths (m), ``edges`` whether each side found the object's edge before its jaw end.
    """

    ends_px: np.ndarray
    ends_z: tuple[float, float]
    edges: tuple[bool, bool]

    def width_m(self, camera: PinholeCamera) -> float:
        """3D distance (m) between the two ends."""
        a, b = (camera.deproject_point(u, v, z)
                for (u, v), z in zip(self.ends_px, self.ends_z))
        return float(np.linalg.norm(b - a))

    @property
    def middle_px(self) -> tuple[float, float]:
        """Midpoint ``(u, v)`` px of the two ends: the object's centre along the axis."""
        mid = self.ends_px.mean(axis=0)
        return float(mid[0]), float(mid[1])


def _centre_height(depth: np.ndarray, centre: np.ndarray, plane: SupportPlane,
                   camera: PinholeCamera, valid_range: tuple[float, float] | None,
                   radius: int = 2) -> float | None:
    """Median height (m) above ``plane`` of the valid pixels within ``radius`` of ``centre``."""
    height, width = depth.shape
    cu, cv = (int(round(c)) for c in centre)
    u0, u1 = max(cu - radius, 0), min(cu + radius + 1, width)
    v0, v1 = max(cv - radius, 0), min(cv + radius + 1, height)
    if u0 >= u1 or v0 >= v1:
        return None
    patch = depth[v0:v1, u0:u1].astype(float)
    us = np.arange(u0, u1, dtype=float)[None, :]
    vs = np.arange(v0, v1, dtype=float)[:, None]
    heights = plane.height_m(patch, us, vs, camera)[valid_mask(patch, valid_range)]
    heights = heights[np.isfinite(heights)]
    return float(np.median(heights)) if heights.size else None


def object_span_px(rect: RectLike, depth_m: np.ndarray,
                   valid_range: tuple[float, float] | None = None,
                   edge_step_m: float = EDGE_STEP_M, *, plane: SupportPlane | None = None,
                   camera: PinholeCamera | None = None) -> ObjectSpan | None:
    """Return the object's span between the jaws, measured in the depth image; None if unknown.

    From the centre, walk along the closing axis towards each jaw end (1 px steps) and stop
    where the support begins beyond the object's edge; invalid pixels (NaN, 0, outside
    ``valid_range``) are stepped over. With the fitted support ``plane`` (pixels of this
    image) and the ``camera``, heights above the plane are compared, the same at any camera
    tilt: the edge is where the height has fallen ``edge_step_m`` below the centre's (the
    median of a 5×5 patch) plus what the depth noise adds at the centre's depth, or down to
    the plane's inlier tolerance (both from
    :func:`~kufenet_grasp.geometry.support_plane.inlier_tolerance_m`, which grows with the
    square of the depth). Without a plane it is where the depth lies ``edge_step_m`` or
    more behind the centre's. Each side ends at its last on-object point; a side without an
    edge before its jaw end (the object fills the opening, or no depth contrast: flat
    objects) ends at the jaw end. None without a valid centre depth.
    """
    arr = np.asarray(depth_m)
    height, width = arr.shape
    centre = np.asarray(rect.center, dtype=float)
    z_centre = depth_at(arr, centre[0], centre[1], 3, valid_range)
    if z_centre is None:
        return None
    axis = closing_axis_pixels(rect.angle)
    half = 0.5 * float(rect.opening)
    steps = max(int(math.ceil(half)), 1)
    offsets = (half / steps) * np.arange(1, steps + 1, dtype=float)
    # both walks at once, (side, step, uv): side 0 towards -axis, side 1 towards +axis
    walks = centre + np.array([-1.0, 1.0])[:, None, None] * offsets[None, :, None] * axis
    inside = (walks[..., 0] >= 0) & (walks[..., 0] <= width - 1) & \
        (walks[..., 1] >= 0) & (walks[..., 1] <= height - 1)
    cols = np.clip(np.rint(walks[..., 0]), 0, width - 1).astype(int)
    rows = np.clip(np.rint(walks[..., 1]), 0, height - 1).astype(int)
    z = arr[rows, cols].astype(float)
    valid = inside & valid_mask(z, valid_range)
    if plane is not None and camera is not None:
        # past the edge: the height has fallen a step below the centre's (the step grows with
        # the depth noise) or down to the support
        noise = float(inlier_tolerance_m(z_centre))
        step = edge_step_m + noise - float(inlier_tolerance_m(0.0))
        top = _centre_height(arr, centre, plane, camera, valid_range)
        floor = max(noise, (top if top is not None else 0.0) - step)
        with np.errstate(invalid='ignore'):
            past_edge = valid & (plane.height_m(z, walks[..., 0], walks[..., 1], camera)
                                 <= floor)
    else:
        past_edge = valid & (z >= z_centre + edge_step_m)
    ends, depths, edges = [], [], []
    for side, sign in enumerate((-1.0, 1.0)):
        # a straight walk from a centre in the image leaves it once: keep what comes before
        leaves_image = not inside[side].all()
        count = int(np.argmin(inside[side])) if leaves_image else steps
        side_past = past_edge[side, :count]
        found = bool(side_past.any())
        stop = int(np.argmax(side_past)) if found else count
        on_object = np.flatnonzero(valid[side, :stop])
        last, last_z = centre, z_centre
        if on_object.size:
            last, last_z = walks[side, on_object[-1]], float(z[side, on_object[-1]])
        if not found and not leaves_image:
            last = centre + sign * axis * half  # no edge before the jaw end
        ends.append(np.asarray(last, dtype=float))
        depths.append(last_z)
        edges.append(found)
    return ObjectSpan(np.stack(ends), (depths[0], depths[1]), (edges[0], edges[1]))


def object_extent_m(rect: RectLike, depth_m: np.ndarray, camera: PinholeCamera,
                    valid_range: tuple[float, float] | None = None,
                    edge_step_m: float = EDGE_STEP_M,
                    plane: SupportPlane | None = None) -> float | None:
    """Width (m) of the object between the jaws (see :func:`object_span_px`); None if unknown.

    The extent is the 3D distance between the two ends of the span.
    """
    span = object_span_px(rect, depth_m, valid_range, edge_step_m, plane=plane, camera=camera)
    return None if span is None else span.width_m(camera)
