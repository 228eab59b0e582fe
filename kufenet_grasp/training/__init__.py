# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Training and evaluation (no ROS): losses, distillation, the training loop, ablations.

Modules: ``losses`` (task loss), ``distillation``, ``attention`` and ``mmd`` (fruit and hint
losses), ``config`` (the run configuration), ``trainer`` (the loop), ``evaluate`` (the
rectangle metric over a split), ``ablation`` (the paper's tables) and ``camera_sweep``
(accuracy per camera distance and tilt on rendered data).
"""
