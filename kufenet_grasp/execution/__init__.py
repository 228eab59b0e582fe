# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Pick-and-place execution: the stage sequence, checks and motion backends (no ROS)."""
