# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""MoveItBackend against a fake ``moveit`` package injected into sys.modules (records calls)."""

from __future__ import annotations

from contextlib import contextmanager
import math
import pathlib
import subprocess
import sys
import threading
import types
from typing import Any

from geometry_msgs.msg import Pose
from kufenet_grasp.execution.candidates import GraspCandidate
from kufenet_grasp.execution.motion import MotionBackend
from kufenet_grasp.execution.pick_sequence import PickConfig, PickSequence
from kufenet_grasp.geometry.gripper import load_gripper
from kufenet_grasp.geometry.transforms import from_xyz_rpy
from kufenet_grasp.geometry.workspace import WorkspaceBounds
from kufenet_grasp.nodes.moveit_backend import MOVEIT_MISSING, MoveItBackend
import pytest

GRIPPER = load_gripper(pathlib.Path(__file__).resolve().parents[1] / 'config' / 'grippers'
                       / 'franka_hand.yaml')


class FakeState:
    """RobotState stand-in: joint positions per group, a tool pose."""

    def __init__(self, joints: dict[str, list[float]] | None = None,
                 tool_xyz: tuple[float, float, float] = (0.3, 0.0, 0.5)) -> None:
        joints = joints or {'panda_arm': [0.0] * 7, 'hand': [0.04]}
        self.joints = {k: list(v) for k, v in joints.items()}
        self.tool_xyz = tool_xyz

    def __copy__(self) -> FakeState:
        return FakeState(self.joints, self.tool_xyz)

    def set_joint_group_active_positions(self, group: str, values: list[float]) -> None:
        self.joints[group] = list(values)

    def get_joint_group_positions(self, group: str) -> list[float]:
        return list(self.joints[group])

    def update(self) -> None:
        pass

    def get_pose(self, link: str) -> Pose:
        pose = Pose()
        pose.position.x, pose.position.y, pose.position.z = self.tool_xyz
        pose.orientation.x, pose.orientation.w = 1.0, 0.0
        return pose


class FakeWorld:
    """Shared state of one fake MoveItPy: the call log, the current state, failure switches."""

    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.state = FakeState()
        self.fail_plan = False
        self.block_execute = False
        self.stopped = threading.Event()


class FakeComponent:

    def __init__(self, world: FakeWorld, group: str) -> None:
        self.world, self.group = world, group
        self.start: Any = None
        self.goal: dict[str, Any] = {}

    def set_start_state_to_current_state(self) -> None:
        self.world.log.append((self.group, 'start_current'))
        self.start = self.world.state

    def set_start_state(self, robot_state: Any) -> None:
        self.world.log.append((self.group, 'start', robot_state))
        self.start = robot_state

    def set_goal_state(self, **kwargs: Any) -> None:
        self.world.log.append((self.group, 'goal', kwargs))
        self.goal = kwargs

    def plan(self, single_plan_parameters: Any = None) -> Any:
        self.world.log.append((self.group, 'plan', single_plan_parameters))
        if self.world.fail_plan:
            return None
        end = self.goal.get('robot_state') or FakeState(tool_xyz=(0.4, 0.1, 0.3))
        return types.SimpleNamespace(trajectory=[self.start, end])


class FakeExecutionManager:

    def __init__(self, world: FakeWorld) -> None:
        self.world = world

    def stop_execution(self) -> None:
        self.world.log.append(('stop_execution',))
        self.world.stopped.set()


class FakeMoveItPy:
    world: FakeWorld

    def __init__(self, node_name: str, config_dict: Any = None) -> None:
        self.world.log.append(('MoveItPy', node_name))

    def get_planning_component(self, group: str) -> FakeComponent:
        return FakeComponent(self.world, group)

    def get_planning_scene_monitor(self) -> Any:
        world = self.world

        class Monitor:

            @contextmanager
            def read_only(self):
                yield types.SimpleNamespace(current_state=world.state)
        return Monitor()

    def get_trajactory_execution_manager(self) -> FakeExecutionManager:
        return FakeExecutionManager(self.world)

    def execute(self, trajectory: Any, controllers: list[str]) -> Any:
        self.world.log.append(('execute', trajectory, controllers))
        if self.world.block_execute:
            self.world.stopped.wait(10.0)
            return types.SimpleNamespace(status='PREEMPTED')
        self.world.state = trajectory[-1]
        return types.SimpleNamespace(status='SUCCEEDED')


class FakePlanRequestParameters:

    def __init__(self, moveit: Any, namespace: str = '') -> None:
        self.planning_pipeline = 'ompl'
        self.planner_id = ''
        self.planning_time = 1.0


@pytest.fixture
def world(monkeypatch) -> FakeWorld:
    """Install the fake moveit package; yields its shared state."""
    world = FakeWorld()
    FakeMoveItPy.world = world
    planning = types.ModuleType('moveit.planning')
    planning.MoveItPy = FakeMoveItPy
    planning.PlanRequestParameters = FakePlanRequestParameters
    robot_state = types.ModuleType('moveit.core.robot_state')
    robot_state.RobotState = FakeState
    for name, module in (('moveit', types.ModuleType('moveit')), ('moveit.planning', planning),
                         ('moveit.core', types.ModuleType('moveit.core')),
                         ('moveit.core.robot_state', robot_state)):
        monkeypatch.setitem(sys.modules, name, module)
    return world


def make_backend() -> MoveItBackend:
    return MoveItBackend(node_name='test_moveit', gripper=GRIPPER, planning_time_s=2.0)


def test_without_moveit_py_the_constructor_explains(monkeypatch):
    monkeypatch.setitem(sys.modules, 'moveit', None)
    monkeypatch.setitem(sys.modules, 'moveit.planning', None)
    with pytest.raises(RuntimeError) as err:
        MoveItBackend()
    assert str(err.value) == MOVEIT_MISSING
    assert 'motion_backend:=sim' in MOVEIT_MISSING and 'moveit-py' in MOVEIT_MISSING


def test_bad_arguments_raise_value_errors(world):
    with pytest.raises(ValueError, match='tool_link'):
        MoveItBackend(tool_link='')
    with pytest.raises(ValueError, match='planning_time_s'):
        MoveItBackend(planning_time_s=0.0)


def test_free_stage_sets_start_then_pose_goal_then_plans(world):
    backend = make_backend()
    assert isinstance(backend, MotionBackend)
    start = FakeState()
    target = from_xyz_rpy((0.5, -0.1, 0.25), (math.pi, 0.0, 0.4))
    world.log.clear()
    plan = backend.plan_stage('pre_grasp', start, target, cartesian=False)
    assert [entry[1] for entry in world.log] == ['start', 'goal', 'plan']
    assert world.log[0][2] is start
    goal = world.log[1][2]
    assert goal['pose_link'] == 'panda_hand_tcp'
    msg = goal['pose_stamped_msg']
    assert msg.header.frame_id == 'base_link'
    p, q = msg.pose.position, msg.pose.orientation
    assert (p.x, p.y, p.z) == pytest.approx((0.5, -0.1, 0.25))
    assert (q.x, q.y, q.z, q.w) == pytest.approx(tuple(target.quaternion_xyzw))
    params = world.log[2][2]
    assert params.planning_time == 2.0 and params.planning_pipeline == 'ompl'
    assert plan.stage == 'pre_grasp' and plan.target is target
    assert plan.end_state is plan.trajectory[-1]


def test_cartesian_stage_uses_the_pilz_lin_planner_and_failure_is_none(world):
    backend = make_backend()
    target = from_xyz_rpy((0.5, 0.0, 0.2), (math.pi, 0.0, 0.0))
    backend.plan_stage('approach', FakeState(), target, cartesian=True)
    params = world.log[-1][2]
    assert params.planning_pipeline == 'pilz_industrial_motion_planner'
    assert params.planner_id == 'LIN'
    world.fail_plan = True
    assert backend.plan_stage('lift', FakeState(), target, cartesian=True) is None


def test_home_uses_the_named_configuration_and_reports_its_tool_pose(world):
    backend = make_backend()
    plan = backend.plan_home(FakeState())
    assert world.log[-2][2] == {'configuration_name': 'ready'}
    assert plan.target.translation == pytest.approx([0.4, 0.1, 0.3])


def test_execute_calls_moveitpy_and_cancel_stops_the_trajectory(world):
    backend = make_backend()
    plan = backend.plan_stage('pre_grasp', FakeState(),
                              from_xyz_rpy((0.5, 0, 0.3), (math.pi, 0, 0)), False)
    assert backend.execute(plan, lambda: False)
    assert world.log[-1][0] == 'execute' and world.log[-1][1] is plan.trajectory
    assert world.log[-1][2] == []
    world.block_execute = True
    assert not backend.execute(plan, lambda: True)  # cancelled before starting
    flag = threading.Event()
    threading.Timer(0.05, flag.set).start()
    assert not backend.execute(plan, flag.is_set)
    assert ('stop_execution',) in world.log


def test_gripper_goes_through_the_hand_group_and_width_uses_the_mapping(world):
    backend = make_backend()
    assert backend.set_gripper(GRIPPER.command_for_width(0.03))
    goal = [entry for entry in world.log if entry[:2] == ('hand', 'goal')][-1][2]
    assert goal['robot_state'].joints['hand'] == pytest.approx([0.015])
    assert backend.gripper_width_m() == pytest.approx(0.03)
    assert backend.is_holding()
    backend.set_gripper(GRIPPER.command_for_width(0.0))
    assert not backend.is_holding()


def test_pick_sequence_runs_over_the_moveit_backend(world):
    backend = make_backend()
    config = PickConfig(workspace=WorkspaceBounds((0.2, -0.4, 0.0), (0.8, 0.4, 0.6)))
    grasp = GraspCandidate(from_xyz_rpy((0.5, 0.0, 0.1), (math.pi, 0.0, 0.0)), width_m=0.03)
    outcome = PickSequence(backend, config, GRIPPER).run(
        [grasp], from_xyz_rpy((0.4, 0.3, 0.2), (math.pi, 0.0, 0.0)))
    assert outcome.success, outcome.message
    executed = [entry for entry in world.log if entry[0] == 'execute']
    assert len(executed) == 6 + 3  # five arm stages + home, three gripper motions


def test_execution_modules_import_no_ros():
    code = ('import sys; import kufenet_grasp.execution.pick_sequence, '
            'kufenet_grasp.sim.motion_backend, kufenet_grasp.geometry.gripper; '
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('rclpy', 'moveit', 'geometry_msgs', 'kufenet_msgs')))")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == '[]'
