# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""kufenet_grasp: fast planar grasp detection (KufeNet) for ROS 2 robot arms.

The algorithm core (``models``, ``grasp``, ``data``, ``sim``, ``training``,
``deploy``, ``geometry``) imports no ROS package; ``nodes`` holds the thin
rclpy glue.
"""

__version__ = '0.1.0'
