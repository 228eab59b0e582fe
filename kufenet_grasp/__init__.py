# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""kufenet_grasp: fast planar grasp detection (KufeNet) for ROS 2 robot arms.

Sub-packages are layers (docs/ARCHITECTURE.md): everything below ``nodes`` imports no ROS
package; ``nodes`` holds the thin rclpy glue; ``demo``, ``bench`` and ``cli`` sit on top.
"""

__version__ = '0.1.0'
