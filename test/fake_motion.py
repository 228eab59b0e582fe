# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""A recording MotionBackend for tests: states are tool poses, plans always succeed unless told.

Every call is appended to ``calls`` as a tuple; ``commanded`` holds every tool-link pose sent
to ``plan_stage`` and every plan target executed, so tests can assert that nothing outside
the workspace was ever commanded.
"""

from __future__ import annotations

from collections.abc import Callable
import threading
from typing import Any

from kufenet_grasp.execution.motion import StagePlan
from kufenet_grasp.geometry.transforms import from_xyz_rpy, RigidTransform

#: the fake arm's home tool pose: 0.4 m in front of the base, 0.4 m up, pointing down
HOME_POSE = from_xyz_rpy((0.4, 0.0, 0.4), (3.141592653589793, 0.0, 0.0))


class FakeMotionBackend:
    """MotionBackend whose joint state is simply the tool pose (base frame, metres).

    Attributes:
        fail_plan: (stage, target) -> True makes plan_stage return None.
        fail_execute: stage names whose execution fails.
        holding: what is_holding() answers after the gripper closed.
        on_execute: called with the plan before each execution (tests cancel from here).
        block_stage: a stage whose execution waits until should_cancel() is True.
    """

    name = 'fake'

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state: RigidTransform = HOME_POSE
        self.calls: list[tuple[Any, ...]] = []
        self.commanded: list[RigidTransform] = []
        self.executed: list[str] = []
        self.planned: list[tuple[str, RigidTransform]] = []
        self.fail_plan: Callable[[str, RigidTransform], bool] = lambda stage, target: False
        self.fail_execute: set[str] = set()
        self.holding = True
        self.on_execute: Callable[[StagePlan], None] = lambda plan: None
        self.block_stage = ''
        self.width = 0.08
        self.gripper_commands: list[float] = []

    def current_state(self) -> RigidTransform:
        """Return the current tool pose."""
        self.calls.append(('current_state',))
        return self.state

    def plan_stage(self, stage: str, start_state: Any, target: RigidTransform,
                   cartesian: bool) -> StagePlan | None:
        """Record the request; a plan ending at ``target`` unless fail_plan says no."""
        self.calls.append(('plan', stage, cartesian))
        self.commanded.append(target)
        self.planned.append((stage, target))
        if self.fail_plan(stage, target):
            return None
        return StagePlan(stage, target, end_state=target, trajectory=(start_state, target))

    def plan_home(self, start_state: Any) -> StagePlan | None:
        """Return a plan to HOME_POSE."""
        self.calls.append(('plan_home',))
        return StagePlan('home', HOME_POSE, end_state=HOME_POSE, trajectory=(start_state,))

    def execute(self, plan: StagePlan, should_cancel: Callable[[], bool]) -> bool:
        """Move to the plan's target (fails for fail_execute stages or on cancel)."""
        self.calls.append(('execute', plan.stage))
        self.commanded.append(plan.target)
        self.on_execute(plan)
        if plan.stage == self.block_stage:
            while not should_cancel():
                threading.Event().wait(0.01)
        if should_cancel() or plan.stage in self.fail_execute:
            return False
        self.executed.append(plan.stage)
        self.state = plan.end_state
        return True

    def set_gripper(self, command: float, wait: bool = True) -> bool:
        """Record the command; the width follows a Franka-style mapping (2 × command)."""
        self.calls.append(('gripper', command))
        self.gripper_commands.append(command)
        self.width = 2.0 * command
        return True

    def gripper_width_m(self) -> float:
        """Return opening in metres."""
        return self.width

    def is_holding(self) -> bool:
        """Return the configured answer."""
        self.calls.append(('is_holding',))
        return self.holding
