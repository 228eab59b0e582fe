# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The simulated Panda: IK round trip, planning checks, trajectory tracking, gripper, a pick."""

from __future__ import annotations

import math

from kufenet_grasp.execution.candidates import GraspCandidate
from kufenet_grasp.execution.motion import MotionBackend
from kufenet_grasp.execution.pick_sequence import PickConfig, PickSequence
from kufenet_grasp.geometry.grasp_pose import tcp_offset
from kufenet_grasp.geometry.transforms import from_xyz_rpy, RigidTransform
from kufenet_grasp.geometry.workspace import WorkspaceBounds
from kufenet_grasp.sim.motion_backend import (
    FRANKA_HAND,
    interpolate_poses,
    JointTrajectory,
    time_parametrise,
)
from kufenet_grasp.sim.panda import (
    FINGERTIP_BEYOND_TCP_M,
    flipped,
    HOME_Q,
    LOWER_LIMITS,
    PandaKinematics,
    rotation_error_rad,
    TCP_OFFSET_M,
    UPPER_LIMITS,
)
from kufenet_grasp.sim.world import SimWorld, WorldConfig
import numpy as np
import pytest

DOWN = np.diag([1.0, -1.0, -1.0])  # tool z down, fingers along base -y


@pytest.fixture(scope='module')
def kinematics():
    kin = PandaKinematics()
    yield kin
    kin.close()


@pytest.fixture(scope='module')
def world():
    w = SimWorld(WorldConfig(seed=3, depth_noise=False, rgb_noise=False))
    yield w
    w.close()


def _grasp_down(x: float, y: float, z: float, yaw: float = 0.0) -> RigidTransform:
    """Grasp frame pointing straight down in the base frame (m, rad)."""
    return RigidTransform(DOWN @ from_xyz_rpy((0, 0, 0), (0, 0, yaw)).rotation,
                          np.array([x, y, z]))


def test_ik_round_trip(kinematics):
    rng = np.random.default_rng(0)
    home = np.asarray(HOME_Q)
    checked = 0
    for _ in range(6):
        q = np.clip(home + rng.uniform(-0.4, 0.4, 7), LOWER_LIMITS, UPPER_LIMITS)
        pose = kinematics.forward(q)
        solution = kinematics.inverse(pose, home)
        assert solution is not None
        again = kinematics.forward(solution)
        assert np.linalg.norm(again.translation - pose.translation) < 0.002
        assert rotation_error_rad(again, pose) < 0.02
        checked += 1
    assert checked == 6


def test_tcp_is_between_fingertips_below_hand(kinematics):
    tool = kinematics.forward(HOME_Q)
    # at home the tool points straight down: the hand is TCP_OFFSET_M above the tool point
    assert np.allclose(tool.rotation[:, 2], [0, 0, -1], atol=1e-3)
    import pybullet as p

    hand = p.getLinkState(kinematics.body, 8, computeForwardKinematics=True,
                          physicsClientId=kinematics.client)[4]
    assert np.linalg.norm(np.asarray(hand) - tool.translation) == pytest.approx(TCP_OFFSET_M,
                                                                                abs=1e-6)


def test_fingertips_reach_just_beyond_the_tcp(kinematics):
    import pybullet as p

    for height, touches in ((FINGERTIP_BEYOND_TCP_M + 0.004, False),
                            (FINGERTIP_BEYOND_TCP_M - 0.006, True)):
        q = kinematics.inverse(_grasp_down(0.55, 0.0, height), HOME_Q)
        assert q is not None
        kinematics.forward(q)
        points = p.getClosestPoints(kinematics.body, kinematics.plane, 0.05,
                                    physicsClientId=kinematics.client)
        gaps = [pt[8] for pt in points if pt[3] in (9, 10)]
        assert (min(gaps) < 0.0) == touches


def test_unreachable_and_table_targets_are_refused(world):
    backend = world.backend
    assert isinstance(backend, MotionBackend)
    q0 = backend.current_state()
    assert backend.plan_stage('pre_grasp', q0, _grasp_down(1.5, 0.0, 0.3), False) is None
    assert backend.plan_stage('approach', q0, _grasp_down(0.55, 0.0, -0.05), False) is None
    assert backend.plan_stage('pre_grasp', q0, _grasp_down(0.55, 0.0, 0.2), False) is not None
    with pytest.raises(ValueError, match='start_state'):
        backend.plan_stage('pre_grasp', [0.0, 1.0], _grasp_down(0.5, 0, 0.2), False)


def test_half_turn_symmetric_target_is_planned(world):
    backend = world.backend
    target = _grasp_down(0.5, 0.1, 0.2, yaw=math.pi - 0.1)
    plan = backend.plan_stage('pre_grasp', backend.current_state(), target, False)
    assert plan is not None
    assert plan.target.is_close(target, 1e-9) or plan.target.is_close(flipped(target), 1e-9)


def test_cartesian_plan_follows_a_straight_line(world, kinematics):
    backend = world.backend
    start = backend.plan_stage('pre_grasp', backend.current_state(),
                               _grasp_down(0.5, -0.1, 0.25), False)
    goal = _grasp_down(0.5, -0.1, 0.05)
    plan = backend.plan_stage('approach', start.end_state, goal, True)
    assert plan is not None and isinstance(plan.trajectory, JointTrajectory)
    for q in plan.trajectory.positions[:: max(1, len(plan.trajectory.positions) // 10)]:
        xyz = kinematics.forward(q).translation
        assert np.linalg.norm(xyz[:2] - [0.5, -0.1]) < 0.003
        assert 0.05 - 0.003 < xyz[2] < 0.25 + 0.003


def test_time_parametrisation_respects_velocity_limits():
    qs = np.stack([np.zeros(7), np.full(7, 0.5), np.full(7, 1.0)])
    traj = time_parametrise(qs, np.array([0.5, 0.5]))
    assert np.allclose(traj.positions[0], 0.0) and np.allclose(traj.positions[-1], 1.0)
    assert np.max(np.abs(traj.velocities)) <= 1.0 + 0.05  # 0.5 rad per 0.5 s peak
    poses = interpolate_poses(_grasp_down(0.4, 0, 0.3), _grasp_down(0.4, 0, 0.2), 0.01, 0.05)
    assert len(poses) == 11


def test_execute_tracks_and_cancel_stops(world):
    backend = world.backend
    target = _grasp_down(0.45, 0.05, 0.2)
    plan = backend.plan_stage('pre_grasp', backend.current_state(), target, False)
    assert backend.execute(plan, lambda: True) is False
    assert backend.execute(plan, lambda: False) is True
    reached = world.panda.tool_pose()
    assert np.linalg.norm(reached.translation - plan.target.translation) < 0.005
    home = backend.plan_home(backend.current_state())
    assert backend.execute(home, lambda: False)
    assert np.allclose(backend.current_state(), HOME_Q, atol=0.01)


def test_gripper_commands(world):
    backend = world.backend
    assert backend.set_gripper(FRANKA_HAND.command_for_width(0.05))
    assert backend.gripper_width_m() == pytest.approx(0.05, abs=0.002)
    assert not backend.set_gripper(float('nan'))
    assert not backend.set_gripper(0.5)  # beyond the 0.04 m finger joint range
    assert backend.set_gripper(FRANKA_HAND.release_command())
    assert backend.gripper_width_m() == pytest.approx(0.08, abs=0.002)
    assert not backend.is_holding()


def test_pick_sequence_picks_and_places_a_box(world):
    world.reset(seed=5)
    world.remove_objects(world.object_bodies())
    box = world.add_box((0.05, 0.03, 0.05), (0.02, -0.03), yaw_rad=0.4)
    top = world.world_to_base(world.object_position(box) + [0, 0, 0.025])
    # closing axis across the 3 cm side: grasp-frame y along the box's local y
    pose = RigidTransform(DOWN @ from_xyz_rpy((0, 0, 0), (0, 0, -0.4)).rotation, top)
    config = PickConfig(workspace=WorkspaceBounds((0.1, -0.4, -0.01), (0.9, 0.8, 0.7)),
                        tcp_offset=tcp_offset((0.0, 0.0, 0.02)))
    sequence = PickSequence(world.backend, config, FRANKA_HAND)
    stages = []
    place = world.place_pose(0.2)
    outcome = sequence.run([GraspCandidate(pose, width_m=0.03, quality=0.9)], place,
                           on_feedback=lambda stage, progress, index: stages.append(stage))
    assert int(outcome.status) == 0, outcome.message
    assert 'lift' in stages and 'open' in stages
    world.settle(120)
    assert world.placed_objects() == [box]
    assert np.allclose(world.backend.current_state(), HOME_Q, atol=0.02)
