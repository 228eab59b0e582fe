# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The grasp_executor node over DDS: PickAndPlace with a fake backend and a fake detector."""

from __future__ import annotations

import itertools
import math
import threading
from typing import Any

from builtin_interfaces.msg import Time
from fake_motion import FakeMotionBackend
from geometry_msgs.msg import PoseStamped
from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.execution.outcome import MOTION_STAGES
from kufenet_grasp.geometry.transforms import from_xyz_rpy
from kufenet_grasp.nodes.grasp_executor import GraspExecutorNode
from kufenet_grasp.nodes.qos import output_qos
from kufenet_grasp.nodes.ros_conversions import pose_stamped
from kufenet_msgs.action import PickAndPlace
from kufenet_msgs.msg import GraspRectangle
from kufenet_msgs.srv import DetectGrasps
from node_fixtures import init_ros, Spinner, wait_for
import pytest
from rclpy.action import ActionClient
from rclpy.node import Node
from rclpy.parameter import Parameter

#: starts rclpy nodes and talks over DDS (make test-fast leaves it out)
pytestmark = pytest.mark.ros

PARAMS = {'detect_timeout_s': 0.5, 'max_grasp_age_s': 2.0, 'tcp_offset.xyz': [0.0, 0.0, -0.1],
          'workspace.min_xyz': [0.2, -0.4, 0.0], 'workspace.max_xyz': [0.8, 0.4, 0.6]}
_names = itertools.count()


@pytest.fixture(scope='module')
def spinner():
    init_ros()
    spin = Spinner()
    yield spin
    spin.shutdown()


class Client(Node):
    """Sends PickAndPlace goals and records the feedback."""

    def __init__(self, namespace: str) -> None:
        super().__init__(f'pick_client_{next(_names)}', namespace=namespace)
        self.action = ActionClient(self, PickAndPlace, 'kufenet/pick_and_place')
        self.feedback: list[Any] = []

    def send(self, goal: PickAndPlace.Goal) -> Any:
        assert self.action.wait_for_server(timeout_sec=10.0)
        future = self.action.send_goal_async(goal, feedback_callback=self._on_feedback)
        assert wait_for(future.done, 10.0)
        handle = future.result()
        assert handle.accepted
        return handle

    def _on_feedback(self, msg: Any) -> None:
        self.feedback.append(msg.feedback)

    def result(self, handle: Any, timeout_s: float = 15.0) -> Any:
        future = handle.get_result_async()
        assert wait_for(future.done, timeout_s), 'no result: the executor hung'
        return future.result().result


@pytest.fixture
def setup(spinner):
    """(executor node, fake backend, client) in a fresh namespace."""
    namespace = f'/exec{next(_names)}'
    backend = FakeMotionBackend()
    node = GraspExecutorNode(backend, parameter_defaults=dict(PARAMS), namespace=namespace)
    client = Client(namespace)
    spinner.add(node)
    spinner.add(client)
    # feedback published before the server has matched the client's subscription is lost
    feedback_topic = f'{namespace}/kufenet/pick_and_place/_action/feedback'
    assert wait_for(lambda: node.count_subscribers(feedback_topic) > 0, 10.0)
    yield node, backend, client
    node.set_parameters([Parameter('auto_pick', value=False)])
    assert wait_for(lambda: not node._busy.locked(), 10.0)
    for n in (client, node):
        spinner.remove(n)
        n.destroy_node()


def stamp_of(node: Node, age_s: float = 0.0) -> Time:
    ns = node.get_clock().now().nanoseconds - int(age_s * 1e9)
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def grasp_msgs(node: Node, x: float = 0.5, frame: str = 'base_link', age_s: float = 0.1,
               quality: float = 0.9) -> tuple[GraspRectangle, PoseStamped]:
    stamp = stamp_of(node, age_s)
    pose = pose_stamped(from_xyz_rpy((x, 0.0, 0.05), (math.pi, 0.0, 0.2)), frame, stamp)
    rect = GraspRectangle(center_x=48.0, center_y=48.0, angle=0.2, opening_px=20.0,
                          jaw_px=10.0, quality=quality, width_m=0.04, depth_m=0.7)
    rect.header.stamp = stamp
    rect.header.frame_id = 'camera_color_optical_frame'
    return rect, pose


def explicit_goal(node: Node, **kwargs: Any) -> PickAndPlace.Goal:
    rect, pose = grasp_msgs(node, **kwargs)
    return PickAndPlace.Goal(use_grasp=True, grasp=rect, grasp_pose=pose)


def test_explicit_grasp_succeeds_and_feedback_names_each_stage_in_order(setup):
    node, backend, client = setup
    handle = client.send(explicit_goal(node))
    # rclpy drops feedback that arrives after the result: ask for the result after "home"
    assert wait_for(lambda: 'home' in [f.stage for f in client.feedback], 10.0)
    result = client.result(handle)
    assert result.success and result.status.code == GraspStatus.OK, result.status.message
    assert result.failed_stage == ''
    assert result.grasp_pose_used.header.frame_id == 'base_link'
    assert result.grasp_pose_used.pose.position.x == pytest.approx(0.5)
    assert result.grasp_used.quality == pytest.approx(0.9)
    stages = [f.stage for f in client.feedback]
    assert stages == ['checking', 'planning', *MOTION_STAGES]
    progress = [f.progress for f in client.feedback]
    assert progress == sorted(progress) and progress[-1] < 1.0
    assert backend.executed[-1] == 'home'


def test_out_of_workspace_grasp_is_refused_with_no_motion(setup):
    node, backend, client = setup
    result = client.result(client.send(explicit_goal(node, x=0.95)))
    assert result.status.code == GraspStatus.OUT_OF_WORKSPACE and not result.success
    assert backend.executed == [] and backend.gripper_commands == []


def test_stale_grasp_is_refused(setup):
    node, backend, client = setup
    result = client.result(client.send(explicit_goal(node, age_s=10.0)))
    assert result.status.code == GraspStatus.STALE_DATA and 'old' in result.status.message
    assert backend.executed == []


def test_pose_in_another_frame_is_tf_failed(setup):
    node, backend, client = setup
    result = client.result(client.send(explicit_goal(node, frame='camera_color_optical_frame')))
    assert result.status.code == GraspStatus.TF_FAILED
    assert 'camera_color_optical_frame' in result.status.message
    assert backend.executed == []


def test_cancel_mid_pick_returns_home_cancelled(setup):
    node, backend, client = setup
    backend.block_stage = 'lift'
    handle = client.send(explicit_goal(node))
    assert wait_for(lambda: 'lift' in [f.stage for f in client.feedback], 10.0)
    cancel = handle.cancel_goal_async()
    assert wait_for(cancel.done, 10.0)
    result = client.result(handle)
    assert result.status.code == GraspStatus.CANCELLED and result.failed_stage == 'lift'
    assert backend.executed[-1] == 'home' and 'move_to_place' not in backend.executed


def test_no_detector_service_gives_no_data_and_never_hangs(setup):
    _, backend, client = setup
    result = client.result(client.send(PickAndPlace.Goal(use_grasp=False)), timeout_s=10.0)
    assert result.status.code == GraspStatus.NO_DATA
    assert 'detect_grasps' in result.status.message
    assert backend.executed == []


class FakeDetector(Node):
    """Serves kufenet/detect_grasps with a scripted response (or never in time)."""

    def __init__(self, namespace: str, respond: Any) -> None:
        super().__init__(f'fake_detector_{next(_names)}', namespace=namespace)
        self.respond = respond
        self.requests: list[Any] = []
        self.release = threading.Event()
        self.served = threading.Event()
        self.create_service(DetectGrasps, 'kufenet/detect_grasps', self._serve)

    def _serve(self, request: Any, response: Any) -> Any:
        self.requests.append(request)
        try:
            return self.respond(self, response)
        finally:
            self.served.set()


def with_detector(spinner, node, respond):
    detector = FakeDetector(node.get_namespace(), respond)
    spinner.add(detector)
    return detector


def test_detected_grasps_are_tried_best_first(spinner, setup):
    node, _, client = setup

    def respond(det, response):
        for x, quality in ((0.45, 0.5), (0.55, 0.8)):
            rect, pose = grasp_msgs(node, x=x, quality=quality)
            response.grasps.grasps.append(rect)
            response.poses.append(pose)
        return response

    detector = with_detector(spinner, node, respond)
    try:
        result = client.result(client.send(PickAndPlace.Goal(use_grasp=False)))
        assert result.success, result.status.message
        assert result.grasp_pose_used.pose.position.x == pytest.approx(0.55)
        assert detector.requests[0].max_grasps == 3
    finally:
        spinner.remove(detector)
        detector.destroy_node()


def test_detector_status_and_silence_are_reported(spinner, setup):
    node, backend, client = setup

    def no_grasp(det, response):
        response.status.code = int(GraspStatus.NO_GRASP)
        response.status.message = 'nothing above threshold'
        return response

    detector = with_detector(spinner, node, no_grasp)
    result = client.result(client.send(PickAndPlace.Goal(use_grasp=False)))
    assert result.status.code == GraspStatus.NO_GRASP
    assert 'nothing above threshold' in result.status.message
    spinner.remove(detector)
    detector.destroy_node()

    def silent(det, response):
        det.release.wait(10.0)  # answers only after the executor gave up
        return response

    detector = with_detector(spinner, node, silent)
    try:
        result = client.result(client.send(PickAndPlace.Goal(use_grasp=False)))
        assert result.status.code == GraspStatus.TIMEOUT
        assert 'detect_timeout_s' in result.status.message
        assert backend.executed == []
    finally:
        detector.release.set()
        assert wait_for(detector.served.is_set, 10.0)
        spinner.remove(detector)
        detector.destroy_node()


def _count_calls(node: Node, topic: str) -> list[Any]:
    """Messages ``node``'s subscription to ``topic`` has handled from now on (its callback ran)."""
    handled: list[Any] = []
    subscription = next(sub for sub in node.subscriptions
                        if sub.topic_name == node.resolve_topic_name(topic))
    callback = subscription.callback

    def counted(msg: Any) -> None:
        callback(msg)
        handled.append(msg)

    subscription.callback = counted
    return handled


def test_auto_pick_starts_a_pick_on_a_fresh_grasp(spinner, setup):
    node, backend, _ = setup
    publisher = Node(f'grasp_pub_{next(_names)}', namespace=node.get_namespace())
    rect_pub = publisher.create_publisher(GraspRectangle, 'kufenet/grasp', output_qos())
    pose_pub = publisher.create_publisher(PoseStamped, 'kufenet/grasp_pose', output_qos())
    spinner.add(publisher)
    try:
        assert wait_for(lambda: pose_pub.get_subscription_count() > 0, 5.0)

        def publish():
            rect, pose = grasp_msgs(node)
            rect_pub.publish(rect)
            pose_pub.publish(pose)

        handled = _count_calls(node, 'kufenet/grasp_pose')
        # auto_pick is false: once the executor has handled a pose, nothing moves (published
        # again until one arrives: the first may precede the subscriber's side of the match)
        for _ in range(50):
            publish()
            if wait_for(lambda: handled, 0.2):
                break
        assert handled and not node._auto_pending and backend.executed == []
        node.set_parameters([Parameter('auto_pick', value=True)])
        for _ in range(50):
            publish()
            if wait_for(lambda: 'home' in backend.executed, 0.2):
                break
        assert backend.executed[-1] == 'home'
        node.set_parameters([Parameter('auto_pick', value=False)])
    finally:
        spinner.remove(publisher)
        publisher.destroy_node()


def test_standalone_backends_explain_what_is_missing(spinner):
    with pytest.raises(RuntimeError, match='sim_world'):
        GraspExecutorNode(parameter_defaults={'motion_backend': 'sim'},
                          namespace=f'/exec{next(_names)}')
    with pytest.raises(RuntimeError, match='moveit_py is not installed'):
        GraspExecutorNode(namespace=f'/exec{next(_names)}')
    with pytest.raises(ValueError, match='unknown parameter'):
        GraspExecutorNode(FakeMotionBackend(), parameter_defaults={'speed': 1.0},
                          namespace=f'/exec{next(_names)}')


def test_invalid_parameter_change_is_refused(setup):
    node, _, _ = setup
    result = node.set_parameters([Parameter('workspace.min_xyz', value=[0.9, 0.0, 0.0])])[0]
    assert not result.successful and 'below' in result.reason
    result = node.set_parameters([Parameter('top_k', value=0)])[0]
    assert not result.successful


def test_backend_error_aborts_the_goal_with_execution_failed(setup):
    node, backend, client = setup

    def broken(*args: Any) -> None:
        raise RuntimeError('controller manager unreachable')

    backend.plan_home = broken
    backend.plan_stage = broken
    result = client.result(client.send(explicit_goal(node)))
    assert result.status.code == GraspStatus.EXECUTION_FAILED
    assert 'controller manager unreachable' in result.status.message
    # the node still serves the next goal
    del backend.plan_home, backend.plan_stage
    assert client.result(client.send(explicit_goal(node))).success
