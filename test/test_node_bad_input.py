# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Bad camera input never kills grasp_detector nor yields a silent wrong grasp.

After each refused frame, a good frame still gives a grasp.
"""

import math

from kufenet_grasp.nodes.grasp_detector import GraspDetectorNode
from kufenet_msgs.msg import GraspRectangle, GraspStatus
from kufenet_msgs.srv import DetectGrasps
from node_fixtures import (
    call_service,
    Collector,
    detector_graph,
    DETECTOR_PARAMS,
    FakeCamera,
    oracle_factory,
    START_TIMEOUT_S,
    wait_code,
    wait_for,
    wait_for_log,
    wait_outcome,
)
import pytest
from rclpy.parameter import Parameter

#: starts rclpy nodes and talks over DDS (make test-fast leaves it out)
pytestmark = pytest.mark.ros


@pytest.fixture(scope='module')
def graph():
    with detector_graph({'/kufenet/grasp': GraspRectangle}) as nodes:
        yield nodes.camera, nodes.detector, nodes.collector, nodes.spinner


def _wait_code(detector, code, timeout_s=10.0):
    return wait_code(detector, code, timeout_s)


def _good_frame_gives_grasp(camera, detector, collector):
    camera.set_variant()
    outcome = _wait_code(detector, GraspStatus.OK)
    assert outcome.code == GraspStatus.OK, outcome.summary
    collector.clear()
    assert wait_for(lambda: collector.count('/kufenet/grasp') > 0, 10.0)


CASES = [
    ('size mismatch', {'depth_size': (48, 48)}, GraspStatus.BAD_INPUT, 'align_depth.enable'),
    ('colour encoding', {'color_encoding': 'yuv422'}, GraspStatus.BAD_INPUT, 'yuv422'),
    ('depth encoding', {'depth_encoding': 'mono16'}, GraspStatus.BAD_INPUT, '16UC1'),
    ('frame mismatch', {'depth_frame_id': 'camera_depth_optical_frame'},
     GraspStatus.BAD_INPUT, 'aligned_depth_to_color'),
    ('all-NaN depth', {'all_nan_depth': True}, GraspStatus.NO_DATA, 'valid'),
    ('all-zero 16UC1 depth', {'all_nan_depth': True, 'depth_encoding': '16UC1'},
     GraspStatus.NO_DATA, 'valid'),
    ('stale frame', {'stamp_offset_s': -10.0}, GraspStatus.STALE_DATA, 'old'),
]


@pytest.mark.parametrize('case, variant, code, hint', CASES, ids=[c[0] for c in CASES])
def test_bad_frame_is_refused_with_a_reason(graph, case, variant, code, hint):
    camera, detector, collector, _ = graph
    _good_frame_gives_grasp(camera, detector, collector)
    camera.set_variant(**variant)
    outcome = _wait_code(detector, code)
    assert outcome.code == code, f'{case}: got {outcome.code} ({outcome.summary})'
    assert hint in outcome.summary, outcome.summary
    assert not outcome.rects, f'{case}: a refused frame must not yield grasps'
    collector.clear()
    _good_frame_gives_grasp(camera, detector, collector)


def test_stale_frame_makes_the_service_answer_stale_data(graph):
    camera, detector, collector, _ = graph
    client = collector.create_client(DetectGrasps, '/kufenet/detect_grasps')
    camera.set_variant(stamp_offset_s=-10.0)
    _wait_code(detector, GraspStatus.STALE_DATA)
    response = call_service(collector, client, DetectGrasps.Request())
    assert response.status.code == GraspStatus.STALE_DATA, response.status.message
    response = call_service(collector, client, DetectGrasps.Request(max_age_s=60.0))
    assert response.status.code != GraspStatus.STALE_DATA
    _good_frame_gives_grasp(camera, detector, collector)


def test_nan_at_centre_uses_a_valid_neighbour_within_the_radius(graph):
    camera, detector, _, _ = graph
    camera.set_variant(center_hole_px=1)
    outcome = _wait_code(detector, GraspStatus.OK)
    assert outcome.code == GraspStatus.OK, outcome.summary
    assert math.isfinite(outcome.rects[0].depth_m)
    assert outcome.rects[0].depth_m == pytest.approx(0.7, abs=0.01)


def test_nan_at_centre_without_valid_neighbours_is_rejected(graph):
    camera, detector, collector, _ = graph
    detector.set_parameters([Parameter('depth_search_radius_px', value=0)])
    try:
        camera.set_variant(center_hole_px=2)
        outcome = _wait_code(detector, GraspStatus.NO_GRASP)
        assert outcome.code == GraspStatus.NO_GRASP, outcome.summary
        assert 'depth' in outcome.summary and not outcome.poses
    finally:
        detector.set_parameters([Parameter('depth_search_radius_px', value=5)])
    _good_frame_gives_grasp(camera, detector, collector)


def test_out_of_range_parameter_is_rejected_with_a_reason(graph):
    _, detector, _, _ = graph
    result = detector.set_parameters([Parameter('quality_threshold', value=1.5)])[0]
    assert not result.successful and 'quality_threshold' in result.reason
    result = detector.set_parameters([Parameter('depth_min_m', value=5.0)])[0]
    assert not result.successful and 'depth_max_m' in result.reason
    assert detector.get_parameter('depth_min_m').value == DETECTOR_PARAMS['depth_min_m']


def test_missing_camera_info_gives_pixel_grasps_and_a_warning(graph):
    _, _, _, spinner = graph
    camera = FakeCamera('fake_camera_noinfo', namespace='noinfo')
    camera.set_variant(send_info=False)
    detector = GraspDetectorNode(backend_factory=oracle_factory, namespace='noinfo',
                                 parameter_defaults=DETECTOR_PARAMS)
    collector = Collector({'/noinfo/kufenet/grasp': GraspRectangle}, name='noinfo_collector')
    for node in (camera, detector, collector):
        spinner.add(node)
    try:
        assert wait_for(lambda: collector.count('/noinfo/kufenet/grasp') > 0, 15.0)
        grasp = collector.last('/noinfo/kufenet/grasp')
        assert math.isnan(grasp.width_m)
        # the best grasp goes out before the frame's outcome is stored: wait for the outcome
        outcome = _wait_code(detector, GraspStatus.OK, 5.0)
        assert outcome.code == GraspStatus.OK and not outcome.poses, outcome.summary
        assert any('camera_info' in text for text in outcome.warnings)
        camera.set_variant()  # camera_info arrives: metric grasps and poses follow
        posed = wait_outcome(detector, lambda outcome: bool(outcome.poses), 10.0)
        assert posed.poses, posed.summary
        assert math.isfinite(posed.rects[0].width_m)
    finally:
        for node in (camera, detector, collector):
            spinner.remove(node)
            node.destroy_node()


@pytest.mark.parametrize('variant', [{'depth_encoding': '16UC1'}, {'color_encoding': 'bgr8'},
                                     {'color_encoding': 'rgba8'}, {'color_encoding': 'mono8'}],
                         ids=['16UC1 mm', 'bgr8', 'rgba8', 'mono8'])
def test_supported_encodings_give_a_grasp_on_the_box(graph, variant):
    camera, detector, collector, _ = graph
    camera.set_variant(**variant)
    collector.clear()
    wait_for(lambda: collector.count('/kufenet/grasp') > 2, 10.0)
    outcome = _wait_code(detector, GraspStatus.OK)
    assert outcome.code == GraspStatus.OK, outcome.summary
    assert outcome.rects[0].depth_m == pytest.approx(0.7, abs=0.01)
    camera.set_variant()


def test_no_frame_warning_names_the_resolved_topics(graph, capfd):
    _, _, _, spinner = graph
    detector = GraspDetectorNode('quiet_detector', namespace='quiet',
                                 backend_factory=oracle_factory,
                                 parameter_defaults={**DETECTOR_PARAMS,
                                                     'no_frame_warning_s': 0.5})
    spinner.add(detector)
    try:
        assert wait_for(lambda: detector.active, START_TIMEOUT_S)
        found = wait_for_log(capfd, 'no synchronised frame', 10.0)
        assert '/quiet/color/image_raw' in found and '/quiet/depth/image_raw' in found
        assert 'align_depth.enable:=true' in found
    finally:
        spinner.remove(detector)
        detector.destroy_node()
