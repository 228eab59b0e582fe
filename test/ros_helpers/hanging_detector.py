# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Serve ``NAMESPACE/kufenet/detect_grasps`` but never answer; exit cleanly on SIGINT (helper).

Run as ``python test/ros_helpers/hanging_detector.py NAMESPACE``: prints ``ready`` once the
service exists and ``request`` when a request arrives, then holds it until interrupted, as a
grasp_detector that stops while answering.
"""

import sys
import threading

from kufenet_msgs.srv import DetectGrasps
import rclpy
from rclpy.node import Node


def main() -> None:
    """Serve as the module docstring says until SIGINT."""
    rclpy.init()
    node = Node('hanging_detector', namespace=sys.argv[1])

    def hold(request: DetectGrasps.Request, response: DetectGrasps.Response) -> None:
        print('request', flush=True)
        threading.Event().wait()  # never set: held until SIGINT interrupts the wait

    node.create_service(DetectGrasps, 'kufenet/detect_grasps', hold)
    print('ready', flush=True)
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
