# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The rclpy nodes ``grasp_detector``, ``grasp_executor``, ``sim_world`` and their ROS glue.

The only layer that imports rclpy: message conversions, parameters and their declaration,
camera inputs, per-frame processing around the detector, diagnostics, markers, QoS, TF
look-ups and the MoveItPy backend. The algorithms they call live in the layers below.
"""
