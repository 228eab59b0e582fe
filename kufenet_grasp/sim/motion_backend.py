# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""MotionBackend for the simulated Franka Panda (PyBullet, see ``kufenet_grasp.sim.panda``).

Frames and units: targets are tool-link poses in the Panda base frame (``panda_link0`` =
``base_link``), metres. The tool link is the point between the fingertips, 0.1034 m along
the approach axis from ``panda_hand`` (``panda.TCP_OFFSET_M``). Joint states are arrays of 7
angles (rad). Gripper commands are in the units of a
:class:`~kufenet_grasp.geometry.gripper.GripperConfig` (default :data:`FRANKA_HAND`, as
``config/grippers/franka_hand.yaml``: the position of one finger joint, m = opening / 2). Like
``franka_gripper``'s Grasp action with a wide tolerance, a closing command while an object
lies between the fingers closes them with the grasp force until they stall on the object;
otherwise the fingers move to the commanded opening.

A parallel-jaw grasp is symmetric under a half turn about its approach axis: each stage is
planned to whichever of the two equivalent tool orientations is nearer the start (the
``StagePlan.target`` is the pose actually planned). Cartesian stages interpolate the tool
pose in steps of at most 5 mm / 0.05 rad and need IK for every waypoint without joint jumps;
any configuration within the table margin makes the plan fail (None).
"""

from __future__ import annotations

from collections.abc import Callable
import contextlib
from dataclasses import dataclass
import itertools
import threading
from typing import Any

from kufenet_grasp.execution.motion import StagePlan
from kufenet_grasp.geometry.gripper import GripperConfig
from kufenet_grasp.geometry.transforms import RigidTransform
from kufenet_grasp.sim.panda import (
    flipped,
    HAND,
    HOME_Q,
    MAX_FINGER_WIDTH_M,
    MAX_JOINT_VELOCITY,
    Panda,
    rotation_error_rad,
    TIME_STEP_S,
)
import numpy as np
from scipy.spatial.transform import Rotation, Slerp

#: the Franka Hand's command mapping (config/grippers/franka_hand.yaml)
FRANKA_HAND: GripperConfig = HAND


@dataclass(frozen=True)
class SimMotionSettings:
    """Speeds (fraction of the joint limits, m/s), step sizes (m, rad) and tolerances."""

    velocity_scale: float = 0.5
    cartesian_speed_mps: float = 0.15
    cartesian_step_m: float = 0.005
    cartesian_step_rad: float = 0.05
    max_joint_jump_rad: float = 0.3
    goal_tolerance_m: float = 0.02
    goal_tolerance_rad: float = 0.1
    settle_s: float = 0.5
    gripper_timeout_s: float = 1.5

    def __post_init__(self) -> None:
        if not 0 < self.velocity_scale <= 1:
            raise ValueError(f'SimMotionSettings: velocity_scale must be in (0, 1], got '
                             f'{self.velocity_scale}')
        for name in ('cartesian_speed_mps', 'cartesian_step_m', 'cartesian_step_rad',
                     'max_joint_jump_rad', 'goal_tolerance_m', 'goal_tolerance_rad', 'settle_s',
                     'gripper_timeout_s'):
            if not getattr(self, name) > 0:
                raise ValueError(f'SimMotionSettings: {name} must be > 0, got '
                                 f'{getattr(self, name)}')


@dataclass(frozen=True)
class JointTrajectory:
    """Joint positions (N, 7) rad and velocities (N, 7) rad/s sampled every 1/240 s."""

    positions: np.ndarray
    velocities: np.ndarray

    @property
    def duration_s(self) -> float:
        """Duration of the trajectory (s)."""
        return len(self.positions) * TIME_STEP_S


def interpolate_poses(start: RigidTransform, goal: RigidTransform, step_m: float,
                      step_rad: float) -> list[RigidTransform]:
    """Straight-line tool poses from ``start`` to ``goal``, both included.

    Positions linear, orientations slerped, no step longer than ``step_m`` metres or
    ``step_rad`` radians.
    """
    dist = float(np.linalg.norm(goal.translation - start.translation))
    angle = rotation_error_rad(start, goal)
    count = max(1, int(np.ceil(max(dist / step_m, angle / step_rad))))
    slerp = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([start.rotation, goal.rotation])))
    fractions = np.linspace(0.0, 1.0, count + 1)
    rotations = slerp(fractions).as_matrix()
    return [RigidTransform(rot, start.translation + f * (goal.translation - start.translation))
            for f, rot in zip(fractions, rotations)]


def time_parametrise(waypoints: np.ndarray, segment_s: np.ndarray) -> JointTrajectory:
    """Smooth (quintic time scaling) trajectory through joint ``waypoints`` (K, 7) rad.

    The segments take ``segment_s`` (K-1,) s at constant speed; the quintic profile stretches
    the total by 1.875 so its peak speed equals that constant speed.
    """
    qs = np.asarray(waypoints, dtype=float)
    nominal = np.concatenate([[0.0], np.cumsum(np.maximum(segment_s, 1e-6))])
    total = 1.875 * nominal[-1]
    count = max(2, int(np.ceil(total / TIME_STEP_S)) + 1)
    tau = np.linspace(0.0, 1.0, count)
    s = 10 * tau ** 3 - 15 * tau ** 4 + 6 * tau ** 5
    u = s * nominal[-1]
    positions = np.stack([np.interp(u, nominal, qs[:, j]) for j in range(qs.shape[1])], axis=1)
    velocities = np.gradient(positions, TIME_STEP_S, axis=0)
    return JointTrajectory(positions, velocities)


class SimMotionBackend:
    """MotionBackend driving a :class:`~kufenet_grasp.sim.panda.Panda` in its PyBullet world.

    ``lock`` serialises access to the PyBullet client shared with other users (the camera
    renderer of ``SimWorld``); it is held for one physics step at a time.
    """

    name = 'pybullet_panda'

    def __init__(self, panda: Panda, settings: SimMotionSettings | None = None,
                 lock: threading.RLock | None = None,
                 home_q: tuple[float, ...] = HOME_Q,
                 gripper: GripperConfig = FRANKA_HAND) -> None:
        self.panda = panda
        self.gripper = gripper
        self.settings = settings or SimMotionSettings()
        self._lock = lock if lock is not None else contextlib.nullcontext()
        self.home_q = np.asarray(home_q, dtype=float)
        self._vmax = np.asarray(MAX_JOINT_VELOCITY) * self.settings.velocity_scale
        #: set while ``execute`` or ``set_gripper`` steps the physics (an idle stepper waits)
        self.busy = threading.Event()

    # ------------------------------------------------------------------ planning
    def current_state(self) -> np.ndarray:
        """Return the arm's current joint angles (7, rad)."""
        with self._lock:
            return self.panda.joint_positions()

    def _free_segment_s(self, q0: np.ndarray, q1: np.ndarray) -> float:
        return float(np.max(np.abs(q1 - q0) / self._vmax))

    def _free_path_clear(self, q0: np.ndarray, q1: np.ndarray) -> bool:
        kin = self.panda.kinematics
        steps = max(2, int(np.ceil(np.max(np.abs(q1 - q0)) / 0.05)))
        return not any(kin.collides_with_table(q0 + f * (q1 - q0))
                       for f in np.linspace(0.0, 1.0, steps + 1))

    def _joint_plan(self, stage: str, q0: np.ndarray, q1: np.ndarray,
                    target: RigidTransform) -> StagePlan | None:
        if not self._free_path_clear(q0, q1):
            return None
        traj = time_parametrise(np.stack([q0, q1]), np.array([self._free_segment_s(q0, q1)]))
        return StagePlan(stage, target, end_state=q1, trajectory=traj,
                         info={'duration_s': traj.duration_s, 'cartesian': False})

    def plan_stage(self, stage: str, start_state: Any, target: RigidTransform,
                   cartesian: bool) -> StagePlan | None:
        """Plan from joint state ``start_state`` (7 rad) to tool pose ``target`` (base frame).

        None when unreachable, when a cartesian path needs a joint jump, or on table contact.
        """
        if not isinstance(target, RigidTransform):
            raise TypeError(f'plan_stage: target must be a RigidTransform, got '
                            f'{type(target).__name__}')
        q0 = np.asarray(start_state, dtype=float)
        if q0.shape != (7,):
            raise ValueError(f'plan_stage: start_state must be 7 joint angles (rad), got shape '
                             f'{q0.shape}')
        kin = self.panda.kinematics
        if cartesian:
            return self._cartesian_plan(stage, q0, target)
        best: tuple[float, np.ndarray, RigidTransform] | None = None
        for goal in (target, flipped(target)):
            q1 = kin.inverse(goal, q0)
            if q1 is None or kin.collides_with_table(q1):
                continue
            cost = float(np.max(np.abs(q1 - q0)))
            if best is None or cost < best[0]:
                best = (cost, q1, goal)
        if best is None:
            return None
        return self._joint_plan(stage, q0, best[1], best[2])

    def _cartesian_plan(self, stage: str, q0: np.ndarray,
                        target: RigidTransform) -> StagePlan | None:
        st, kin = self.settings, self.panda.kinematics
        start = kin.forward(q0)
        goal = min((target, flipped(target)), key=lambda g: rotation_error_rad(start, g))
        poses = interpolate_poses(start, goal, st.cartesian_step_m, st.cartesian_step_rad)
        qs = [q0]
        segments = []
        for prev, pose in itertools.pairwise(poses):
            q = kin.inverse(pose, qs[-1])
            if q is None or np.max(np.abs(q - qs[-1])) > st.max_joint_jump_rad \
                    or kin.collides_with_table(q):
                return None
            lin = float(np.linalg.norm(pose.translation - prev.translation))
            segments.append(max(lin / st.cartesian_speed_mps,
                                self._free_segment_s(qs[-1], q)))
            qs.append(q)
        traj = time_parametrise(np.stack(qs), np.asarray(segments))
        return StagePlan(stage, goal, end_state=qs[-1], trajectory=traj,
                         info={'duration_s': traj.duration_s, 'cartesian': True,
                               'waypoints': len(qs)})

    def plan_home(self, start_state: Any) -> StagePlan | None:
        """Joint-space plan from ``start_state`` (7 rad) to the home configuration."""
        q0 = np.asarray(start_state, dtype=float)
        if q0.shape != (7,):
            raise ValueError(f'plan_home: start_state must be 7 joint angles (rad), got shape '
                             f'{q0.shape}')
        return self._joint_plan('home', q0, self.home_q.copy(),
                                self.panda.kinematics.forward(self.home_q))

    # ----------------------------------------------------------------- execution
    def execute(self, plan: StagePlan, should_cancel: Callable[[], bool]) -> bool:
        """Track ``plan.trajectory`` stepping the simulation.

        False when cancelled or when the tool ends more than ``goal_tolerance_m`` /
        ``goal_tolerance_rad`` from ``plan.target`` (blocked by a collision).
        """
        traj = plan.trajectory
        if not isinstance(traj, JointTrajectory):
            raise TypeError(f"execute: plan '{plan.stage}' has no JointTrajectory of this "
                            f'backend (got {type(traj).__name__})')
        self.busy.set()
        try:
            return self._track(traj, plan.target, should_cancel)
        finally:
            self.busy.clear()

    def _track(self, traj: JointTrajectory, target: RigidTransform,
               should_cancel: Callable[[], bool]) -> bool:
        for i, (q, qd) in enumerate(zip(traj.positions, traj.velocities)):
            if i % 12 == 0 and should_cancel():
                self._hold_here()
                return False
            with self._lock:
                self.panda.command_arm(q, qd)
                self.panda.step()
        goal = traj.positions[-1]
        for _ in range(int(self.settings.settle_s / TIME_STEP_S)):
            with self._lock:
                self.panda.command_arm(goal)
                self.panda.step()
                error = float(np.max(np.abs(self.panda.joint_positions() - goal)))
            if error < 0.005:
                break
        with self._lock:
            reached = self.panda.tool_pose()
        miss_m = float(np.linalg.norm(reached.translation - target.translation))
        return miss_m <= self.settings.goal_tolerance_m and \
            rotation_error_rad(reached, target) <= self.settings.goal_tolerance_rad

    def _hold_here(self) -> None:
        with self._lock:
            self.panda.command_arm(self.panda.joint_positions())

    def set_gripper(self, command: float, wait: bool = True) -> bool:
        """Send a command of ``self.gripper`` (opening = ``width_for_command``).

        Closing on an object grasps with the mapping's force (half per finger, see the module
        docstring). With ``wait`` step until the fingers reach the opening or stall (at most
        ``gripper_timeout_s``). False for a non-finite command or one outside the mapping's
        range.
        """
        lo, hi = sorted((self.gripper.command_at_min_width, self.gripper.command_at_max_width))
        if not np.isfinite(command) or not lo - 1e-9 <= float(command) <= hi + 1e-9:
            return False
        width = min(self.gripper.width_for_command(float(command)), MAX_FINGER_WIDTH_M)
        force = self.gripper.max_effort_n / 2 if self.gripper.max_effort_n > 0 else None
        with self._lock:
            if width < self.panda.finger_width_m() - 0.001 and \
                    self.panda.object_between_fingers():
                width = 0.0  # grasp: close with force until the fingers stall on the object
            self.panda.command_fingers(width, force)
        if not wait:
            return True
        self.busy.set()
        try:
            self._wait_fingers(width)
        finally:
            self.busy.clear()
        return True

    def _wait_fingers(self, width: float) -> None:
        last = self.gripper_width_m()
        for i in range(1, int(self.settings.gripper_timeout_s / TIME_STEP_S) + 1):
            with self._lock:
                self.panda.step()
            if i % 12 == 0:
                now = self.gripper_width_m()
                if abs(now - width) < 0.001 or abs(now - last) < 0.0002:
                    break
                last = now

    def gripper_width_m(self) -> float:
        """Return current opening between the fingers (m)."""
        with self._lock:
            return self.panda.finger_width_m()

    def is_holding(self) -> bool:
        """Whether both fingers touch an object, or the closed fingers stalled on one."""
        with self._lock:
            return self.panda.is_holding()
