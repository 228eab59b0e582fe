# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Typed outcome of a pick-and-place attempt and the names of its stages (no ROS)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kufenet_grasp.common.status import GraspStatus

#: feedback stages, in the order a successful pick reports them (PickAndPlace.action)
STAGES: tuple[str, ...] = ('checking', 'planning', 'pre_grasp', 'approach', 'close', 'lift',
                           'move_to_place', 'open', 'retreat', 'home')
#: the stages that move the arm or the gripper, in execution order
MOTION_STAGES: tuple[str, ...] = STAGES[2:]

#: on_feedback(stage, progress in [0, 1], candidate index in quality order)
FeedbackFn = Callable[[str, float, int], None]


@dataclass(frozen=True)
class PickOutcome:
    """How a pick ended.

    Attributes:
        status: one of the GraspStatus codes (OK on success).
        message: human-readable explanation (what failed, what to check).
        failed_stage: the stage in which the pick failed ('' on success), see :data:`STAGES`.
        grasp_index: index (0-based, quality order) of the candidate executed or last tried;
            -1 when no candidate was tried.
    """

    status: GraspStatus
    message: str
    failed_stage: str = ''
    grasp_index: int = -1

    @property
    def success(self) -> bool:
        """True when the object was picked and placed."""
        return self.status == GraspStatus.OK


def stage_progress(stage: str) -> float:
    """Progress in [0, 1] when ``stage`` starts (checking = 0, home = the last step)."""
    if stage not in STAGES:
        raise ValueError(f"stage_progress: unknown stage {stage!r}; one of {', '.join(STAGES)}")
    return STAGES.index(stage) / len(STAGES)
