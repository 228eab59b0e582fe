# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""grasp_executor under the cases an outside probe tries, over DDS with a fake arm.

Poses outside the workspace or not finite, a cancel while the object is lifted, right after
the close and while waiting for the detector, a detector that goes away mid-request, and two
goals at once. Reuses the executor node fixtures of test_node_executor.
"""

from __future__ import annotations

import math
import pathlib
import signal
import subprocess
import sys
import threading
import time

from fake_motion import FakeMotionBackend
from geometry_msgs.msg import PoseStamped
from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.nodes.grasp_executor import GraspExecutorNode
from kufenet_msgs.action import PickAndPlace
from node_fixtures import wait_for
import pytest
from rclpy.action import GoalResponse
from rclpy.parameter import Parameter
from test_node_executor import (  # noqa: F401 -- the fixtures are used by name
    Client,
    explicit_goal,
    FakeDetector,
    PARAMS,
    setup,
    spinner,
)

pytestmark = pytest.mark.ros

HANGING_DETECTOR = pathlib.Path(__file__).resolve().parent / 'ros_helpers' / \
    'hanging_detector.py'


def _goal(node, xyz=(0.5, 0.0, 0.05), quat=None, place=None) -> PickAndPlace.Goal:
    """Return an explicit goal whose grasp (and optional place) pose fields are set raw."""
    goal = explicit_goal(node)
    position = goal.grasp_pose.pose.position
    position.x, position.y, position.z = xyz
    if quat is not None:
        q = goal.grasp_pose.pose.orientation
        q.x, q.y, q.z, q.w = quat
    if place is not None:
        goal.use_place_pose = True
        goal.place_pose = PoseStamped(header=goal.grasp_pose.header)
        goal.place_pose.pose.position.x, goal.place_pose.pose.position.y, \
            goal.place_pose.pose.position.z = place
        q = goal.place_pose.pose.orientation
        q.x, q.y, q.z, q.w = 1.0, 0.0, 0.0, 0.0  # approach axis straight down
    return goal


BAD_POSES = [
    ('grasp beyond x', {'xyz': (0.95, 0.0, 0.05)}, GraspStatus.OUT_OF_WORKSPACE, 'pre_grasp'),
    ('grasp below the floor', {'xyz': (0.5, 0.0, -0.5)}, GraspStatus.OUT_OF_WORKSPACE,
     'outside the workspace'),
    ('grasp 1e300 m away', {'xyz': (1e300, 0.0, 0.05)}, GraspStatus.OUT_OF_WORKSPACE,
     'outside the workspace'),
    ('approach pointing up', {'quat': (0.0, 0.0, 0.0, 1.0)}, GraspStatus.OUT_OF_WORKSPACE,
     'approach axis'),
    ('place outside', {'place': (2.0, 0.0, 0.15)}, GraspStatus.OUT_OF_WORKSPACE,
     'move_to_place'),
    ('grasp x NaN', {'xyz': (math.nan, 0.0, 0.05)}, GraspStatus.BAD_INPUT, 'finite'),
    ('grasp z inf', {'xyz': (0.5, 0.0, math.inf)}, GraspStatus.BAD_INPUT, 'finite'),
    ('quaternion NaN', {'quat': (math.nan, 0.0, 0.0, 1.0)}, GraspStatus.BAD_INPUT, 'finite'),
    ('quaternion zero', {'quat': (0.0, 0.0, 0.0, 0.0)}, GraspStatus.BAD_INPUT, 'unit length'),
    ('quaternion not unit', {'quat': (2.0, 0.0, 0.0, 0.0)}, GraspStatus.BAD_INPUT,
     'unit length'),
    ('place NaN', {'place': (math.nan, 0.3, 0.15)}, GraspStatus.BAD_INPUT, 'place_pose'),
]


@pytest.mark.parametrize('case, fields, code, hint', BAD_POSES, ids=[c[0] for c in BAD_POSES])
def test_bad_goal_poses_are_refused_with_no_motion(setup, case, fields, code,  # noqa: F811
                                                   hint):
    node, backend, client = setup
    result = client.result(client.send(_goal(node, **fields)))
    assert result.status.code == code, result.status.message
    assert hint in result.status.message and not result.success
    assert backend.executed == [] and backend.gripper_commands == []


def test_cancel_while_the_object_is_carried_keeps_it_in_the_gripper(setup):  # noqa: F811
    node, backend, client = setup
    backend.block_stage = 'move_to_place'
    handle = client.send(explicit_goal(node))
    assert wait_for(lambda: ('execute', 'move_to_place') in backend.calls, 10.0)
    assert wait_for(handle.cancel_goal_async().done, 10.0)
    result = client.result(handle)
    assert result.status.code == GraspStatus.CANCELLED, result.status.message
    assert result.failed_stage == 'move_to_place'
    assert backend.executed[-1] == 'home'
    assert len(backend.gripper_commands) == 2, 'the gripper opened with the object in the air'
    assert 'still in the gripper' in result.status.message


class _SlowClose(FakeMotionBackend):
    """Closing the gripper takes until ``release`` is set (a gripper action in progress)."""

    def __init__(self) -> None:
        super().__init__()
        self.closing = threading.Event()
        self.release = threading.Event()

    def set_gripper(self, command: float, wait: bool = True) -> bool:
        if len(self.gripper_commands) == 1:  # the second command closes on the object
            self.closing.set()
            self.release.wait(10.0)
        return super().set_gripper(command, wait)


def test_cancel_during_the_close_releases_in_place_and_backs_out(spinner):  # noqa: F811
    backend = _SlowClose()
    node = GraspExecutorNode(backend, parameter_defaults=dict(PARAMS), namespace='/probe_close')
    client = Client('/probe_close')
    spinner.add(node)
    spinner.add(client)
    try:
        handle = client.send(explicit_goal(node))
        assert backend.closing.wait(10.0)
        assert wait_for(handle.cancel_goal_async().done, 10.0)
        backend.release.set()
        result = client.result(handle)
        assert result.status.code == GraspStatus.CANCELLED, result.status.message
        assert backend.executed == ['pre_grasp', 'approach', 'retreat', 'home']
        assert 'backed out to the pre-grasp pose' in result.status.message
    finally:
        backend.release.set()
        for n in (client, node):
            spinner.remove(n)
            n.destroy_node()


def _waiting_detector(spinner, node):  # noqa: F811
    detector = FakeDetector(node.get_namespace(), lambda det, response: (
        det.release.wait(20.0), response)[1])
    spinner.add(detector)
    return detector


def test_cancel_while_waiting_for_the_detector_ends_cancelled_at_once(spinner,  # noqa: F811
                                                                      setup):  # noqa: F811
    node, backend, client = setup
    node.set_parameters([Parameter('detect_timeout_s', value=30.0)])
    detector = _waiting_detector(spinner, node)
    try:
        started = time.monotonic()
        handle = client.send(PickAndPlace.Goal(use_grasp=False))
        assert wait_for(lambda: detector.requests, 10.0)
        assert wait_for(handle.cancel_goal_async().done, 10.0)
        result = client.result(handle, timeout_s=20.0)
        assert result.status.code == GraspStatus.CANCELLED, result.status.message
        assert time.monotonic() - started < 25.0  # not the 30 s detect_timeout_s
        assert backend.executed == []
    finally:
        detector.release.set()
        spinner.remove(detector)
        detector.destroy_node()


def test_a_detector_that_goes_away_mid_request_is_named(setup):  # noqa: F811
    node, backend, client = setup
    node.set_parameters([Parameter('detect_timeout_s', value=5.0)])
    detector = subprocess.Popen([sys.executable, str(HANGING_DETECTOR), node.get_namespace()],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert detector.stdout.readline().strip() == 'ready'
        assert wait_for(node._detect.service_is_ready, 30.0)
        handle = client.send(PickAndPlace.Goal(use_grasp=False))
        assert detector.stdout.readline().strip() == 'request'
        detector.send_signal(signal.SIGINT)  # the detector stops while answering
        detector.wait(30.0)
        result = client.result(handle, timeout_s=90.0)  # detect_timeout_s, on a busy machine
        assert result.status.code == GraspStatus.TIMEOUT, result.status.message
        assert 'the service has gone meanwhile' in result.status.message
        assert backend.executed == []
    finally:
        detector.kill()
        detector.wait(10.0)


def test_two_goals_at_once_accept_exactly_one(setup):  # noqa: F811
    node, backend, client = setup
    # the goal callbacks of two simultaneous goals may both run before either executes
    assert node._on_goal(explicit_goal(node)) == GoalResponse.ACCEPT
    assert node._on_goal(explicit_goal(node)) == GoalResponse.REJECT
    node._busy.release()  # the first "goal" never ran: give its reservation back

    backend.block_stage = 'lift'
    futures = [client.action.send_goal_async(explicit_goal(node)) for _ in range(2)]
    assert wait_for(lambda: all(f.done() for f in futures), 10.0)
    handles = [f.result() for f in futures]
    assert sorted(h.accepted for h in handles) == [False, True]
    running = next(h for h in handles if h.accepted)
    assert wait_for(running.cancel_goal_async().done, 10.0)
    assert client.result(running).status.code == GraspStatus.CANCELLED
    backend.block_stage = ''
    assert client.result(client.send(explicit_goal(node))).success  # free again


def test_a_success_after_a_failed_pick_on_the_same_node_gets_its_result(setup):  # noqa: F811
    node, backend, client = setup
    backend.fail_execute = {'approach'}
    failed = client.result(client.send(explicit_goal(node)))
    assert failed.status.code == GraspStatus.EXECUTION_FAILED, failed.status.message
    backend.fail_execute = set()
    result = client.result(client.send(explicit_goal(node)))
    assert result.success and result.status.code == GraspStatus.OK, result.status.message
