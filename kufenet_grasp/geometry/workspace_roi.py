# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The pixel region of interest that a workspace box in the robot's base frame covers.

The executor only ever picks inside an axis-aligned box in ``base_frame`` (REP-103: x
forward, z up, metres). Projecting that box's eight corners through the camera-to-base
transform and the intrinsics gives the part of the image worth looking at, wherever the
camera is mounted: a wrist camera that moves gets a new region every frame.
"""

from __future__ import annotations

from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.transforms import RigidTransform
from kufenet_grasp.geometry.workspace import WorkspaceBounds
import numpy as np

#: corners nearer to the camera plane than this (m) are clipped there (a box around the camera)
MIN_CORNER_Z_M = 0.05


def workspace_roi_px(box: WorkspaceBounds, camera_from_base: RigidTransform,
                     camera: PinholeCamera) -> tuple[float, float, float, float] | None:
    """Return the pixel box ``(x_min, y_min, x_max, y_max)`` the workspace covers, or None.

    Args:
        box: the workspace in the base frame (m).
        camera_from_base: ``T_camera_base``, mapping base-frame points into the camera's
            optical frame (z forward, REP-103 optical convention).
        camera: intrinsics of the image.

    The corners are projected (those nearer than :data:`MIN_CORNER_Z_M` are clipped to it,
    so a box that reaches behind the camera still covers what lies in front) and their
    bounding rectangle is clipped to the image. None when the whole box is behind the
    camera or its projection misses the image.
    """
    points = camera_from_base.apply(box.corners())
    if not (points[:, 2] > MIN_CORNER_Z_M).any():
        return None
    points = points.copy()
    points[:, 2] = np.maximum(points[:, 2], MIN_CORNER_Z_M)
    pixels = camera.project(points)
    width, height = camera.size
    x0, y0 = np.clip(pixels.min(axis=0), 0.0, [width - 1, height - 1])
    x1, y1 = np.clip(pixels.max(axis=0), 0.0, [width - 1, height - 1])
    if x1 - x0 < 1.0 or y1 - y0 < 1.0:
        return None
    return float(x0), float(y0), float(x1), float(y1)
