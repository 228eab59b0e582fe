# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The ROS-free grasp detector pipeline and the status codes shared by the service and action."""

from kufenet_grasp.detection.status import GraspStatus

__all__ = ['GraspStatus']
