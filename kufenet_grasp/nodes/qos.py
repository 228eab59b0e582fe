# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""QoS profiles of the grasp detector's topics (camera inputs, outputs)."""

from __future__ import annotations

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    qos_profile_sensor_data,
    QoSProfile,
    ReliabilityPolicy,
)

#: accepted values of the ``input_reliability`` parameter
RELIABILITY_NAMES = ('best_effort', 'reliable')


def input_qos(reliability: str = 'best_effort', depth: int = 2) -> QoSProfile:
    """Camera input QoS: sensor-data (keep last ``depth``, volatile) with the given reliability.

    A best-effort subscription hears both best-effort and reliable publishers; a reliable one
    only hears reliable publishers. Raises ``ValueError`` for an unknown reliability name or a
    depth outside 1-100.
    """
    if reliability not in RELIABILITY_NAMES:
        raise ValueError(f'input_reliability must be one of {RELIABILITY_NAMES}, '
                         f'got {reliability!r}')
    if isinstance(depth, bool) or int(depth) != depth or not 1 <= depth <= 100:
        raise ValueError(f'input queue depth must be an integer in 1-100, got {depth!r}')
    policy = (ReliabilityPolicy.BEST_EFFORT if reliability == 'best_effort'
              else ReliabilityPolicy.RELIABLE)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=int(depth), reliability=policy,
                      durability=qos_profile_sensor_data.durability)


def output_qos(depth: int = 5) -> QoSProfile:
    """Return the QoS of result topics (grasps, poses, markers, debug image): reliable."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)
