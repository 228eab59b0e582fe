# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The ROS-free GraspDetector on analytic scenes with a fake network that knows the answer."""

from __future__ import annotations

from kufenet_grasp.common.status import GraspStatus, STATUS_MEANINGS
from kufenet_grasp.detection.detector import DetectorConfig, GraspDetector, make_infer_fn
from kufenet_grasp.detection.validation import check_age, check_frame_ids
from kufenet_grasp.geometry.grasp_pose import grasp_pose_in_camera
from kufenet_grasp.grasp.maps import rasterise_grasps
from kufenet_grasp.grasp.preprocess import make_crop
from kufenet_grasp.grasp.rectangle import GraspRectangle
import numpy as np
import pytest
from test_geometry_scene import BoxScene, CAMERA, straight_down, tilted

SIZE = 224


def scene_frame(t_base_cam):
    """RGB, depth and the known grasp (full-res px) on the box's top, across its short side."""
    scene = BoxScene()
    depth = scene.render_depth(CAMERA, t_base_cam)
    rgb = np.zeros(depth.shape + (3,), np.uint8)
    rgb[..., 1] = np.clip(depth * 200, 0, 255).astype(np.uint8)
    t_cam_base = t_base_cam.inverse()
    a, b = CAMERA.project(t_cam_base.apply(np.stack([
        scene.top_centre, scene.top_centre + 0.01 * scene.short_axis])))
    angle = float(np.arctan2(-(b - a)[1], (b - a)[0]))
    rect = GraspRectangle((float(a[0]), float(a[1])), angle, opening=48.0, jaw=24.0)
    return scene, rgb, depth, rect


def fake_network(rect_image_px: GraspRectangle, image_hw=(480, 640), mode='center'):
    """Return an infer_fn returning the maps of ``rect_image_px`` as a perfect network would."""
    crop = make_crop(image_hw, SIZE, mode)
    maps = rasterise_grasps([crop.rect_to_model(rect_image_px)], (SIZE, SIZE))[None]
    seen = []

    def infer(x: np.ndarray) -> np.ndarray:
        assert x.shape == (1, 4, SIZE, SIZE) and x.dtype == np.float32
        seen.append(x)
        return maps.copy()
    infer.seen = seen
    return infer


def angle_diff(a: float, b: float) -> float:
    d = (a - b + np.pi / 2) % np.pi - np.pi / 2
    return abs(d)


@pytest.mark.parametrize('mode', ['center', 'full'])
def test_known_rectangle_is_found_at_full_resolution(mode):
    t = straight_down(0.6)
    scene, rgb, depth, rect = scene_frame(t)
    infer = fake_network(rect, mode=mode)
    config = DetectorConfig(crop_mode=mode, width_margin_m=0.01)
    result = GraspDetector(infer, config).detect(rgb, depth, CAMERA)
    assert result.status == GraspStatus.OK, result.message
    assert len(infer.seen) == 1 and np.isfinite(infer.seen[0]).all()
    best = result.grasps[0].rect_image_px
    # peaks sit on whole network pixels: 480/224 = 2.1 px (center), 640/224 = 2.9 px (full)
    tolerance = 2.0 if mode == 'center' else 640 / SIZE
    assert np.hypot(*np.subtract(best.center, rect.center)) <= tolerance
    assert angle_diff(best.angle, rect.angle) < np.radians(3)
    assert best.opening == pytest.approx(rect.opening, abs=2.0 / (SIZE / 480) + 1)
    assert set(result.timings_ms) == {'preprocess', 'infer', 'postprocess'}
    grasp = result.grasps[0]
    assert grasp.depth_m == pytest.approx(0.6 - scene.size[2], abs=1e-3)
    # 48 px across the box top at 0.56 m, plus the 1 cm margin
    assert grasp.width_m == pytest.approx(48 * 0.56 / 600 + 0.01, abs=0.003)


@pytest.mark.parametrize('t_base_cam', [straight_down(0.6), tilted(30.0, 0.6)],
                         ids=['straight_down', 'tilted_30'])
def test_grasp_pose_lands_on_the_box_in_the_base_frame(t_base_cam):
    scene, rgb, depth, rect = scene_frame(t_base_cam)
    result = GraspDetector(fake_network(rect)).detect(rgb, depth, CAMERA)
    assert result.status == GraspStatus.OK, result.message
    pose_base = t_base_cam.compose(result.grasps[0].pose_camera)
    assert np.linalg.norm(pose_base.translation - scene.top_centre) < 0.01
    y_axis, z_axis = pose_base.rotation[:, 1], pose_base.rotation[:, 2]
    assert np.allclose(z_axis, t_base_cam.rotation[:, 2])
    assert abs(y_axis @ scene.short_axis) > np.cos(np.radians(30)) - 0.02
    # the detected closing axis is the one of the known rectangle (within 3 degrees)
    ideal = t_base_cam.compose(grasp_pose_in_camera(rect, result.grasps[0].depth_m, CAMERA))
    assert abs(y_axis @ ideal.rotation[:, 1]) > np.cos(np.radians(3))


def test_size_mismatch_is_bad_input_with_alignment_hint():
    _, rgb, depth, rect = scene_frame(straight_down())
    result = GraspDetector(fake_network(rect)).detect(rgb, depth[:, :600], None)
    assert result.status == GraspStatus.BAD_INPUT
    assert 'aligned_depth_to_color/image_raw' in result.message
    assert 'align_depth.enable:=true' in result.message


def test_intrinsics_of_another_size_are_bad_input():
    _, rgb, depth, rect = scene_frame(straight_down())
    result = GraspDetector(fake_network(rect)).detect(rgb, depth, CAMERA.scaled(0.5))
    assert result.status == GraspStatus.BAD_INPUT and 'camera info' in result.message


def test_all_nan_depth_is_no_data():
    _, rgb, depth, rect = scene_frame(straight_down())
    infer = fake_network(rect)
    result = GraspDetector(infer).detect(rgb, np.full_like(depth, np.nan), CAMERA)
    assert result.status == GraspStatus.NO_DATA and 'NaN' in result.message
    assert infer.seen == []  # the network is not run on an unusable frame


def nan_disc(depth, centre, radius):
    out = depth.copy()
    v, u = np.mgrid[0:depth.shape[0], 0:depth.shape[1]]
    out[np.hypot(u - centre[0], v - centre[1]) <= radius] = np.nan
    return out


def test_nan_at_grasp_centre_uses_nearby_depth():
    scene, rgb, depth, rect = scene_frame(straight_down())
    holed = nan_disc(depth, rect.center, 2.5)
    config = DetectorConfig(depth_search_radius_px=5)
    result = GraspDetector(fake_network(rect), config).detect(rgb, holed, CAMERA)
    assert result.status == GraspStatus.OK, result.message
    assert result.grasps[0].depth_m == pytest.approx(0.6 - scene.size[2], abs=1e-3)


def test_no_depth_near_grasp_centre_is_rejected():
    _, rgb, depth, rect = scene_frame(straight_down())
    holed = nan_disc(depth, rect.center, 15)
    config = DetectorConfig(depth_search_radius_px=5)
    result = GraspDetector(fake_network(rect), config).detect(rgb, holed, CAMERA)
    assert result.status == GraspStatus.NO_GRASP
    assert result.grasps == [] and result.rejected == {'no valid depth near the grasp centre': 1}


def test_grasp_wider_than_gripper_is_rejected():
    _, rgb, depth, rect = scene_frame(straight_down())
    config = DetectorConfig(max_width_m=0.03)
    result = GraspDetector(fake_network(rect), config).detect(rgb, depth, CAMERA)
    assert result.status == GraspStatus.NO_GRASP and 'wider than the gripper' in result.message


def test_without_camera_info_gives_pixel_grasps_only():
    _, rgb, depth, rect = scene_frame(straight_down())
    result = GraspDetector(fake_network(rect)).detect(rgb, depth, None)
    assert result.status == GraspStatus.OK and 'no camera info' in result.message
    assert result.grasps[0].pose_camera is None and result.grasps[0].width_m is None
    assert np.hypot(*np.subtract(result.grasps[0].rect_image_px.center, rect.center)) <= 2


def test_empty_maps_give_no_grasp_and_bad_shape_raises():
    _, rgb, depth, _ = scene_frame(straight_down())
    zeros = GraspDetector(lambda x: np.zeros_like(x)).detect(rgb, depth, CAMERA)
    assert zeros.status == GraspStatus.NO_GRASP
    with pytest.raises(ValueError, match='infer_fn returned shape'):
        GraspDetector(lambda x: x[:, :, :10]).detect(rgb, depth, CAMERA)


def test_config_validation():
    with pytest.raises(ValueError, match='crop_mode'):
        DetectorConfig(crop_mode='left')
    with pytest.raises(ValueError, match='depth_range_m'):
        DetectorConfig(depth_range_m=(2.0, 1.0))
    with pytest.raises(ValueError, match='max_width_m'):
        DetectorConfig(min_width_m=0.1, max_width_m=0.05)
    with pytest.raises(TypeError, match='callable'):
        GraspDetector('model')


def test_make_infer_fn_runs_a_torch_module():
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torch.nn.Conv2d(4, 4, 1)
    infer = make_infer_fn(model, input_size=32, threads=1)
    x = np.random.default_rng(0).standard_normal((1, 4, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert np.allclose(infer(x), expected, atol=1e-5)
    with pytest.raises(TypeError, match='nn.Module'):
        make_infer_fn(object())


def test_validation_helpers_and_status_meanings():
    assert check_age(10.0, 10.2, 0.5) == []
    stale = check_age(10.0, 11.0, 0.5)
    assert stale[0].status == GraspStatus.STALE_DATA and '1.000 s old' in stale[0].message
    assert check_frame_ids('cam_color', 'cam_color') == []
    mismatch = check_frame_ids('cam_color_optical_frame', 'cam_depth_optical_frame')
    assert mismatch[0].status == GraspStatus.BAD_INPUT
    assert 'aligned_depth_to_color/image_raw' in mismatch[0].message
    assert set(STATUS_MEANINGS) == set(GraspStatus)
    assert GraspStatus.TIMEOUT.meaning == 'a wait exceeded its timeout parameter'


def test_core_modules_import_no_ros():
    import subprocess
    import sys

    code = ('import sys; import kufenet_grasp.detection.detector, '
            'kufenet_grasp.geometry.calibration, kufenet_grasp.runtime.image_encoding, '
            'kufenet_grasp.runtime.frame_sync; '
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('rclpy', 'rosidl_runtime_py', 'sensor_msgs', 'geometry_msgs')))")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == '[]'


def test_best_grasp_is_handed_out_before_the_other_candidates_are_measured(monkeypatch):
    from kufenet_grasp.bench.stages import grasp_stage_inputs, synthetic_frame
    from kufenet_grasp.detection import detector as detector_module

    table = synthetic_frame()[1]
    detector, maps, crop, scene, camera = grasp_stage_inputs(224, table)
    events: list = []
    measure = detector_module._to_metric

    def logged(*args):
        events.append('measure')
        return measure(*args)

    monkeypatch.setattr(detector_module, '_to_metric', logged)
    stream = detector.stream_from_maps(maps, crop, scene, camera)
    best = next(iter(stream))
    assert events == ['measure']  # the best one alone was measured
    result = stream.result()
    assert events == ['measure'] * 5 and len(result.grasps) == 5 and result.grasps[0] is best
    # no grasp passes on the bare table (the fingers would land on it)
    events.clear()
    stream = detector.stream_from_maps(maps, crop, table, camera)
    assert list(stream) == [] and events == ['measure'] * 5
    assert sum(stream.result().rejected.values()) == 5
    _, grasps, rejected = detector.grasps_from_maps(maps, crop, table, camera)
    assert not grasps and sum(rejected.values()) == 5
