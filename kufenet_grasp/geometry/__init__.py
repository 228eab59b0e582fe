# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Metric geometry of a grasp (no ROS): camera model, depth, grasp frame, width, finger check.

Modules: ``camera`` (pinhole model, pixels to metres), ``depth`` (depth frame checks and
look-ups), ``grasp_pose`` (the grasp frame and TCP offset), ``width`` (opening in metres,
object span), ``finger_clearance`` (finger footprints in the depth image), ``support_plane``
(the table plane under the objects), ``transforms`` (rigid transforms) and ``calibration``
(camera-mount files). Units: metres, radians, image pixels (docs/ARCHITECTURE.md).
"""
