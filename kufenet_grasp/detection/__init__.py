# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The ROS-free grasp detector pipeline: validate a frame, pre-process, infer, post-process."""
