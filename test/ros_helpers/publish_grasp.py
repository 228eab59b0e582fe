# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Publish one GraspRectangle and one PoseStamped until a subscriber has them (test helper).

Run as a separate process: ``python test/ros_helpers/publish_grasp.py SECONDS``. It publishes
the messages built by :func:`expected_messages` every 100 ms for at most SECONDS seconds.
"""

import sys
import time

from geometry_msgs.msg import PoseStamped
from kufenet_msgs.msg import GraspRectangle
import rclpy
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy


def expected_messages() -> tuple[GraspRectangle, PoseStamped]:
    """Return the messages the publisher sends, with every field set to a distinct value."""
    grasp = GraspRectangle()
    grasp.header.stamp.sec = 1234
    grasp.header.stamp.nanosec = 567890
    grasp.header.frame_id = 'camera_color_optical_frame'
    grasp.center_x = 320.25
    grasp.center_y = 240.75
    grasp.angle = -0.7853981633974483
    grasp.opening_px = 61.5
    grasp.jaw_px = 30.75
    grasp.quality = 0.875
    grasp.width_m = 0.0425
    grasp.depth_m = 0.6125
    pose = PoseStamped()
    pose.header.stamp.sec = 1234
    pose.header.stamp.nanosec = 567890
    pose.header.frame_id = 'base_link'
    pose.pose.position.x = 0.45
    pose.pose.position.y = -0.125
    pose.pose.position.z = 0.0625
    pose.pose.orientation.x = 1.0
    pose.pose.orientation.y = 0.0
    pose.pose.orientation.z = 0.0
    pose.pose.orientation.w = 0.0
    return grasp, pose


def main(seconds: float) -> int:
    """Publish until ``seconds`` have passed."""
    rclpy.init()
    node = rclpy.create_node('test_grasp_publisher')
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
    grasp_pub = node.create_publisher(GraspRectangle, '/kufenet/grasp', qos)
    pose_pub = node.create_publisher(PoseStamped, '/kufenet/grasp_pose', qos)
    grasp, pose = expected_messages()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            grasp_pub.publish(grasp)
            pose_pub.publish(pose)
            rclpy.spin_once(node, timeout_sec=0.1)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0))
