# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
r"""The grasp frame of kufenet_grasp and the metric grasp pose of an image grasp rectangle.

The ONE grasp frame used everywhere in the project (MoveIt's grasp convention)::

              +-----------------+   gripper palm
              |                 |
            +-+-+             +-+-+
            |   |  finger     |   |  finger
            |   |      o------|---|------> y   closing axis (finger to finger)
            +---+      |      +---+
                       |
                       v  z   approach, INTO the object (= camera optical axis)
                 [   object   ]

    o: origin, midway between the fingertips, on the grasped surface point.
    x = y × z points INTO the page (right-handed frame).

* ``z``: approach direction, pointing INTO the object. For a planar grasp seen by the camera it
  is the camera's optical axis ``(0, 0, 1)`` in the optical frame (REP-103: x right, y down,
  z forward).
* ``y``: the closing (opening) axis of the parallel jaws. The image angle ``a`` of a
  :class:`~kufenet_grasp.grasp.rectangle.GraspRectangle` is counter-clockwise as displayed, so
  the axis runs along image direction ``(cos a, -sin a)`` in (x right, y down) pixel
  coordinates; in metres at the grasp depth that is ``(cos a / fx, -sin a / fy, 0)``
  normalised. A parallel-jaw grasp is symmetric under a half turn; we resolve the sign
  deterministically: ``y`` has a non-negative x component in the camera frame (when x is 0,
  a non-negative y component).
* ``x = y × z`` so that (x, y, z) is right-handed (equivalently ``y = z × x``).

The tool (TCP) link of a real gripper is usually offset from this frame: see
:func:`apply_tcp_offset`.
"""

from __future__ import annotations

import math
from typing import Protocol

from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.transforms import from_xyz_yaw, RigidTransform
import numpy as np

#: the approach axis in the camera optical frame
OPTICAL_AXIS = np.array([0.0, 0.0, 1.0])
_EPS = 1e-12


class RectLike(Protocol):
    """What the geometry needs from a grasp rectangle (pixels, radians); read only."""

    @property
    def center(self) -> tuple[float, float]:
        """Centre ``(x, y)`` in pixels."""

    @property
    def angle(self) -> float:
        """Closing-axis angle in radians."""

    @property
    def opening(self) -> float:
        """Opening along the closing axis in pixels."""


def closing_axis_pixels(angle: float) -> np.ndarray:
    """Return the unit image direction ``(dx, dy)`` px of the closing axis at ``angle`` rad."""
    return np.array([math.cos(angle), -math.sin(angle)])


def closing_axis_camera(angle: float, camera: PinholeCamera) -> np.ndarray:
    """Return unit closing axis (3,) in the optical frame for image angle ``angle`` rad.

    The sign is fixed so the x component is >= 0 (y component >= 0 when x is 0).
    """
    ax, ay = math.cos(angle) / camera.fx, -math.sin(angle) / camera.fy
    norm = math.hypot(ax, ay)
    ax, ay = ax / norm, ay / norm
    if ax < -_EPS or (abs(ax) <= _EPS and ay < 0):
        ax, ay = -ax, -ay
    return np.array([ax, ay, 0.0])


def grasp_frame_rotation(closing_y: np.ndarray,
                         approach_z: np.ndarray = OPTICAL_AXIS) -> np.ndarray:
    """Rotation matrix [x y z] (columns) of the grasp frame from its closing and approach axes.

    ``closing_y`` is made orthogonal to ``approach_z`` (Gram-Schmidt) before ``x = y × z``.
    """
    z = np.asarray(approach_z, dtype=float)
    z = z / np.linalg.norm(z)
    y = np.asarray(closing_y, dtype=float)
    y = y - np.dot(y, z) * z
    norm = np.linalg.norm(y)
    if norm < 1e-9:
        raise ValueError('grasp_frame_rotation: closing axis is parallel to the approach axis')
    y = y / norm
    x = np.cross(y, z)
    return np.column_stack([x, y, z])


def grasp_pose_in_camera(rect: RectLike, depth_m: float,
                         camera: PinholeCamera) -> RigidTransform:
    """Pose T_camera_grasp of a pixel grasp rectangle (in ``camera``'s image) at ``depth_m``.

    Args:
        rect: the grasp rectangle, centre in pixels and angle in radians (ARCHITECTURE.md).
        depth_m: depth of the grasp centre along the optical axis, metres (> 0, finite).
        camera: intrinsics of the image the rectangle is expressed in.

    Returns:
        The grasp frame (see module docstring) in the camera optical frame ``camera.frame_id``.

    """
    if not (isinstance(depth_m, (int, float, np.floating)) and math.isfinite(depth_m)
            and depth_m > 0):
        raise ValueError(f'grasp_pose_in_camera: depth_m must be a finite depth > 0 m, '
                         f'got {depth_m!r}')
    u, v = rect.center
    position = camera.deproject_point(u, v, float(depth_m))
    # grasp_frame_rotation(y, OPTICAL_AXIS) written out: y lies in the image plane (unit), so
    # z = (0, 0, 1) and x = y × z = (y1, -y0, 0); it runs for every grasp of every frame
    y0, y1, _ = closing_axis_camera(rect.angle, camera)
    rotation = np.array([[y1, y0, 0.0], [-y0, y1, 0.0], [0.0, 0.0, 1.0]])
    return RigidTransform(rotation, position)


def tcp_offset(translation_m: tuple[float, float, float] = (0.0, 0.0, 0.0),
               yaw_rad: float = 0.0) -> RigidTransform:
    """Return pose T_grasp_tool of the tool link in the grasp frame (translation m, yaw rad on z).

    Example: a Franka hand whose ``panda_hand`` link sits 0.1034 m behind the fingertip
    centre along the approach axis, with its finger axis on y: ``tcp_offset((0, 0, -0.1034))``.
    """
    return from_xyz_yaw(translation_m, yaw_rad)


def apply_tcp_offset(grasp_pose: RigidTransform, offset: RigidTransform) -> RigidTransform:
    """Tool-link pose for a grasp pose: ``grasp_pose ∘ offset`` (offset = T_grasp_tool)."""
    return grasp_pose.compose(offset)
