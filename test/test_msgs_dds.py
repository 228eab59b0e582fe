# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""A GraspRectangle and a PoseStamped cross a process boundary over DDS with every field intact."""

import os
import pathlib
import subprocess
import sys
import time

from geometry_msgs.msg import PoseStamped
from kufenet_msgs.msg import GraspRectangle
import pytest
import rclpy
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from ros_helpers.publish_grasp import expected_messages

#: starts rclpy nodes and talks over DDS (make test-fast leaves it out)
pytestmark = pytest.mark.ros

HELPER = pathlib.Path(__file__).resolve().parent / 'ros_helpers' / 'publish_grasp.py'


def _fields(msg) -> dict:
    """Flatten a ROS message into {dotted.field: value}."""
    out = {}
    for name in msg.get_fields_and_field_types():
        value = getattr(msg, name)
        if hasattr(value, 'get_fields_and_field_types'):
            out.update({f'{name}.{k}': v for k, v in _fields(value).items()})
        else:
            out[name] = value
    return out


def test_grasp_and_pose_arrive_intact_from_another_process():
    publisher = subprocess.Popen(
        [sys.executable, str(HELPER), '30'], env=dict(os.environ),
    )
    rclpy.init()
    node = rclpy.create_node('test_grasp_receiver')
    received: dict[str, object] = {}
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
    node.create_subscription(GraspRectangle, '/kufenet/grasp',
                             lambda m: received.setdefault('grasp', m), qos)
    node.create_subscription(PoseStamped, '/kufenet/grasp_pose',
                             lambda m: received.setdefault('pose', m), qos)
    try:
        deadline = time.monotonic() + 30.0
        while len(received) < 2 and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        publisher.terminate()
        publisher.wait(timeout=10)
    assert set(received) == {'grasp', 'pose'}, f'only received {sorted(received)} within 30 s'
    want_grasp, want_pose = expected_messages()
    assert _fields(received['grasp']) == _fields(want_grasp)
    assert _fields(received['pose']) == _fields(want_pose)
    assert _fields(want_grasp)['header.frame_id'] == 'camera_color_optical_frame'
