# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Conversions between ROS messages and the project's ROS-free types.

Pixels are full-resolution source-image pixels (x right, y down); poses are in metres with
quaternions (x, y, z, w) in the frame named by the header.
"""

from __future__ import annotations

import math
from typing import Any

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose, PoseStamped, Transform
from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.geometry.camera import from_camera_info_k, PinholeCamera
from kufenet_grasp.geometry.transforms import from_xyz_quat, RigidTransform
from kufenet_grasp.grasp.rectangle import clamp_quality
from kufenet_msgs.msg import GraspRectangle as GraspRectangleMsg
from kufenet_msgs.msg import GraspRectangleArray
from kufenet_msgs.msg import GraspStatus as GraspStatusMsg
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header


def stamp_to_seconds(stamp: Time) -> float:
    """Return a ``builtin_interfaces/Time`` as float seconds."""
    return float(stamp.sec) + 1e-9 * float(stamp.nanosec)


def camera_from_info(info: CameraInfo) -> PinholeCamera:
    """Pinhole camera (pixels, optical frame ``info.header.frame_id``) from a CameraInfo.

    Raises ``ValueError`` when K is all zeros / not a pinhole matrix or the size is zero.
    """
    if info.width == 0 or info.height == 0:
        raise ValueError(f'camera_info: image size is {info.width}x{info.height}; '
                         f'the camera driver did not fill width/height')
    return from_camera_info_k(list(info.k), int(info.width), int(info.height),
                              info.header.frame_id or 'camera_color_optical_frame')


def _float(value: Any) -> float:
    out = float(value) if value is not None else math.nan
    return out if math.isfinite(out) else math.nan


def grasp_to_msg(rect: Any, header: Header, *, width_m: float | None = math.nan,
                 depth_m: float | None = math.nan) -> GraspRectangleMsg:
    """Build the GraspRectangle message of a rectangle in source-image pixels.

    ``rect`` has ``center`` px, ``angle`` rad, ``opening``/``jaw`` px and ``quality``;
    ``width_m``/``depth_m`` are metres (None or non-finite → NaN).
    """
    msg = GraspRectangleMsg()
    msg.header = header
    msg.center_x, msg.center_y = (float(c) for c in rect.center)
    msg.angle = float(rect.angle)
    msg.opening_px = float(rect.opening)
    msg.jaw_px = float(rect.jaw)
    msg.quality = clamp_quality(rect.quality)  # the message promises [0, 1]
    msg.width_m = _float(width_m)
    msg.depth_m = _float(depth_m)
    return msg


def grasps_to_array(msgs: list[GraspRectangleMsg], header: Header) -> GraspRectangleArray:
    """Return a GraspRectangleArray holding ``msgs`` (already ranked best first)."""
    out = GraspRectangleArray()
    out.header = header
    out.grasps = list(msgs)
    return out


def transform_to_pose(transform: RigidTransform) -> Pose:
    """geometry_msgs/Pose (metres, quaternion x y z w) of a rigid transform."""
    pose = Pose()
    t = transform.translation
    q = transform.quaternion_xyzw
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in t)
    (pose.orientation.x, pose.orientation.y, pose.orientation.z,
     pose.orientation.w) = (float(v) for v in q)
    return pose


def pose_stamped(transform: RigidTransform, frame_id: str, stamp: Time) -> PoseStamped:
    """Build the PoseStamped of ``transform`` expressed in ``frame_id`` at ``stamp``."""
    msg = PoseStamped()
    msg.header.frame_id = frame_id
    msg.header.stamp = stamp
    msg.pose = transform_to_pose(transform)
    return msg


def pose_to_transform(pose: Pose | Transform) -> RigidTransform:
    """Convert a geometry_msgs/Pose or Transform message to a RigidTransform (metres)."""
    if isinstance(pose, Transform):
        p, q = pose.translation, pose.rotation
    else:
        p, q = pose.position, pose.orientation
    return from_xyz_quat((p.x, p.y, p.z), (q.x, q.y, q.z, q.w))


def status_msg(status: GraspStatus, message: str) -> GraspStatusMsg:
    """Return the kufenet_msgs/GraspStatus of ``status``: the one place a status becomes a message.

    The message's constants have the values of :class:`~kufenet_grasp.common.status.GraspStatus`
    (test/test_status_codes.py keeps them equal).
    """
    return GraspStatusMsg(code=int(status), message=str(message))


def status_of(msg: GraspStatusMsg) -> GraspStatus:
    """Return the GraspStatus of a kufenet_msgs/GraspStatus (its message stays with the caller).

    A code this version does not know (a newer peer) is BAD_INPUT: the answer is not understood.
    """
    try:
        return GraspStatus(int(msg.code))
    except ValueError:
        return GraspStatus.BAD_INPUT
