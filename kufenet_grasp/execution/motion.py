# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The small interface every motion backend implements (MoveIt, PyBullet simulation).

Frames: every pose is the pose of the arm's **tool link** (the TCP after ``tcp_offset``) in
the arm's **base frame** (REP-105 ``base_link``), as a
:class:`~kufenet_grasp.geometry.transforms.RigidTransform`; distances in metres.

The pick sequence plans every stage before it moves (``plan_stage`` from the end state of
the previous stage's plan) and executes only a sequence that planned completely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

from kufenet_grasp.geometry.transforms import RigidTransform


@dataclass
class StagePlan:
    """A planned motion of one stage.

    Attributes:
        stage: stage name (``pre_grasp``, ``approach``, ``lift``, ``move_to_place``,
            ``retreat``, ``home``).
        target: tool-link pose in the base frame that the motion ends at.
        end_state: backend-specific joint state at the end (the start of the next stage).
        trajectory: backend-specific trajectory object, executed by ``execute``.
    """

    stage: str
    target: RigidTransform
    end_state: Any
    trajectory: Any = None
    info: dict = field(default_factory=dict)


@runtime_checkable
class MotionBackend(Protocol):
    """What the pick sequence needs from an arm + gripper."""

    name: str

    def current_state(self) -> Any:
        """Return the arm's current joint state (backend-specific), the start of planning."""

    def plan_stage(self, stage: str, start_state: Any, target: RigidTransform,
                   cartesian: bool) -> StagePlan | None:
        """Plan from ``start_state`` to tool pose ``target``; None when no plan exists.

        ``cartesian``: the tool must move along a straight line (approach, lift, retreat).
        """

    def plan_home(self, start_state: Any) -> StagePlan | None:
        """Plan from ``start_state`` to the configured home configuration."""

    def execute(self, plan: StagePlan, should_cancel: Callable[[], bool]) -> bool:
        """Execute a plan; returns False on failure or when ``should_cancel()`` became True."""

    def set_gripper(self, command: float, wait: bool = True) -> bool:
        """Send a gripper command (the backend's units, see ``gripper.GripperConfig``)."""

    def gripper_width_m(self) -> float:
        """Return the current opening between the fingers in metres."""

    def is_holding(self) -> bool:
        """Return whether an object is between the fingers (contact or width check)."""
