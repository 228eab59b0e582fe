# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The ROS-free pick-and-place sequence: check, plan every stage, then execute.

Frames: grasp and place poses are the grasp frame (z approach into the object, y closing
axis) in the arm's base frame (REP-105, z up), metres. The tool-link poses sent to the
backend are ``pose ∘ tcp_offset`` (:func:`kufenet_grasp.geometry.grasp_pose.apply_tcp_offset`),
computed in :meth:`PickSequence.tool_pose` only.

For each candidate (quality order, ``top_k``) the sequence checks quality, age, gripper width,
approach angle and the workspace bounds of every target (grasp, pre-grasp, lift, place,
retreat; both the fingertip point and the tool link), then plans pre_grasp, approach
(cartesian), lift (cartesian), move_to_place, retreat (cartesian) and home, each from the end
state of the previous plan. Only a fully planned candidate is executed. No target outside the
workspace is ever sent to the backend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
import math
import time

from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.execution.candidates import GraspCandidate, rank_candidates
from kufenet_grasp.execution.checks import (
    check_age,
    check_approach_angle,
    check_quality,
    check_width,
    check_workspace,
    CheckResult,
)
from kufenet_grasp.execution.motion import MotionBackend, StagePlan
from kufenet_grasp.execution.outcome import FeedbackFn, PickOutcome, stage_progress
from kufenet_grasp.geometry.grasp_pose import apply_tcp_offset
from kufenet_grasp.geometry.gripper import GripperConfig
from kufenet_grasp.geometry.transforms import RigidTransform
from kufenet_grasp.geometry.workspace import WorkspaceBounds
import numpy as np

#: planned arm stages: (name, cartesian)
ARM_STAGES: tuple[tuple[str, bool], ...] = (
    ('pre_grasp', False), ('approach', True), ('lift', True), ('move_to_place', False),
    ('retreat', True))


@dataclass(frozen=True)
class PickConfig:
    """Settings of the pick sequence (metres, radians, seconds; base frame)."""

    workspace: WorkspaceBounds
    max_approach_angle_rad: float = math.radians(30.0)
    pre_grasp_distance_m: float = 0.10
    lift_height_m: float = 0.10
    retreat_distance_m: float = 0.10
    quality_threshold: float = 0.0
    max_grasp_age_s: float = 0.0
    top_k: int = 3
    execution_timeout_s: float = 0.0
    tcp_offset: RigidTransform = field(default_factory=RigidTransform.identity)
    #: the grasp is raised (along base z, by at most ``max_floor_raise_m``) so that neither the
    #: fingertip point nor the tool link goes below ``workspace.min_z + floor_clearance_m``:
    #: depth noise and tcp offsets must not drive the fingers into the table under flat objects
    floor_clearance_m: float = 0.003
    max_floor_raise_m: float = 0.03

    def __post_init__(self) -> None:
        for key in ('pre_grasp_distance_m', 'lift_height_m', 'retreat_distance_m',
                    'max_grasp_age_s', 'execution_timeout_s', 'floor_clearance_m',
                    'max_floor_raise_m'):
            value = getattr(self, key)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f'PickConfig.{key} must be a finite value >= 0, got {value!r}')
        if not 0.0 <= self.max_approach_angle_rad <= math.pi:
            raise ValueError(f'PickConfig.max_approach_angle_rad must be in [0, pi], '
                             f'got {self.max_approach_angle_rad!r}')
        if not 0.0 <= self.quality_threshold <= 1.0:
            raise ValueError(f'PickConfig.quality_threshold must be in [0, 1], '
                             f'got {self.quality_threshold!r}')
        if self.top_k < 1:
            raise ValueError(f'PickConfig.top_k must be >= 1, got {self.top_k!r}')


def _shifted(pose: RigidTransform, offset: np.ndarray) -> RigidTransform:
    """``pose`` translated by ``offset`` (3,) m in the base frame, same orientation."""
    return RigidTransform(pose.rotation, pose.translation + offset)


def stage_targets(grasp: RigidTransform, place: RigidTransform,
                  config: PickConfig) -> dict[str, RigidTransform]:
    """Grasp-frame targets (base frame, m) of every arm stage of one pick.

    pre_grasp: ``pre_grasp_distance_m`` back along the approach axis; approach: the grasp;
    lift: ``lift_height_m`` straight up (base +z); move_to_place: the place pose; retreat:
    ``retreat_distance_m`` back along the place pose's approach axis.
    """
    up = np.array([0.0, 0.0, 1.0])
    return {
        'pre_grasp': _shifted(grasp, -config.pre_grasp_distance_m * grasp.rotation[:, 2]),
        'approach': grasp,
        'lift': _shifted(grasp, config.lift_height_m * up),
        'move_to_place': place,
        'retreat': _shifted(place, -config.retreat_distance_m * place.rotation[:, 2]),
    }


@dataclass
class _Failure:
    """Why one candidate was not executed."""

    index: int
    result: CheckResult
    stage: str


class PickSequence:
    """Pick-and-place of ranked grasp candidates over a :class:`MotionBackend`."""

    def __init__(self, backend: MotionBackend, config: PickConfig,
                 gripper: GripperConfig, clock: Callable[[], float] = time.time) -> None:
        """``clock()`` gives the current time in seconds on the same clock as the stamps."""
        if not isinstance(backend, MotionBackend):
            raise TypeError(f'PickSequence: backend {backend!r} does not implement '
                            f'MotionBackend (kufenet_grasp.execution.motion)')
        self.backend = backend
        self.config = config
        self.gripper = gripper
        self.clock = clock

    def tool_pose(self, grasp_frame_pose: RigidTransform) -> RigidTransform:
        """Tool-link pose (base frame) for a grasp-frame pose: the one tcp_offset conversion."""
        return apply_tcp_offset(grasp_frame_pose, self.config.tcp_offset)

    def grasp_target(self, grasp_frame_pose: RigidTransform) -> RigidTransform:
        """Raise the grasp pose above the workspace floor (see ``PickConfig.floor_clearance_m``).

        A grasp that would need more than ``max_floor_raise_m`` is left as it is, so the
        workspace check refuses it.
        """
        cfg = self.config
        floor = cfg.workspace.min_xyz[2] + cfg.floor_clearance_m
        lowest = min(grasp_frame_pose.translation[2],
                     self.tool_pose(grasp_frame_pose).translation[2])
        raise_m = floor - lowest
        if raise_m <= 0.0 or raise_m > cfg.max_floor_raise_m:
            return grasp_frame_pose
        return _shifted(grasp_frame_pose, np.array([0.0, 0.0, raise_m]))

    # ---------------------------------------------------------------- checks
    def check(self, candidate: GraspCandidate, place: RigidTransform) -> tuple[CheckResult, str]:
        """Run every pre-planning check; returns (result, the target name that failed)."""
        cfg, grip = self.config, self.gripper
        simple = (check_quality(candidate.quality, cfg.quality_threshold),
                  check_age(candidate.stamp_s, self.clock(), cfg.max_grasp_age_s),
                  check_width(candidate.width_m, grip.min_width_m, grip.max_width_m,
                              grip.width_margin_m),
                  check_approach_angle(candidate.pose, cfg.max_approach_angle_rad))
        for result in simple:
            if not result.ok:
                return result, 'grasp'
        for name, target in stage_targets(self.grasp_target(candidate.pose), place,
                                          cfg).items():
            for what, pose in (('fingertips', target), ('tool link', self.tool_pose(target))):
                result = check_workspace(pose.translation, cfg.workspace,
                                         f'{name} target ({what})')
                if not result.ok:
                    return result, name
        return CheckResult(True, GraspStatus.OK, ''), ''

    # -------------------------------------------------------------- planning
    def plan(self, candidate: GraspCandidate, place: RigidTransform,
             start_state: object) -> tuple[list[StagePlan] | None, str]:
        """Plan all arm stages and home; (plans, '') or (None, the stage that failed)."""
        targets = stage_targets(self.grasp_target(candidate.pose), place, self.config)
        plans: list[StagePlan] = []
        state = start_state
        for stage, cartesian in ARM_STAGES:
            plan = self.backend.plan_stage(stage, state, self.tool_pose(targets[stage]),
                                           cartesian)
            if plan is None:
                return None, stage
            plans.append(plan)
            state = plan.end_state
        home = self.backend.plan_home(state)
        if home is None:
            return None, 'home'
        plans.append(home)
        return plans, ''

    # ------------------------------------------------------------------- run
    def run(self, candidates: Sequence[GraspCandidate], place_pose: RigidTransform,
            should_cancel: Callable[[], bool] = lambda: False,
            on_feedback: FeedbackFn | None = None) -> PickOutcome:
        """Try the candidates in quality order; execute the first one that plans completely.

        Args:
            candidates: grasps in the base frame (any order; ranked here, ``top_k`` kept).
            place_pose: grasp-frame pose at release in the base frame (m).
            should_cancel: polled between stages and during motions; True stops the pick,
                opens the gripper and returns home (status CANCELLED).
            on_feedback: called with (stage, progress in [0, 1], candidate index).

        Returns:
            The :class:`PickOutcome`; never raises for planning or execution failures.
        """
        report = on_feedback or (lambda stage, progress, index: None)
        ranked = rank_candidates(candidates, self.config.top_k) if candidates else []
        if not ranked:
            return PickOutcome(GraspStatus.NO_GRASP, 'no grasp candidate to pick', 'checking')
        failures: list[_Failure] = []
        start = None
        for index, candidate in enumerate(ranked):
            if should_cancel():
                return PickOutcome(GraspStatus.CANCELLED, 'cancelled before any motion',
                                   'checking', index)
            report('checking', stage_progress('checking'), index)
            result, _ = self.check(candidate, place_pose)
            if not result.ok:
                failures.append(_Failure(index, result, 'checking'))
                continue
            report('planning', stage_progress('planning'), index)
            start = self.backend.current_state() if start is None else start
            plans, failed = self.plan(candidate, place_pose, start)
            if plans is None:
                failures.append(_Failure(index, CheckResult(
                    False, GraspStatus.PLAN_FAILED, f'no plan for stage {failed}'), failed))
                continue
            return self._execute(plans, candidate, index, should_cancel, report)
        return self._summarise(failures)

    @staticmethod
    def _summarise(failures: list[_Failure]) -> PickOutcome:
        """One outcome for candidates that all failed before motion (planning wins)."""
        planned = [f for f in failures if f.result.status == GraspStatus.PLAN_FAILED]
        main = planned[0] if planned else failures[0]
        detail = '; '.join(f'candidate {f.index}: {f.result.message}' for f in failures)
        if main.result.status == GraspStatus.PLAN_FAILED:
            message = (f'planning failed at stage {main.stage} for every candidate '
                       f'({detail})')
        else:
            message = f'no candidate passed the checks ({detail})'
        return PickOutcome(main.result.status, message, main.stage, main.index)

    # ------------------------------------------------------------- execution
    def _execute(self, plans: list[StagePlan], candidate: GraspCandidate, index: int,
                 should_cancel: Callable[[], bool], report: FeedbackFn) -> PickOutcome:
        """Run the planned stages with the gripper steps in between."""
        by_stage = dict(zip([name for name, _ in ARM_STAGES] + ['home'], plans))
        grip = self.gripper
        steps: list[tuple[str, float | None]] = [
            ('pre_grasp', grip.open_command(candidate.width_m)), ('approach', None),
            ('close', grip.close_command(candidate.width_m)), ('lift', None),
            ('move_to_place', None), ('open', grip.release_command()), ('retreat', None),
            ('home', None)]
        in_air = placed = False  # the object hangs in the gripper / was released at the place
        for stage, command in steps:
            # a pick stopped at the object (during the approach, before or during the close,
            # before the lift) first backs out to the pre-grasp; once lifting, the object is
            # off its support and the arm goes straight home
            pre_grasp = by_stage['pre_grasp'].target
            if should_cancel():
                before = pre_grasp if stage in ('close', 'lift') else None
                return self._cancelled(f'cancelled before {stage}', stage, index, before,
                                       in_air, placed)
            escape = pre_grasp if stage in ('approach', 'close') else None
            report(stage, stage_progress(stage), index)
            if command is not None and not self.backend.set_gripper(command, wait=True):
                if should_cancel():
                    return self._cancelled(f'cancelled during {stage}', stage, index, escape,
                                           in_air, placed)
                return self._recover(GraspStatus.EXECUTION_FAILED,
                                     f'gripper command {command:.4f} failed at {stage}',
                                     stage, index, open_gripper=False, escape=escape)
            placed = placed or stage == 'open'
            in_air = (in_air or stage == 'lift') and not placed
            if stage in by_stage:
                outcome = self._move(by_stage[stage], index, should_cancel, escape, in_air,
                                     placed)
                if outcome is not None:
                    return outcome
            if stage == 'lift' and not self.backend.is_holding():
                return self._recover(
                    GraspStatus.EXECUTION_FAILED,
                    f'object not held after lift (gripper width '
                    f'{self.backend.gripper_width_m():.4f} m): it slipped or was missed',
                    'lift', index)
        return PickOutcome(GraspStatus.OK, 'picked and placed', '', index)

    def _cancelled(self, message: str, stage: str, index: int,
                   escape: RigidTransform | None, in_air: bool, placed: bool) -> PickOutcome:
        """Stop a cancelled pick: never drop a lifted object where the arm happens to be.

        Before the lift the gripper opens (the object stays on its support) and the tool backs
        out to ``escape``; once lifted and until the release the gripper stays closed and the
        arm goes home holding the object.
        """
        if in_air:
            message += ('; the object is still in the gripper, which stays closed (open it '
                        'where that is safe)')
        elif placed:
            message += '; the object was placed'
        return self._recover(GraspStatus.CANCELLED, message, stage, index,
                             open_gripper=not in_air, escape=escape)

    def _move(self, plan: StagePlan, index: int, should_cancel: Callable[[], bool],
              escape: RigidTransform | None = None, in_air: bool = False,
              placed: bool = False) -> PickOutcome | None:
        """Execute one arm plan; None on success, else the (recovered) failure outcome.

        ``in_air``: the object hangs in the gripper (a cancel keeps it closed); ``placed``:
        it was released at the place.
        """
        if not self.config.workspace.contains(plan.target.translation) and plan.stage != 'home':
            return self._recover(GraspStatus.OUT_OF_WORKSPACE,
                                 f'planned {plan.stage} target leaves the workspace',
                                 plan.stage, index, open_gripper=False)
        timeout = self.config.execution_timeout_s
        deadline = time.monotonic() + timeout if timeout > 0 else math.inf
        timed_out = [False]

        def stop() -> bool:
            if time.monotonic() > deadline:
                timed_out[0] = True
            return timed_out[0] or should_cancel()

        if self.backend.execute(plan, stop):
            return None
        if should_cancel():
            return self._cancelled(f'cancelled during {plan.stage}', plan.stage, index, escape,
                                   in_air, placed)
        if timed_out[0]:
            return self._recover(GraspStatus.TIMEOUT, f'{plan.stage} took longer than '
                                 f'execution_timeout_s = {timeout} s', plan.stage, index,
                                 open_gripper=False, escape=escape)
        return self._recover(GraspStatus.EXECUTION_FAILED, f'executing {plan.stage} failed',
                             plan.stage, index, open_gripper=False, escape=escape)

    def _recover(self, status: GraspStatus, message: str, stage: str, index: int,
                 open_gripper: bool = True,
                 escape: RigidTransform | None = None) -> PickOutcome:
        """Stop, optionally open the gripper, back out, return home; the failed pick's outcome.

        The gripper stays closed after motion failures so a held object is not dropped at an
        unknown place; it opens when the object slipped and on a cancel before the lift (see
        :meth:`_cancelled`). ``escape`` (a tool pose
        inside the workspace, the pre-grasp) is reached with a cartesian ``retreat`` first when
        the tool is at the object.
        """
        notes = []
        if open_gripper and not self.backend.set_gripper(self.gripper.release_command(),
                                                         wait=True):
            notes.append('opening the gripper failed')
        if escape is not None:
            back = self.backend.plan_stage('retreat', self.backend.current_state(), escape,
                                           True)
            if back is not None and self.config.workspace.contains(back.target.translation) \
                    and self.backend.execute(back, lambda: False):
                notes.append('backed out to the pre-grasp pose')
            else:
                notes.append('could not back out to the pre-grasp pose')
        home = self.backend.plan_home(self.backend.current_state())
        if home is None:
            notes.append('no plan home: move the arm home manually')
        elif not self.backend.execute(home, lambda: False):
            notes.append('returning home failed')
        else:
            notes.append('returned home')
        return PickOutcome(status, f"{message}; {', '.join(notes)}", stage, index)
