# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""RViz markers of a grasp: the two gripper fingers and the approach arrow.

Drawn in the grasp frame (see ``kufenet_grasp.geometry.grasp_pose``): origin between the
fingertips, z = approach (into the object), y = closing direction. The fingers sit at
``y = ±width/2`` and extend back along -z; the arrow comes in along +z and ends at the origin.
A wrong axis convention is therefore visible at a glance (fingers across the object's long
side, arrow not pointing into the table). All lengths in metres; the finger sizes are those
of a gripper file (``config/grippers/*.yaml``, ``geometry.gripper.GripperConfig``).
"""

from __future__ import annotations

import math

from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point
from kufenet_grasp.geometry.gripper import default_gripper, GripperConfig
from kufenet_grasp.geometry.transforms import from_xyz_yaw, RigidTransform
from kufenet_grasp.nodes.ros_conversions import transform_to_pose
from visualization_msgs.msg import Marker, MarkerArray

APPROACH_LENGTH_M = 0.12
NAMESPACE = 'kufenet_grasp'


def _marker(marker_id: int, kind: int, frame_id: str, stamp: Time,
            rgba: tuple[float, float, float, float], lifetime_s: float) -> Marker:
    m = Marker()
    m.header.frame_id = frame_id
    m.header.stamp = stamp
    m.ns = NAMESPACE
    m.id = marker_id
    m.type = kind
    m.action = Marker.ADD
    m.color.r, m.color.g, m.color.b, m.color.a = rgba
    m.lifetime = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1.0) * 1e9))
    return m


def gripper_markers(grasp_pose: RigidTransform, width_m: float, frame_id: str, stamp: Time,
                    lifetime_s: float = 1.0, id_offset: int = 0,
                    gripper: GripperConfig | None = None) -> list[Marker]:
    """Fingers (two cubes), palm bar (cube) and approach arrow for one grasp.

    ``grasp_pose`` is T_frame_grasp (metres); ``width_m`` the opening (NaN/<=0: half the
    gripper's largest opening). ``gripper`` gives the finger sizes (None: the shipped one).
    """
    hand = gripper or default_gripper()
    length, thick, across = hand.finger_length_m, hand.finger_thickness_m, hand.finger_width_m
    width = float(width_m) if math.isfinite(width_m) and width_m > 0 else hand.max_width_m / 2
    markers: list[Marker] = []
    half = width / 2.0 + thick / 2.0
    finger = (across, thick, length)
    parts = [((0.0, -half, -length / 2.0), finger, (0.1, 0.8, 0.1, 0.9)),
             ((0.0, half, -length / 2.0), finger, (0.1, 0.8, 0.1, 0.9)),
             ((0.0, 0.0, -length - thick / 2.0), (across, width + 2 * thick, thick),
              (0.1, 0.5, 0.1, 0.9))]
    for index, (offset, scale, rgba) in enumerate(parts):
        m = _marker(id_offset + index, Marker.CUBE, frame_id, stamp, rgba, lifetime_s)
        m.pose = transform_to_pose(grasp_pose.compose(from_xyz_yaw(offset, 0.0)))
        m.scale.x, m.scale.y, m.scale.z = scale
        markers.append(m)
    arrow = _marker(id_offset + len(parts), Marker.ARROW, frame_id, stamp,
                    (0.9, 0.2, 0.1, 1.0), lifetime_s)
    arrow.pose = transform_to_pose(grasp_pose)
    arrow.points = [Point(x=0.0, y=0.0, z=-APPROACH_LENGTH_M - length),
                    Point(x=0.0, y=0.0, z=-length)]
    arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.008, 0.016, 0.02
    markers.append(arrow)
    return markers


def grasp_marker_array(poses: list[tuple[RigidTransform, float]], frame_id: str, stamp: Time,
                       lifetime_s: float = 1.0,
                       gripper: GripperConfig | None = None) -> MarkerArray:
    """Build the MarkerArray for ranked grasps ``[(T_frame_grasp, width_m), ...]``; best one first.

    Starts with a DELETEALL so that grasps of the previous frame disappear. ``gripper`` gives
    the finger sizes (None: the shipped gripper file's).
    """
    clear = Marker()
    clear.header.frame_id = frame_id
    clear.header.stamp = stamp
    clear.ns = NAMESPACE
    clear.action = Marker.DELETEALL
    out = MarkerArray()
    out.markers.append(clear)
    for rank, (pose, width) in enumerate(poses):
        out.markers.extend(gripper_markers(pose, width, frame_id, stamp, lifetime_s,
                                           id_offset=10 * rank, gripper=gripper))
    return out
