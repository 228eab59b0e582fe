# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Node helpers without a running graph.

Parameters and YAML config, latest-only worker, markers, diagnostics, QoS, conversions.
"""

import math
import pathlib
import threading
import types

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus
from kufenet_grasp.geometry.transforms import from_xyz_quat, from_xyz_rpy
from kufenet_grasp.grasp.rectangle import GraspRectangle
from kufenet_grasp.nodes import detector_params
from kufenet_grasp.nodes.diagnostics import DetectorStats, diagnostic_array
from kufenet_grasp.nodes.markers import grasp_marker_array
from kufenet_grasp.nodes.qos import input_qos
from kufenet_grasp.nodes.ros_conversions import grasp_to_msg, pose_to_transform, transform_to_pose
from kufenet_grasp.runtime.latest_worker import LatestWorker, RateBudget
from node_fixtures import init_ros, wait_for
import numpy as np
import pytest
import rclpy
from rclpy.node import Node
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from visualization_msgs.msg import Marker
import yaml

#: starts rclpy nodes and talks over DDS (make test-fast leaves it out)
pytestmark = pytest.mark.ros

ROOT = pathlib.Path(__file__).resolve().parents[1]
PRESETS = sorted((ROOT / 'config' / 'presets').glob('*.yaml'))
CONFIGS = [ROOT / 'config' / 'detector.yaml', *PRESETS]


def _flatten(tree: dict, prefix: str = '') -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f'{prefix}{key}.'))
        else:
            out[f'{prefix}{key}'] = value
    return out


@pytest.mark.parametrize('path', CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_files_only_set_known_valid_parameters(path):
    data = yaml.safe_load(path.read_text())
    assert list(data) == ['/**/grasp_detector']
    params = _flatten(data['/**/grasp_detector']['ros__parameters'])
    unknown = set(params) - set(detector_params.SPECS) - {'use_sim_time'}
    assert not unknown, f'{path.name}: unknown parameters {sorted(unknown)}'
    for name, value in params.items():
        assert detector_params.validate(name, value, params) is None, (name, value)


def test_detector_yaml_holds_every_default_but_the_gripper_files():
    params = _flatten(yaml.safe_load(CONFIGS[0].read_text())['/**/grasp_detector']
                      ['ros__parameters'])
    assert set(params) == set(detector_params.SPECS) - set(detector_params.FROM_GRIPPER_FILE)
    for name, value in params.items():
        assert value == detector_params.SPECS[name].default, name


def test_validate_rejects_bad_values_with_a_reason():
    assert 'quality_threshold' in detector_params.validate('quality_threshold', -0.1)
    assert 'one of' in detector_params.validate('backend', 'tensorrt')
    assert 'unit quaternion' in detector_params.validate('static_transform.rotation',
                                                         [0, 0, 0, 2])
    current = {'depth_min_m': 0.1, 'depth_max_m': 2.0}
    assert 'depth_max_m' in detector_params.validate('depth_min_m', 3.0, current)
    assert detector_params.validate('depth_min_m', 0.5, current) is None


def test_parameters_are_declared_with_descriptors_from_a_yaml_file_in_a_namespace(tmp_path):
    params_file = tmp_path / 'params.yaml'
    params_file.write_text(yaml.safe_dump({'/**/grasp_detector': {'ros__parameters': {
        'top_k': 3, 'gripper': {'max_width_m': 0.1}}}}))
    context = rclpy.Context()
    rclpy.init(context=context, args=['--ros-args', '--params-file', str(params_file)])
    try:
        node = Node('grasp_detector', namespace='arm2', context=context)
        detector_params.declare_all(node)
        assert node.get_parameter('top_k').value == 3
        assert node.get_parameter('gripper.max_width_m').value == pytest.approx(0.1)
        descriptor = node.describe_parameter('quality_threshold')
        assert descriptor.floating_point_range[0].to_value == 1.0 and descriptor.description
        assert node.describe_parameter('input_size').read_only
        assert node.describe_parameter('top_k').integer_range[0].from_value == 1
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_latest_worker_drops_stale_items_and_processes_the_newest():
    seen = []
    release = threading.Event()

    def process(item):
        seen.append(item)
        if item == 0:
            release.wait(5.0)

    worker = LatestWorker(process)
    worker.put(0)
    assert wait_for(lambda: bool(seen), 5.0)
    for item in range(1, 6):
        worker.put(item)
    release.set()
    assert wait_for(lambda: len(seen) >= 2, 5.0)
    assert worker.stop()
    assert seen == [0, 5] and worker.dropped == 4


def _passed(budget, times):
    return [t for t in times if budget.allow(t)]


def test_rate_budget_passes_every_second_frame_of_a_jittery_30hz_camera_under_15hz():
    rng = np.random.default_rng(0)
    times = np.arange(300) / 30.0 + rng.normal(0.0, 0.002, 300)  # 10 s, 2 ms jitter
    passed = _passed(RateBudget(15.0), times)
    assert 148 <= len(passed) <= 152  # 15 Hz, not 10 Hz (what a strict period would give)
    assert max(np.diff(passed)) < 0.1  # evenly spread: no long gaps


def test_rate_budget_never_exceeds_the_cap_on_average_and_zero_means_unlimited():
    times = np.arange(0, 10, 1 / 37.5)  # a camera 25% faster than the cap
    assert len(_passed(RateBudget(30.0), times)) <= 30 * 10 + 2
    assert len(_passed(RateBudget(5.0), times)) <= 5 * 10 + 2
    assert len(_passed(RateBudget(0.0), times)) == len(times)
    with pytest.raises(ValueError, match='max_rate_hz'):
        RateBudget(-1.0)


def test_latest_worker_skips_items_over_its_rate_budget_instead_of_delaying_them():
    now = [0.0]
    seen = []
    worker = LatestWorker(seen.append, max_rate_hz=10.0, clock=lambda: now[0])
    for step in range(10):  # 10 items 20 ms apart: 0.2 s at 50 Hz under a 10 Hz cap
        now[0] = 0.02 * step
        worker.put(step)
        assert wait_for(lambda: worker.processed + worker.skipped >= step + 1, 5.0)
    assert worker.stop()
    assert worker.processed + worker.skipped == 10 and worker.dropped == 0
    assert seen[0] == 0 and 2 <= len(seen) <= 4  # 1.5 burst + 0.2 s x 10 Hz


def test_latest_worker_keeps_running_after_an_error():
    errors = []
    done = threading.Event()

    def process(item):
        if item == 'bad':
            raise ValueError('bad frame')
        done.set()

    worker = LatestWorker(process, on_error=errors.append)
    worker.put('bad')
    assert wait_for(lambda: len(errors) == 1, 5.0)  # 'good' must not replace 'bad' unseen
    worker.put('good')
    assert done.wait(5.0) and len(errors) == 1
    assert worker.stop() and not worker.alive


def test_markers_put_the_fingers_on_the_closing_axis_around_the_pose():
    pose = from_xyz_rpy((0.4, 0.1, 0.2), (math.pi, 0.0, 0.3))
    markers = grasp_marker_array([(pose, 0.05)], 'base_link', Time()).markers
    fingers = [m for m in markers if m.type == Marker.CUBE][:2]
    centres = [pose.inverse().apply([m.pose.position.x, m.pose.position.y,
                                     m.pose.position.z]) for m in fingers]
    # in the grasp frame: at y = ±(width/2 + thickness/2), behind the tips (z < 0), x = 0
    assert centres[0][1] == pytest.approx(-centres[1][1]) and abs(centres[0][1]) > 0.025
    assert all(c[2] < 0 and abs(c[0]) < 1e-9 for c in centres)
    arrow = next(m for m in markers if m.type == Marker.ARROW and m.action == Marker.ADD)
    assert arrow.points[1].z > arrow.points[0].z  # the arrow points along +z (approach)


def test_diagnostics_levels():
    stats = DetectorStats()
    snap = stats.snapshot()
    assert diagnostic_array(snap, '/d', Time()).status[0].level == DiagnosticStatus.ERROR
    stats.model_loaded = True
    for i in range(5):
        stats.frame_in(float(i))
        stats.frame_done(float(i), 12.0, '1 grasp(s)', True)
    status = diagnostic_array(stats.snapshot(), '/d', Time()).status[0]
    values = {kv.key: kv.value for kv in status.values}
    assert status.level == DiagnosticStatus.OK and values['detection rate (Hz)'] == '1.00'
    assert float(values['latency (ms)']) == pytest.approx(12.0)


def test_diagnostics_split_a_frames_time_into_age_and_work_to_the_first_grasp():
    stats = DetectorStats()
    stats.model_loaded = True
    stats.frame_done(0.0, 20.0, '2 grasp(s)', True, 'plane', first_grasp_ms=11.0,
                     frame_age_ms=6.0)
    stats.frame_done(1.0, 18.0, 'no grasp', True, 'plane', first_grasp_ms=None,
                     frame_age_ms=8.0)  # a frame without a grasp has no first-grasp time
    values = {kv.key: kv.value
              for kv in diagnostic_array(stats.snapshot(), '/d', Time()).status[0].values}
    assert float(values['time to first grasp (ms)']) == pytest.approx(11.0)
    assert float(values['frame age at start (ms)']) == pytest.approx(7.0)
    assert float(values['latency (ms)']) == pytest.approx(19.0)


def test_input_qos():
    assert input_qos('best_effort').reliability == ReliabilityPolicy.BEST_EFFORT
    assert input_qos('reliable', 5).reliability == ReliabilityPolicy.RELIABLE
    with pytest.raises(ValueError, match='input_reliability'):
        input_qos('sometimes')


def test_conversions_round_trip():
    transform = from_xyz_quat((0.1, -0.2, 0.3), (0.0, 0.0, math.sin(0.4), math.cos(0.4)))
    back = pose_to_transform(transform_to_pose(transform))
    assert np.allclose(back.matrix, transform.matrix)
    rect = GraspRectangle((10.0, 20.0), 0.5, 30.0, 10.0, 0.9)
    msg = grasp_to_msg(rect, Header(frame_id='cam'), width_m=0.04, depth_m=None)
    assert (msg.center_x, msg.center_y, msg.angle) == (10.0, 20.0, 0.5)
    assert msg.width_m == 0.04 and math.isnan(msg.depth_m)


def test_node_fixture_ros_init_is_reentrant():
    init_ros()
    init_ros()
    assert rclpy.ok()
    rclpy.try_shutdown()


def test_grasp_message_quality_is_clamped_to_unit_interval() -> None:
    from types import SimpleNamespace

    from kufenet_grasp.nodes.ros_conversions import grasp_to_msg
    from std_msgs.msg import Header

    for raw, expected in ((1.27, 1.0), (-0.2, 0.0), (0.42, 0.42)):
        rect = SimpleNamespace(center=(10.0, 20.0), angle=0.3, opening=30.0, jaw=15.0,
                               quality=raw)
        msg = grasp_to_msg(rect, Header())
        assert abs(msg.quality - expected) < 1e-6


def _stamped_image(stamp_s: float) -> Image:
    msg = Image(height=2, width=2, encoding='16UC1', step=4, data=bytes(8))
    msg.header.stamp = Time(sec=int(stamp_s), nanosec=round((stamp_s % 1) * 1e9))
    msg.header.frame_id = 'camera_color_optical_frame'
    return msg


@pytest.fixture
def stamp_inputs(monkeypatch):
    """Yield CameraInputs on a probe node and the list whose item 0 is its monotonic clock (s)."""
    from kufenet_grasp.nodes import camera_inputs

    init_ros()
    node = Node('stamp_gap_probe')
    clock = [0.0]
    # the module's clock only (patching time.monotonic itself would reach every thread)
    monkeypatch.setattr(camera_inputs, 'time', types.SimpleNamespace(monotonic=lambda: clock[0]))
    try:
        yield camera_inputs.CameraInputs(node, input_qos(), 0.05, lambda *_: None), clock
    finally:
        node.destroy_node()


def test_stamp_gap_does_not_depend_on_which_stream_came_last(stamp_inputs):
    inputs, clock = stamp_inputs
    for k in range(8):  # 10 Hz, depth stamped 1 s behind colour, arriving 1 ms later
        clock[0] = 10.0 + 0.1 * k
        inputs._on_color(_stamped_image(100.0 + 0.1 * k), None)
        clock[0] += 0.001
        if k == 5:
            clock[0] += 0.25  # one depth callback served late
        inputs._on_depth(_stamped_image(99.0 + 0.1 * k), None)
    assert inputs.stamp_gap_s(1.0) == pytest.approx(1.0, abs=0.005)
    clock[0] = 10.8
    inputs._on_color(_stamped_image(100.8), None)  # colour came last: newest stamps 1.1 s apart
    assert inputs.stamp_gap_s(1.0) == pytest.approx(1.0, abs=0.005)
    clock[0] = 12.5
    assert inputs.stamp_gap_s(1.0) is None  # both silent for over 1 s


def test_stamp_gap_uses_the_middleware_arrival_not_the_callback_time(stamp_inputs):
    from rclpy.subscription import Subscription

    inputs, clock = stamp_inputs
    for sub in inputs._subs.values():  # rclpy hands these callbacks the MessageInfo
        assert sub._callback_type == Subscription.CallbackType.WithMessageInfo
    for k in range(6):  # received 1 ms apart; every depth callback served 0.3 s late
        received_ns = 5_000_000_000 + k * 100_000_000
        clock[0] = 10.0 + 0.1 * k
        inputs._on_color(_stamped_image(100.0 + 0.1 * k), {'received_timestamp': received_ns})
        clock[0] += 0.3
        inputs._on_depth(_stamped_image(99.0 + 0.1 * k),
                         {'received_timestamp': received_ns + 1_000_000})
    assert inputs.stamp_gap_s(1.0) == pytest.approx(1.001, abs=1e-6)
