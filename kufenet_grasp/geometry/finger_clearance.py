# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Will the fingers reach the grasp? A collision check of the two finger tips in the depth image.

A parallel-jaw grasp fails on the way down when a finger lands on something: a neighbour in
clutter, or the object itself when it is wider than the opening. Before the grasp is
published, each finger's footprint (a rectangle of the finger's thickness along the closing
axis and its width along the jaw axis, just outside the opening) is projected into the depth
image at the grasp depth, and every depth pixel inside it must lie deeper than the grasp
point by at least ``clearance_m``: the finger goes down there in free space.

Units: metres for sizes and depths, image pixels for positions; depths along the camera's
optical axis (NaN invalid). The approach is along the optical axis (the grasp frame of
:mod:`kufenet_grasp.geometry.grasp_pose`), so footprints are drawn in the image plane.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math

import cv2
from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.grasp_pose import closing_axis_camera, RectLike
from kufenet_grasp.geometry.gripper import default_gripper, GripperConfig
import numpy as np


@dataclass(frozen=True)
class FingerModel:
    """The two fingers as seen along the approach axis (metres) and how strict the check is.

    The finger sizes and the opening margin default to the shipped gripper file's
    (``config/grippers/franka_hand.yaml``, ``geometry.gripper.default_gripper``);
    :meth:`from_gripper` takes them from another one.

    Attributes:
        thickness_m: finger size along the closing axis (outward from the opening).
        width_m: finger size along the jaw axis (across the closing axis).
        clearance_m: free space needed below the grasp point's depth at each finger: the
            finger tips go this far past the grasp point (Franka hand: its pads reach 1 cm
            beyond the fingertip centre), less a tolerance for depth noise.
        max_blocked_fraction: share of a footprint's pixels allowed to be in the way (depth
            noise and speckles), in [0, 1].
        opening_margin_m: how much wider than the published width the executor opens before
            the approach (its gripper's ``width_margin_m``, ``config/grippers/``).

    """

    thickness_m: float = field(default_factory=lambda: default_gripper().finger_thickness_m)
    width_m: float = field(default_factory=lambda: default_gripper().finger_width_m)
    clearance_m: float = 0.006
    max_blocked_fraction: float = 0.1
    opening_margin_m: float = field(default_factory=lambda: default_gripper().width_margin_m)

    @classmethod
    def from_gripper(cls, gripper: GripperConfig) -> FingerModel:
        """Return the fingers of ``gripper``: its sizes, its width margin as opening margin."""
        return cls(thickness_m=gripper.finger_thickness_m, width_m=gripper.finger_width_m,
                   opening_margin_m=gripper.width_margin_m)

    def __post_init__(self) -> None:
        for name in ('thickness_m', 'width_m'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f'FingerModel.{name} must be > 0 m, got {value!r}')
        for name in ('clearance_m', 'opening_margin_m'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f'FingerModel.{name} must be >= 0 m, got {value!r}')
        if not 0.0 <= self.max_blocked_fraction <= 1.0:
            raise ValueError(f'FingerModel.max_blocked_fraction must be in [0, 1], got '
                             f'{self.max_blocked_fraction!r}')


def finger_footprints_px(rect: RectLike, depth_m: float, opening_m: float,
                         camera: PinholeCamera, fingers: FingerModel) -> list[np.ndarray]:
    """Return the two finger footprints, each a (4, 2) polygon of ``(u, v)`` image pixels.

    Each finger spans ``[opening/2, opening/2 + thickness]`` metres from the grasp centre along
    the closing axis and ``±width/2`` across it, on the plane at ``depth_m`` (optical axis).
    """
    if not (math.isfinite(depth_m) and depth_m > 0):
        raise ValueError(f'finger_footprints_px: depth_m must be > 0 m, got {depth_m!r}')
    if not (math.isfinite(opening_m) and opening_m >= 0):
        raise ValueError(f'finger_footprints_px: opening_m must be >= 0 m, got {opening_m!r}')
    u, v = rect.center
    centre = camera.deproject_point(u, v, depth_m)
    closing = closing_axis_camera(rect.angle, camera)  # unit, on the image plane
    across = np.array([-closing[1], closing[0], 0.0])
    inner, outer = 0.5 * opening_m, 0.5 * opening_m + fingers.thickness_m
    half = 0.5 * fingers.width_m
    along = np.array([inner, outer, outer, inner])  # corner offsets along the closing axis
    side = np.array([-half, -half, half, half])  # and across it, m
    corners = (centre - np.multiply.outer(along, closing) + np.multiply.outer(side, across),
               centre + np.multiply.outer(along, closing) + np.multiply.outer(side, across))
    return [camera.project(c) for c in corners]


def blocked_fraction(depth_image_m: np.ndarray, polygon_px: np.ndarray,
                     limit_m: float) -> float:
    """Share of the polygon's pixels whose valid depth is nearer than ``limit_m`` metres.

    Invalid pixels (NaN, <= 0) count as free; pixels outside the image are not counted. A
    polygon entirely outside the image gives 0.
    """
    height, width = depth_image_m.shape
    poly = np.asarray(polygon_px, dtype=float)
    lo = np.floor(poly.min(axis=0)).astype(int)
    hi = np.ceil(poly.max(axis=0)).astype(int)
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0], width - 1), min(hi[1], height - 1)
    if x1 < x0 or y1 < y0:
        return 0.0
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    local = np.round(poly - [x0, y0]).astype(np.int32)
    cv2.fillConvexPoly(mask, local, 1)
    inside = mask.astype(bool)
    count = int(inside.sum())
    if count == 0:
        return 0.0
    window = depth_image_m[y0:y1 + 1, x0:x1 + 1][inside]
    with np.errstate(invalid='ignore'):
        blocked = np.count_nonzero((window > 0) & (window < limit_m))
    return blocked / count


def fingers_clear(rect: RectLike, grasp_depth_m: float, width_m: float,
                  depth_image_m: np.ndarray, camera: PinholeCamera,
                  fingers: FingerModel, max_opening_m: float = math.inf
                  ) -> tuple[bool, float]:
    """Whether both fingers reach the grasp in free space; and the worse blocked share.

    Args:
        rect: the grasp in pixels of ``depth_image_m`` (centre, angle).
        grasp_depth_m: depth of the grasp point (m).
        width_m: the published opening (m); the fingers open to
            ``min(width_m + fingers.opening_margin_m, max_opening_m)``.
        depth_image_m: float H×W depth (m, NaN invalid), registered to ``camera``.
        camera: intrinsics of that image.
        fingers: finger geometry and thresholds.
        max_opening_m: the gripper's largest opening (m).

    """
    opening = min(width_m + fingers.opening_margin_m, max_opening_m)
    limit = grasp_depth_m + fingers.clearance_m
    worst = max(blocked_fraction(depth_image_m, poly, limit)
                for poly in finger_footprints_px(rect, grasp_depth_m, opening, camera,
                                                 fingers))
    return worst <= fingers.max_blocked_fraction, worst
