# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""grasp_detector lifecycle transitions over the lifecycle services.

No processing while inactive; configure fails on corrupt or mismatched weights; a slow model
drops frames.
"""

from kufenet_grasp.geometry.gripper import load_gripper
from kufenet_grasp.nodes.grasp_detector import GraspDetectorNode
from kufenet_msgs.msg import GraspRectangle, GraspStatus
from kufenet_msgs.srv import DetectGrasps
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from node_fixtures import (
    call_service,
    detector_graph,
    DETECTOR_PARAMS,
    FakeCamera,
    oracle_factory,
    OracleBackend,
    wait_for,
    wait_outcome,
)
import pytest
import rclpy

#: starts rclpy nodes and talks over DDS (make test-fast leaves it out)
pytestmark = pytest.mark.ros

MANUAL = {**DETECTOR_PARAMS, 'autostart': False}


@pytest.fixture(scope='module')
def graph():
    with detector_graph({'/lc/kufenet/grasp': GraspRectangle}, namespace='lc', params=MANUAL,
                        wait_active=False) as nodes:
        collector = nodes.collector
        clients = {
            'change': collector.create_client(ChangeState, '/lc/grasp_detector/change_state'),
            'get': collector.create_client(GetState, '/lc/grasp_detector/get_state'),
            'detect': collector.create_client(DetectGrasps, '/lc/kufenet/detect_grasps'),
        }
        yield nodes.camera, nodes.detector, collector, nodes.spinner, clients


def _state(collector, clients) -> int:
    return call_service(collector, clients['get'], GetState.Request()).current_state.id


def _transition(collector, clients, transition_id: int) -> bool:
    request = ChangeState.Request()
    request.transition.id = transition_id
    return call_service(collector, clients['change'], request).success


def _frames_pass(camera, count: int) -> bool:
    """Wait until the camera has sent ``count`` more frames: the window of a no-output check."""
    start = camera.sent
    return wait_for(lambda: camera.sent >= start + count, 10.0 + count)


def test_lifecycle_transitions_and_no_output_while_inactive(graph):
    camera, detector, collector, _, clients = graph
    assert _state(collector, clients) == State.PRIMARY_STATE_UNCONFIGURED
    assert _transition(collector, clients, Transition.TRANSITION_CONFIGURE)
    assert _state(collector, clients) == State.PRIMARY_STATE_INACTIVE
    # configured but inactive: the service exists and answers NOT_READY
    response = call_service(collector, clients['detect'], DetectGrasps.Request())
    assert response.status.code == GraspStatus.NOT_READY
    assert _frames_pass(camera, 5)
    assert collector.count('/lc/kufenet/grasp') == 0
    assert _transition(collector, clients, Transition.TRANSITION_ACTIVATE)
    assert _state(collector, clients) == State.PRIMARY_STATE_ACTIVE
    assert wait_for(lambda: collector.count('/lc/kufenet/grasp') > 0, 10.0)

    assert _transition(collector, clients, Transition.TRANSITION_DEACTIVATE)
    assert _state(collector, clients) == State.PRIMARY_STATE_INACTIVE
    assert collector.count_subscribers('/lc/color/image_raw') == 0
    assert _frames_pass(camera, 2)  # a grasp published just before deactivating arrives
    processed = detector.stats.snapshot().frames_processed
    collector.clear()
    assert _frames_pass(camera, 10)
    assert collector.count('/lc/kufenet/grasp') == 0, 'grasps published while inactive'
    assert detector.stats.snapshot().frames_processed == processed

    assert _transition(collector, clients, Transition.TRANSITION_ACTIVATE)
    assert wait_for(lambda: collector.count('/lc/kufenet/grasp') > 0, 10.0)
    assert _transition(collector, clients, Transition.TRANSITION_DEACTIVATE)
    assert _transition(collector, clients, Transition.TRANSITION_CLEANUP)
    assert _state(collector, clients) == State.PRIMARY_STATE_UNCONFIGURED
    assert not detector.stats.model_loaded
    assert _transition(collector, clients, Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
    assert _state(collector, clients) == State.PRIMARY_STATE_FINALIZED


def test_corrupt_weights_make_configure_fail(graph, tmp_path):
    bad = tmp_path / 'corrupt.safetensors'
    bad.write_bytes(b'\x08\x00\x00\x00\x00\x00\x00\x00not json and not tensors')
    detector = GraspDetectorNode('corrupt_detector', parameter_defaults={
        **MANUAL, 'weights': str(bad), 'backend': 'torch'})
    try:
        assert detector.trigger_configure() == \
            rclpy.lifecycle.TransitionCallbackReturn.FAILURE
        assert detector.configure_error and str(bad.name) in detector.configure_error
        assert not detector.stats.model_loaded and not detector.active
    finally:
        detector.destroy_node()


def test_model_that_does_not_match_input_size_makes_configure_fail(graph):
    detector = GraspDetectorNode(
        'mismatch_detector', parameter_defaults=MANUAL,
        backend_factory=lambda name, source, size, threads: OracleBackend(size // 2))
    try:
        assert detector.trigger_configure() == \
            rclpy.lifecycle.TransitionCallbackReturn.FAILURE
        assert 'input_size' in detector.configure_error
    finally:
        detector.destroy_node()


def test_the_gripper_file_gives_the_finger_check_and_its_defaults(graph):  # rclpy is up
    detector = GraspDetectorNode('robotiq_detector', backend_factory=oracle_factory,
                                 parameter_defaults={**MANUAL, 'gripper_config': 'robotiq_2f85'})
    try:
        # the openings and fingers the file gives are the defaults of the gripper.* parameters
        assert detector.param('gripper.max_width_m') == 0.085
        assert detector.param('gripper.finger_width_m') == 0.022
        assert detector.trigger_configure() == rclpy.lifecycle.TransitionCallbackReturn.SUCCESS
        # the finger check and the markers use that file
        assert detector._processor.gripper == load_gripper('robotiq_2f85')
    finally:
        detector.destroy_node()


@pytest.mark.parametrize('gripper, words', [
    ('no_such_gripper', ["unknown gripper 'no_such_gripper'", 'robotiq_2f85']),
    ('/nonexistent/hand.yaml', ['/nonexistent/hand.yaml', 'does not exist']),
])
def test_an_unknown_gripper_makes_configure_fail_in_one_line(graph, gripper, words):
    detector = GraspDetectorNode('bad_gripper_detector', backend_factory=oracle_factory,
                                 parameter_defaults={**MANUAL, 'gripper_config': gripper})
    try:
        assert detector.trigger_configure() == \
            rclpy.lifecycle.TransitionCallbackReturn.FAILURE
        reason = detector.configure_error
        assert reason and '\n' not in reason and all(w in reason for w in words), reason
        assert not detector.active
        # the node keeps running: its service answers why it is not ready
        response = detector._on_detect_grasps(DetectGrasps.Request(), DetectGrasps.Response())
        assert response.status.code == GraspStatus.NOT_READY
        assert 'gripper' in response.status.message, response.status.message
    finally:
        detector.destroy_node()


def test_real_backend_with_a_tiny_random_preset_processes_frames(graph):
    _, _, _, spinner, _ = graph
    camera = FakeCamera('tiny_camera', namespace='tiny')
    detector = GraspDetectorNode('grasp_detector', namespace='tiny', parameter_defaults={
        **DETECTOR_PARAMS, 'weights': 'kufenet-15k', 'backend': 'torch', 'input_size': 32})
    for node in (camera, detector):
        spinner.add(node)
    try:
        assert wait_for(lambda: detector.stats.snapshot().frames_processed >= 2, 30.0), \
            detector.configure_error
        processed = (GraspStatus.OK, GraspStatus.NO_GRASP)
        outcome = wait_outcome(detector, lambda outcome: outcome.code in processed, 10.0)
        assert outcome.code in processed, outcome.summary
    finally:
        for node in (camera, detector):
            spinner.remove(node)
            node.destroy_node()


class SlowOracle(OracleBackend):
    """The oracle, slower than the camera: after warm-up, each inference lasts 3 frames.

    It holds until ``camera`` has sent three more frames (a model slower than its input,
    whatever the machine's speed), or 10 s.
    """

    def __init__(self, size: int, camera: FakeCamera) -> None:
        super().__init__(size)
        self.camera = camera

    def infer(self, x):
        if self.calls > 0:
            sent = self.camera.sent
            wait_for(lambda: self.camera.sent >= sent + 3, 10.0)
        return super().infer(x)


def test_slow_model_drops_frames_and_processes_the_newest(graph):
    _, _, _, spinner, _ = graph
    camera = FakeCamera('slow_camera', namespace='slow', rate_hz=20.0)
    detector = GraspDetectorNode(
        namespace='slow', parameter_defaults=DETECTOR_PARAMS,
        backend_factory=lambda name, source, size, threads: SlowOracle(size, camera))
    for node in (camera, detector):
        spinner.add(node)
    try:
        assert wait_for(lambda: detector.stats.snapshot().frames_processed >= 3, 20.0)
        snap = detector.stats.snapshot()
        assert snap.frames_dropped > 0
        assert snap.frames_processed + snap.frames_dropped <= snap.frames_received
        assert snap.frames_processed < snap.frames_received
    finally:
        for node in (camera, detector):
            spinner.remove(node)
            node.destroy_node()
