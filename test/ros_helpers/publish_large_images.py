# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Publish large colour images, then small ones, from another process (test helper).

Run as ``python test/ros_helpers/publish_large_images.py NAMESPACE WIDTH HEIGHT COUNT``: waits
up to 60 s for a subscriber on ``NAMESPACE/color/image_raw``, publishes COUNT rgb8 images of
WIDTH x HEIGHT with sensor-data QoS, then three 8x8 images (so a receiver can notice the gap
in sequence numbers that lost samples leave), and prints ``sent COUNT``. Over DDS without a
large shared-memory segment, images of a few megabytes are lost in transport; a separate
process is needed because nodes in one process exchange messages without transport.
"""

import sys
import time

from kufenet_grasp.common.waiting import wait_until
import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image


def image(width: int, height: int, stamp_ns: int) -> Image:
    """Return a grey rgb8 image stamped ``stamp_ns`` (ns) in the fixture camera's frame."""
    msg = Image(width=width, height=height, encoding='rgb8', step=3 * width,
                data=bytes([120]) * (3 * width * height))
    msg.header.frame_id = 'camera_color_optical_frame'
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    return msg


def main() -> None:
    """Publish as the module docstring says."""
    namespace, width, height, count = sys.argv[1], *map(int, sys.argv[2:5])
    rclpy.init()
    node = Node('large_image_publisher', namespace=namespace)
    pub = node.create_publisher(Image, 'color/image_raw', qos_profile_sensor_data)
    wait_until(lambda: pub.get_subscription_count() > 0, 60.0, period_s=0.05)
    time.sleep(0.5)  # let the subscriber's side of the match settle too
    for size in [(width, height)] * count + [(8, 8)] * 3:
        pub.publish(image(*size, node.get_clock().now().nanoseconds))
        time.sleep(0.2)
    print(f'sent {count}', flush=True)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == '__main__':
    main()
