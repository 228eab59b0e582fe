# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The grasp detector on recorded data without a ROS graph: image files and rosbag2 bags."""
