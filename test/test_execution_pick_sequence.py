# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The ROS-free pick sequence over the recording fake backend (test/fake_motion.py)."""

import math
import pathlib

from fake_motion import FakeMotionBackend
from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.execution.candidates import GraspCandidate
from kufenet_grasp.execution.outcome import MOTION_STAGES
from kufenet_grasp.execution.pick_sequence import PickConfig, PickSequence
from kufenet_grasp.geometry.grasp_pose import tcp_offset
from kufenet_grasp.geometry.gripper import load_gripper
from kufenet_grasp.geometry.transforms import from_xyz_rpy
from kufenet_grasp.geometry.workspace import WorkspaceBounds
import numpy as np
import pytest

GRIPPER = load_gripper(pathlib.Path(__file__).resolve().parents[1] / 'config' / 'grippers'
                       / 'franka_hand.yaml')
BOUNDS = WorkspaceBounds((0.2, -0.4, 0.0), (0.8, 0.4, 0.6))
NOW = 1000.0
PLACE = from_xyz_rpy((0.4, 0.3, 0.15), (math.pi, 0.0, 0.0))


def grasp(x=0.5, y=0.0, z=0.05, quality=0.9, width=0.04, stamp=NOW - 0.1, tilt=0.0):
    """Return a top-down grasp candidate (z approach pointing down) in the base frame."""
    pose = from_xyz_rpy((x, y, z), (math.pi - tilt, 0.0, 0.3))
    return GraspCandidate(pose, width_m=width, quality=quality, stamp_s=stamp)


def make(backend=None, **config):
    settings = {'workspace': BOUNDS, 'quality_threshold': 0.3, 'max_grasp_age_s': 1.0,
                'top_k': 3, 'tcp_offset': tcp_offset((0.0, 0.0, -0.1))}
    settings.update(config)
    backend = backend or FakeMotionBackend()
    return backend, PickSequence(backend, PickConfig(**settings), GRIPPER, clock=lambda: NOW)


def motions(backend):
    return [c for c in backend.calls if c[0] in ('plan', 'plan_home', 'execute', 'gripper')]


def assert_all_commanded_inside(backend):
    for pose in backend.commanded:
        assert BOUNDS.contains(pose.translation), pose.translation


def test_success_reports_every_stage_in_order_and_commands_inside_workspace():
    backend, seq = make()
    feedback = []
    outcome = seq.run([grasp()], PLACE, on_feedback=lambda s, p, i: feedback.append((s, p, i)))
    assert outcome.success and outcome.grasp_index == 0 and outcome.failed_stage == ''
    stages = [s for s, _, _ in feedback]
    assert stages == ['checking', 'planning', *MOTION_STAGES]
    progress = [p for _, p, _ in feedback]
    assert progress == sorted(progress) and all(0.0 <= p <= 1.0 for p in progress)
    assert backend.executed == ['pre_grasp', 'approach', 'lift', 'move_to_place', 'retreat',
                                'home']
    # every stage was planned before the first motion
    first_exec = next(i for i, c in enumerate(backend.calls) if c[0] == 'execute')
    planned = [c[1] for c in backend.calls[:first_exec] if c[0] == 'plan']
    assert planned == ['pre_grasp', 'approach', 'lift', 'move_to_place', 'retreat']
    cartesian = {c[1]: c[2] for c in backend.calls if c[0] == 'plan'}
    assert cartesian == {'pre_grasp': False, 'approach': True, 'lift': True,
                         'move_to_place': False, 'retreat': True}
    # gripper: open with margin, close with squeeze, release fully
    assert backend.gripper_commands == pytest.approx([(0.04 + 0.02) / 2, (0.04 - 0.005) / 2,
                                                      0.04])
    assert_all_commanded_inside(backend)


def test_tool_targets_apply_tcp_offset_and_pre_grasp_is_above_along_approach():
    backend, seq = make(pre_grasp_distance_m=0.12)
    seq.run([grasp(z=0.05)], PLACE)
    targets = {stage: pose.translation for stage, pose in backend.planned}
    # approach axis points down: the tool link sits 0.1 m above the fingertips
    assert targets['approach'] == pytest.approx([0.5, 0.0, 0.15])
    assert targets['pre_grasp'] == pytest.approx([0.5, 0.0, 0.27])
    assert targets['lift'] == pytest.approx([0.5, 0.0, 0.25])
    assert targets['retreat'][2] > PLACE.translation[2] + 0.1


@pytest.mark.parametrize('where', [{'x': 0.95}, {'y': -0.5}, {'z': 0.58}])
def test_grasp_or_its_stage_targets_outside_workspace_is_refused_without_motion(where):
    backend, seq = make()
    outcome = seq.run([grasp(**where)], PLACE)
    assert outcome.status == GraspStatus.OUT_OF_WORKSPACE
    assert 'outside the workspace' in outcome.message
    assert motions(backend) == []


def test_place_outside_workspace_is_refused_without_motion():
    backend, seq = make()
    outcome = seq.run([grasp()], from_xyz_rpy((0.4, 0.9, 0.15), (math.pi, 0, 0)))
    assert outcome.status == GraspStatus.OUT_OF_WORKSPACE and 'move_to_place' in outcome.message
    assert motions(backend) == []


def test_stale_low_quality_too_wide_and_tilted_grasps_are_refused():
    cases = [({'stamp': NOW - 5.0}, GraspStatus.STALE_DATA),
             ({'quality': 0.1}, GraspStatus.NO_GRASP),
             ({'width': 0.079}, GraspStatus.NO_GRASP),
             ({'tilt': math.radians(50)}, GraspStatus.OUT_OF_WORKSPACE)]
    for kwargs, status in cases:
        backend, seq = make()
        outcome = seq.run([grasp(**kwargs)], PLACE)
        assert outcome.status == status, (kwargs, outcome)
        assert outcome.failed_stage == 'checking'
        assert motions(backend) == []


def test_no_candidates_is_no_grasp():
    backend, seq = make()
    assert seq.run([], PLACE).status == GraspStatus.NO_GRASP
    assert motions(backend) == []


def test_plan_failure_of_best_candidate_falls_back_to_next():
    backend = FakeMotionBackend()
    backend.fail_plan = lambda stage, target: stage == 'approach' and target.translation[1] > 0.05
    backend, seq = make(backend)
    best, second = grasp(y=0.1, quality=0.95), grasp(y=-0.1, quality=0.8)
    outcome = seq.run([second, best], PLACE)
    assert outcome.success and outcome.grasp_index == 1
    approach = [pose for stage, pose in backend.planned if stage == 'approach']
    assert approach[0].translation[1] == pytest.approx(0.1)
    executed_targets = [c for c in backend.calls if c[0] == 'execute']
    assert len(executed_targets) == 6
    assert_all_commanded_inside(backend)


def test_all_candidates_failing_to_plan_is_plan_failed_naming_the_stage_and_no_motion():
    backend = FakeMotionBackend()
    backend.fail_plan = lambda stage, target: stage == 'lift'
    backend, seq = make(backend)
    outcome = seq.run([grasp(y=0.1), grasp(y=-0.1, quality=0.5)], PLACE)
    assert outcome.status == GraspStatus.PLAN_FAILED
    assert outcome.failed_stage == 'lift' and 'lift' in outcome.message
    assert not any(c[0] in ('execute', 'gripper') for c in backend.calls)


def test_slip_after_lift_is_execution_failed_at_lift_and_goes_home():
    backend = FakeMotionBackend()
    backend.holding = False
    backend, seq = make(backend)
    outcome = seq.run([grasp()], PLACE)
    assert outcome.status == GraspStatus.EXECUTION_FAILED and outcome.failed_stage == 'lift'
    assert backend.executed[-1] == 'home' and 'move_to_place' not in backend.executed
    assert backend.gripper_commands[-1] == pytest.approx(GRIPPER.release_command())


def test_cancel_during_the_lift_keeps_the_object_and_returns_home_cancelled():
    """A lifted object is never dropped where the arm happens to be when a cancel comes."""
    backend = FakeMotionBackend()
    backend.block_stage = 'lift'
    cancelled = []

    def on_execute(plan):
        if plan.stage == 'lift':
            cancelled.append(True)

    backend.on_execute = on_execute
    backend, seq = make(backend)
    outcome = seq.run([grasp()], PLACE, should_cancel=lambda: bool(cancelled))
    assert outcome.status == GraspStatus.CANCELLED and outcome.failed_stage == 'lift'
    assert backend.executed == ['pre_grasp', 'approach', 'home']
    assert len(backend.gripper_commands) == 2  # opened, closed; never released mid-air
    assert 'still in the gripper' in outcome.message
    assert np.allclose(backend.state.translation, [0.4, 0.0, 0.4])


def test_cancel_after_the_close_releases_in_place_and_backs_out():
    backend = FakeMotionBackend()
    closed = []
    backend, seq = make(backend)
    real_set_gripper = backend.set_gripper

    def set_gripper(command, wait=True):
        closed.append(len(backend.gripper_commands) == 1)  # the second command closes
        return real_set_gripper(command, wait)

    backend.set_gripper = set_gripper
    outcome = seq.run([grasp()], PLACE, should_cancel=lambda: any(closed))
    assert outcome.status == GraspStatus.CANCELLED and outcome.failed_stage == 'lift'
    assert backend.executed == ['pre_grasp', 'approach', 'retreat', 'home']
    assert backend.gripper_commands[-1] == pytest.approx(GRIPPER.release_command())
    assert 'backed out to the pre-grasp pose' in outcome.message


def test_execution_failure_and_timeout_go_home_without_dropping():
    backend = FakeMotionBackend()
    backend.fail_execute = {'move_to_place'}
    backend, seq = make(backend)
    outcome = seq.run([grasp()], PLACE)
    assert outcome.status == GraspStatus.EXECUTION_FAILED
    assert outcome.failed_stage == 'move_to_place' and backend.executed[-1] == 'home'
    assert len(backend.gripper_commands) == 2  # opened, closed; never released mid-air
    slow = FakeMotionBackend()
    slow.block_stage = 'approach'
    slow, seq = make(slow, execution_timeout_s=0.05)
    outcome = seq.run([grasp()], PLACE)
    assert outcome.status == GraspStatus.TIMEOUT and outcome.failed_stage == 'approach'


def test_bad_config_and_backend_raise_clear_errors():
    with pytest.raises(ValueError, match='lift_height_m'):
        PickConfig(workspace=BOUNDS, lift_height_m=-0.1)
    with pytest.raises(ValueError, match='top_k'):
        PickConfig(workspace=BOUNDS, top_k=0)
    with pytest.raises(TypeError, match='MotionBackend'):
        PickSequence(object(), PickConfig(workspace=BOUNDS), GRIPPER)
    with pytest.raises(ValueError, match='quality'):
        GraspCandidate(from_xyz_rpy((0, 0, 0), (0, 0, 0)), quality=1.5)


def test_cancel_at_the_object_backs_out_to_pre_grasp_before_going_home():
    backend = FakeMotionBackend()
    backend.block_stage = 'approach'
    started = []
    backend.on_execute = lambda plan: started.append(plan.stage)
    backend, seq = make(backend)
    outcome = seq.run([grasp()], PLACE, should_cancel=lambda: 'approach' in started)
    assert outcome.status == GraspStatus.CANCELLED and outcome.failed_stage == 'approach'
    assert backend.executed == ['pre_grasp', 'retreat', 'home']
    assert 'backed out' in outcome.message
    planned = dict(backend.planned[:5])
    escape_stage, escape_target = backend.planned[-1]
    assert escape_stage == 'retreat' and ('plan', 'retreat', True) in backend.calls
    assert escape_target.is_close(planned['pre_grasp'])
    assert backend.state.translation == pytest.approx([0.4, 0.0, 0.4])
    assert_all_commanded_inside(backend)


def test_grasp_just_below_the_floor_is_raised_above_it_and_far_below_is_refused():
    """Depth noise under a flat object must not send the fingers into the table."""
    backend, seq = make(tcp_offset=tcp_offset((0.0, 0.0, 0.005)), floor_clearance_m=0.003)
    outcome = seq.run([grasp(z=0.002)], PLACE)
    assert outcome.status == GraspStatus.OK, outcome.message
    approach = dict(backend.planned)['approach'].translation
    # tool link 5 mm deeper than the fingertip point, raised to 3 mm above the floor (z = 0)
    assert approach[2] == pytest.approx(0.003)
    assert_all_commanded_inside(backend)
    backend, seq = make(floor_clearance_m=0.003)
    assert seq.run([grasp(z=-0.05)], PLACE).status == GraspStatus.OUT_OF_WORKSPACE
    assert motions(backend) == []
