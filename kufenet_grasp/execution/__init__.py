# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Pick-and-place execution (no ROS): the stage sequence, its checks, the motion-backend interface.

Backends implementing :class:`kufenet_grasp.execution.motion.MotionBackend`:
``kufenet_grasp.sim.motion_backend`` (PyBullet) and ``kufenet_grasp.nodes.moveit_backend``
(MoveItPy).
"""
