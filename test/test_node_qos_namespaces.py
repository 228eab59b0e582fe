# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Reliable and best-effort cameras both reach grasp_detector.

Two detectors in two namespaces run side by side, each on its own topics and service.
"""

import pathlib

from geometry_msgs.msg import PoseStamped
from kufenet_grasp.nodes.grasp_detector import GraspDetectorNode
from kufenet_msgs.msg import GraspRectangle, GraspStatus
from kufenet_msgs.srv import DetectGrasps
from node_fixtures import (
    call_service,
    Collector,
    DETECTOR_PARAMS,
    FakeCamera,
    init_ros,
    oracle_factory,
    Spinner,
    wait_code,
    wait_for,
)
import pytest
import rclpy
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.qos import ReliabilityPolicy

#: starts rclpy nodes and talks over DDS (make test-fast leaves it out)
pytestmark = pytest.mark.ros

ROOT = pathlib.Path(__file__).resolve().parents[1]
ARMS = {'arm1': ReliabilityPolicy.BEST_EFFORT, 'arm2': ReliabilityPolicy.RELIABLE}


@pytest.fixture(scope='module')
def graph():
    init_ros()
    cameras = {ns: FakeCamera(f'camera_{ns}', namespace=ns, reliability=rel)
               for ns, rel in ARMS.items()}
    cameras['arm2'].enabled = False
    detectors = {ns: GraspDetectorNode(backend_factory=oracle_factory, namespace=ns,
                                       parameter_defaults=DETECTOR_PARAMS) for ns in ARMS}
    collector = Collector({f'/{ns}/kufenet/grasp': GraspRectangle for ns in ARMS})
    nodes = [*cameras.values(), *detectors.values(), collector]
    spinner = Spinner(*nodes)
    assert wait_for(lambda: all(d.active for d in detectors.values()), 10.0)
    yield cameras, detectors, collector
    spinner.shutdown()
    for node in nodes:
        node.destroy_node()
    rclpy.try_shutdown()


def test_each_detector_answers_only_on_its_own_namespace(graph):
    _, detectors, collector = graph
    assert wait_for(lambda: collector.count('/arm1/kufenet/grasp') > 0, 15.0)
    assert collector.count('/arm2/kufenet/grasp') == 0, "arm2 answered arm1's camera"
    client1 = collector.create_client(DetectGrasps, '/arm1/kufenet/detect_grasps')
    client2 = collector.create_client(DetectGrasps, '/arm2/kufenet/detect_grasps')
    assert call_service(collector, client1, DetectGrasps.Request()).status.code == \
        GraspStatus.OK
    assert call_service(collector, client2, DetectGrasps.Request()).status.code == \
        GraspStatus.NO_DATA
    assert detectors['arm1'].resolve_topic_name('color/image_raw') == '/arm1/color/image_raw'


def test_reliable_and_best_effort_publishers_both_reach_the_detector(graph):
    cameras, _, collector = graph
    cameras['arm2'].enabled = True
    assert wait_for(lambda: collector.count('/arm2/kufenet/grasp') > 0, 15.0), \
        'a reliable camera must reach the best-effort subscription'
    assert wait_for(lambda: collector.count('/arm1/kufenet/grasp') > 0, 15.0), \
        'a best-effort camera must reach the best-effort subscription'
    infos = collector.get_publishers_info_by_topic('/arm2/color/image_raw')
    assert infos and infos[0].qos_profile.reliability == ReliabilityPolicy.RELIABLE
    infos = collector.get_publishers_info_by_topic('/arm1/color/image_raw')
    assert infos and infos[0].qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT


def test_reliable_input_parameter_subscribes_reliably():
    init_ros()
    detector = GraspDetectorNode('reliable_detector', namespace='arm3',
                                 backend_factory=oracle_factory,
                                 parameter_defaults={**DETECTOR_PARAMS, 'autostart': False,
                                                     'input_reliability': 'reliable'})
    try:
        detector.trigger_configure()
        detector.trigger_activate()
        infos = detector.get_subscriptions_info_by_topic('/arm3/color/image_raw')
        assert infos and all(i.qos_profile.reliability == ReliabilityPolicy.RELIABLE
                             for i in infos)
        detector.trigger_deactivate()
        assert not detector.get_subscriptions_info_by_topic('/arm3/color/image_raw')
    finally:
        detector.destroy_node()


def test_debug_image_is_not_drawn_without_subscribers(graph):
    _, detectors, _ = graph
    assert wait_for(lambda: detectors['arm1'].stats.snapshot().frames_processed > 3, 10.0)
    assert detectors['arm1'].debug_images_sent == 0


def test_without_any_transform_the_pose_stays_in_the_camera_frame():
    init_ros()
    params = {**DETECTOR_PARAMS, 'static_transform.enabled': False}
    camera = FakeCamera('camera_notf', namespace='notf')
    detector = GraspDetectorNode(backend_factory=oracle_factory, namespace='notf',
                                 parameter_defaults=params)
    collector = Collector({'/notf/kufenet/grasp_pose': PoseStamped}, name='notf_collector')
    spinner = Spinner(camera, detector, collector)
    try:
        assert wait_for(lambda: collector.count('/notf/kufenet/grasp_pose') > 0, 15.0)
        assert detector.pose_frame_source == 'none'
        pose = collector.last('/notf/kufenet/grasp_pose')
        assert pose.header.frame_id == 'camera_color_optical_frame'
        assert pose.pose.position.z == pytest.approx(0.7, abs=0.01)
        # the best pose goes out before the frame's outcome is stored: wait for the outcome
        outcome = wait_code(detector, GraspStatus.OK, 5.0)
        assert any('camera frame' in text for text in outcome.warnings), outcome.summary
    finally:
        spinner.shutdown()
        for node in (camera, detector, collector):
            node.destroy_node()


@pytest.mark.parametrize('base_frame, ok', [('base_link', True), ('world', False)])
def test_calibration_file_sets_the_static_transform(base_frame, ok):
    init_ros()
    calibration = ROOT / 'config' / 'calibration' / 'example_static_mount.yaml'
    detector = GraspDetectorNode(
        f'calib_{base_frame}', backend_factory=oracle_factory,
        parameter_defaults={**DETECTOR_PARAMS, 'autostart': False, 'base_frame': base_frame,
                            'static_transform.calibration_file': str(calibration)})
    try:
        result = detector.trigger_configure()
        assert (result == TransitionCallbackReturn.SUCCESS) == ok, detector.configure_error
        if ok:
            assert detector.pose_frame_source == 'static'
        else:
            assert 'parent_frame' in detector.configure_error
    finally:
        detector.destroy_node()
