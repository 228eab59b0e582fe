# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Camera-independent network input: support plane, metric window, range depth, input spec."""

import functools
import math

from kufenet_grasp.detection.detector import DetectorConfig, GraspDetector
from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.support_plane import fit_support_plane, SupportPlane
from kufenet_grasp.grasp import model_input
from kufenet_grasp.grasp.model_input import (
    choose_window,
    flatten_support,
    InputSpec,
    InputWindow,
    LEGACY_INPUT,
    METRIC_INPUT,
    prepare_input,
    range_to_z,
    shift_window,
)
from kufenet_grasp.grasp.preprocess import (
    apply_crop,
    CropTransform,
    make_crop,
    MAX_CROP_SIDES,
    normalise_rgbd,
)
import numpy as np
import pytest
from scene_raycast import look_at, render_depth

CAMERA = PinholeCamera(520.0, 520.0, 319.5, 239.5, 640, 480)
BOX = (-0.03, -0.02, 0.03, 0.02, 0.04)  # 6 x 4 cm, 4 cm tall, on the table at the origin


def _frame(distance_m, tilt_deg, boxes=(BOX,), camera=CAMERA):
    eye, rotation = look_at(distance_m, tilt_deg)
    depth = render_depth(camera, eye, rotation, boxes)
    rgb = np.full(depth.shape + (3,), 120, np.uint8)
    return rgb, depth


def _box_pixels(depth_with, depth_without):
    """Pixels where the box hides the table."""
    return np.abs(depth_with - depth_without) > 0.005


@pytest.mark.parametrize('distance_m, tilt_deg',
                         [(0.3, 0.0), (0.6, 25.0), (1.0, 45.0), (1.5, 50.0)])
def test_plane_fit_measures_the_box_height_at_any_camera_pose(distance_m, tilt_deg):
    _, depth = _frame(distance_m, tilt_deg)
    plane, fraction = fit_support_plane(depth)
    assert plane is not None and fraction > 0.8
    assert plane.tilt_deg(CAMERA) == pytest.approx(tilt_deg, abs=1.0)
    ys, xs = np.mgrid[0:depth.shape[0], 0:depth.shape[1]].astype(float)
    heights = plane.height_m(depth, xs, ys, CAMERA)
    _, table_only = _frame(distance_m, tilt_deg, boxes=())
    box = _box_pixels(depth, table_only)
    assert box.sum() > 20
    tops = heights[box]
    # the box's top face (4 cm) dominates what the camera sees of it; sides lie in between
    assert np.percentile(tops, 90) == pytest.approx(0.04, abs=0.003)
    table = np.abs(heights[~box & np.isfinite(depth)])
    assert np.percentile(table, 99.5) < 0.001 and table.max() < 0.005  # box base edges


def test_plane_fit_survives_depth_noise_and_holes():
    _, depth = _frame(1.1, 45.0)
    rng = np.random.default_rng(3)
    noisy = depth + rng.normal(0.0, 0.003, depth.shape).astype(np.float32)
    noisy[rng.random(depth.shape) < 0.2] = np.nan
    plane, _ = fit_support_plane(noisy)
    assert plane is not None
    assert plane.tilt_deg(CAMERA) == pytest.approx(45.0, abs=2.0)


def test_a_large_box_face_in_front_of_the_table_is_not_the_support():
    big = (-0.12, -0.1, 0.12, 0.1, 0.15)  # its top face fills much of a near camera's view
    _, depth = _frame(0.55, 0.0, boxes=(big,))
    plane, _ = fit_support_plane(depth)
    assert plane is not None
    assert float(plane.depth_m(5.0, 5.0)) == pytest.approx(0.55, abs=0.01)  # the table


def test_no_dominant_plane_is_reported_not_invented():
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.3, 1.2, (120, 160)).astype(np.float32)  # clutter with no surface
    plane, fraction = fit_support_plane(depth)
    assert plane is None and 0.0 <= fraction < 0.3
    window = choose_window(depth, METRIC_INPUT, 64, PinholeCamera(150, 150, 79.5, 59.5, 160,
                                                                  120))
    assert window.support == 'none'
    assert any('no support plane' in note for note in window.notes)


def test_plane_fit_needs_enough_valid_pixels():
    depth = np.full((50, 50), np.nan, np.float32)
    depth[0, :5] = 0.5
    assert fit_support_plane(depth) == (None, 0.0)
    with pytest.raises(ValueError, match='H×W'):
        fit_support_plane(np.zeros(5))


def test_absurd_depths_take_no_part_in_the_plane_fit():
    _, depth = _frame(0.6, 25.0, boxes=())
    corrupt = depth.copy()
    corrupt[::2, ::2] = 1e30  # a quarter of the pixels corrupt; float32 squares overflow
    with np.errstate(all='raise'):
        plane, fraction = fit_support_plane(corrupt)
    clean, _ = fit_support_plane(depth)
    assert plane is not None and fraction > 0.9
    rows, cols = np.mgrid[0:480:40, 0:640:40]
    assert np.allclose(plane.depth_m(cols, rows), clean.depth_m(cols, rows), rtol=1e-3)


def test_range_to_z_undoes_the_distance_along_each_ray():
    _, depth = _frame(0.8, 30.0)
    ys, xs = np.mgrid[0:480, 0:640].astype(np.float32)
    ranges = depth * np.sqrt(1 + ((xs - CAMERA.cx) / CAMERA.fx) ** 2
                             + ((ys - CAMERA.cy) / CAMERA.fy) ** 2)
    np.testing.assert_allclose(range_to_z(ranges, CAMERA), depth, rtol=1e-5, equal_nan=True)


def _box_width_in_input_px(distance_m, tilt_deg=0.0, spec=METRIC_INPUT):
    rgb, depth = _frame(distance_m, tilt_deg)
    prepared = prepare_input(rgb, depth, spec, 224, CAMERA)
    column = prepared.x[0][112]  # the row through the box centre
    return int((column < column.max() - 0.5 * np.ptp(column)).sum()), prepared


def test_metric_window_shows_an_object_at_the_same_size_from_0_3_to_1_5_m():
    distances = (0.3, 0.6, 1.0, 1.5)
    widths = [_box_width_in_input_px(d)[0] for d in distances]
    for distance, width in zip(distances, widths):
        # the box is 4 cm across the image rows; its top face is 4 cm nearer than the table
        expected = 0.04 / METRIC_INPUT.window_m * 224 * distance / (distance - 0.04)
        assert width == pytest.approx(expected, abs=2), widths
    legacy = [_box_width_in_input_px(d, spec=LEGACY_INPUT)[0] for d in (0.3, 1.5)]
    assert legacy[0] > 3 * legacy[1]  # without it, size follows the distance


def test_flattened_depth_does_not_show_the_camera_tilt():
    _, straight = _box_width_in_input_px(0.7, 0.0)
    _, tilted = _box_width_in_input_px(0.7, 45.0)
    for prepared in (straight, tilted):
        depth_channel = prepared.x[0]
        table = np.concatenate([depth_channel[:20].ravel(), depth_channel[-20:].ravel()])
        assert np.ptp(table) < 0.01  # the table is flat in the input, tilted or not
        assert prepared.window.support == 'plane'
    # the box stands 4 cm above the table in both
    for prepared in (straight, tilted):
        channel = prepared.x[0]
        assert channel.min() == pytest.approx(np.median(channel) - 0.04, abs=0.004)


@pytest.mark.parametrize('hole_value', [0.0, -1.0, np.inf])
def test_depth_holes_written_as_zero_or_negative_make_the_same_input_as_nan(hole_value):
    # a 16UC1 driver writes 0 where it measured nothing; read as 0 m the support flattening
    # made such holes into objects as tall as the camera is high
    rgb, depth = _frame(1.0, 45.0)
    holes = np.random.default_rng(5).random(depth.shape) < 0.1
    as_nan = np.where(holes, np.nan, depth).astype(np.float32)
    written = np.where(holes, hole_value, depth).astype(np.float32)
    expected = prepare_input(rgb, as_nan, METRIC_INPUT, 224, CAMERA)
    got = prepare_input(rgb, written, METRIC_INPUT, 224, CAMERA)
    assert got.window.crop == expected.window.crop and got.window.support == 'plane'
    np.testing.assert_array_equal(got.x, expected.x)
    _, cropped = apply_crop(rgb, written, expected.window.crop)
    assert np.isnan(cropped).sum() > 100 and not (cropped <= 0).any()


def test_legacy_spec_is_todays_crop_and_normalisation():
    rgb, depth = _frame(0.6, 20.0)
    rgb = np.random.default_rng(1).integers(0, 255, rgb.shape, dtype=np.uint8)
    prepared = prepare_input(rgb, depth, LEGACY_INPUT, 224)
    crop = make_crop(depth.shape, 224, 'center')
    expected = normalise_rgbd(*apply_crop(rgb, depth, crop))
    assert prepared.window.crop == crop and prepared.window.support == 'off'
    np.testing.assert_array_equal(prepared.x, expected)


def test_each_window_s_median_depth_is_taken_once(monkeypatch):
    # without a plane the window is sized from a median, then from the median in that
    # window: when the size does not change, the same window's median is not taken again
    windows = []
    median = model_input._median_depth

    def counted(depth, crop):
        windows.append(crop)
        return median(depth, crop)

    monkeypatch.setattr(model_input, '_median_depth', counted)
    _, depth = _frame(1.0, 45.0)
    spec = InputSpec(window_m=0.4, support_plane=False)
    window = choose_window(depth, spec, 224, CAMERA)
    assert len(windows) == len(set(windows)) == 2
    assert window.crop in windows
    assert window.reference_depth_m == pytest.approx(median(depth, window.crop))


def test_metric_window_without_intrinsics_falls_back_to_pixels_and_says_so():
    rgb, depth = _frame(0.6, 0.0)
    prepared = prepare_input(rgb, depth, METRIC_INPUT, 224, camera=None)
    assert prepared.window.crop == make_crop(depth.shape, 224, 'center')
    assert any('no camera intrinsics' in note for note in prepared.window.notes)


def test_a_window_larger_than_the_image_is_padded_with_the_support():
    rgb, depth = _frame(0.3, 0.0, camera=PinholeCamera(300, 300, 159.5, 119.5, 320, 240))
    prepared = prepare_input(rgb, depth, InputSpec(window_m=0.6, support_plane=True), 224,
                             PinholeCamera(300, 300, 159.5, 119.5, 320, 240))
    assert prepared.window.crop.side > 320
    corner = prepared.x[0][:5, :5]
    assert np.all(np.isfinite(corner)) and np.ptp(corner) < 1e-6  # plane level, not holes


@pytest.mark.parametrize('support_m', [0.02, 0.0005])
def test_a_support_nearer_than_the_window_fits_gets_a_clamped_window_and_a_note(support_m):
    # a wrist camera against an object, or depth in kilometres: 0.5 m at 0.5 mm would be a
    # window of 520,000 px a side (a terabyte of padding)
    rgb = np.full((480, 640, 3), 120, np.uint8)
    depth = np.full((480, 640), support_m, np.float32)
    prepared = prepare_input(rgb, depth, InputSpec(window_m=0.5, support_plane=True), 224,
                             CAMERA)
    assert prepared.window.crop.side == MAX_CROP_SIDES * 640
    assert prepared.x.shape == (4, 224, 224)
    assert any('window clamped' in note for note in prepared.window.notes)
    far = prepare_input(rgb, np.full((480, 640), 0.6, np.float32), METRIC_INPUT, 224, CAMERA)
    assert not any('clamped' in note for note in far.window.notes)


def test_a_pixel_window_wider_than_the_crop_limit_is_clamped_and_noted():
    # a region of interest of a million pixels a side, pixel-crop (legacy) weights
    rgb, depth = np.full((48, 64, 3), 120, np.uint8), np.full((48, 64), 0.6, np.float32)
    prepared = prepare_input(rgb, depth, LEGACY_INPUT, 32, side_px=1_000_000)
    assert prepared.window.crop.side == MAX_CROP_SIDES * 64
    assert any('region of interest' in note and 'clamped' in note
               for note in prepared.window.notes)


def test_input_spec_round_trips_and_refuses_what_it_does_not_know():
    assert InputSpec.from_dict(METRIC_INPUT.to_dict()) == METRIC_INPUT
    assert InputSpec.from_dict({}) is LEGACY_INPUT and InputSpec.from_dict(None).is_legacy
    with pytest.raises(ValueError, match='unknown fields'):
        InputSpec.from_dict({'window_m': 0.4, 'tiles': 3})
    with pytest.raises(ValueError, match='format'):
        InputSpec.from_dict({'format': 'kufenet-input/99'})
    with pytest.raises(ValueError, match='window_m'):
        InputSpec(window_m=-1.0)
    with pytest.raises(ValueError, match='min_plane_inliers'):
        InputSpec(min_plane_inliers=2.0)


def _top_grasp_maps(x):
    """Map frames to grasp maps whose best peak lies on the highest point of the depth channel."""
    quality = np.clip(-(x[0, 0] - x[0, 0].max()) * -10.0 + 1.0, 0.0, 1.0)
    maps = np.zeros((1, 4) + x.shape[2:], np.float32)
    maps[0, 0] = quality
    maps[0, 1] = 1.0
    maps[0, 3] = 0.2
    return maps


def test_detector_reports_the_support_and_respects_the_roi():
    rgb, depth = _frame(0.8, 30.0)
    detector = GraspDetector(_top_grasp_maps, DetectorConfig(input_spec=METRIC_INPUT,
                                                             quality_threshold=0.5))
    result = detector.detect(rgb, depth, CAMERA)
    assert result.support == 'plane' and result.plane_inliers > 0.5
    # the width fit measures the object's span against the same fitted support
    stream = detector.start(rgb, depth, CAMERA)
    assert stream.plane is not None
    assert stream.plane.tilt_deg(CAMERA) == pytest.approx(30.0, abs=1.0)
    roi = GraspDetector(_top_grasp_maps, DetectorConfig(input_spec=METRIC_INPUT,
                                                        quality_threshold=0.5,
                                                        roi_px=(0.0, 0.0, 100.0, 100.0)))
    far = roi.detect(rgb, depth, CAMERA)
    assert not far.grasps and 'outside the region of interest' in far.rejected
    rng = np.random.default_rng(0)
    clutter = rng.uniform(0.3, 1.2, depth.shape).astype(np.float32)
    fallback = detector.detect(rgb, clutter, CAMERA)
    assert fallback.support == 'none' and 'no support plane' in fallback.message


def test_range_depth_needs_intrinsics_in_the_detector():
    rgb, depth = _frame(0.6, 0.0)
    detector = GraspDetector(_top_grasp_maps, DetectorConfig(depth_is_range=True))
    result = detector.detect(rgb, depth, None)
    assert result.status.name == 'BAD_INPUT' and 'range' in result.message
    with pytest.raises(ValueError, match='roi_px'):
        DetectorConfig(roi_px=(10.0, 10.0, 5.0, 20.0))
    assert math.isfinite(detector.detect(rgb, depth, CAMERA).plane_inliers)


def test_weights_carry_their_input_spec(tmp_path):
    from kufenet_grasp.models.registry import build_model
    from kufenet_grasp.models.weights import (
        input_spec_of,
        read_metadata,
        save_weights,
        WeightsError,
    )

    model = build_model('kufenet-15k')
    save_weights(model, tmp_path / 'metric.safetensors', input_spec=METRIC_INPUT.to_dict())
    save_weights(model, tmp_path / 'legacy.safetensors')
    assert input_spec_of(read_metadata(tmp_path / 'metric.safetensors')) == METRIC_INPUT
    assert input_spec_of(read_metadata(tmp_path / 'legacy.safetensors')).is_legacy
    save_weights(model, tmp_path / 'bad.safetensors', input_spec={'window_m': 0.4, 'x': 1})
    with pytest.raises(WeightsError, match='input_spec|unknown fields'):
        read_metadata(tmp_path / 'bad.safetensors')


def test_map_dataset_makes_the_metric_input_from_the_sample_intrinsics(tmp_path):
    from dataset_fixtures import write_cornell_fixture
    from kufenet_grasp.data.cornell import CornellDataset
    from kufenet_grasp.data.torch_dataset import GraspMapDataset

    write_cornell_fixture(tmp_path, n_images=2)
    data = CornellDataset(tmp_path)
    sample = data[0]
    assert sample.depth_is_range and sample.camera is not None
    metric = GraspMapDataset(data, input_size=64, input_spec=METRIC_INPUT)
    legacy = GraspMapDataset(data, input_size=64, crop_side=100)
    z = range_to_z(sample.depth, sample.camera)
    plane_or_median = np.nanmedian(z)
    side = metric.crop_transform(0).side
    assert side == pytest.approx(0.4 * sample.camera.fx / plane_or_median, rel=0.15)
    assert legacy.crop_transform(0).side == 100
    x, y, _ = metric[0]
    assert tuple(x.shape) == (4, 64, 64) and bool(np.isfinite(x.numpy()).all())


def test_eval_crop_px_refuses_bad_values_in_one_line(capsys):
    from kufenet_grasp.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(['eval', 'w.safetensors', '--dataset', 'cornell:x', '--crop-px', 'four'])
    assert exit_info.value.code == 2
    assert 'expected a whole number of pixels' in capsys.readouterr().err


def test_a_bowl_shaped_depth_distortion_is_flattened_too():
    rgb, depth = _frame(0.9, 30.0)
    ys, xs = np.mgrid[0:480, 0:640].astype(np.float32)
    bowl = 0.015 * (((xs - 320) / 320) ** 2 + ((ys - 240) / 240) ** 2)  # up to 3 cm
    prepared = prepare_input(rgb, depth + bowl, METRIC_INPUT, 224, CAMERA)
    channel = prepared.x[0]
    border = np.concatenate([channel[:8].ravel(), channel[-8:].ravel(), channel[:, :8].ravel(),
                             channel[:, -8:].ravel()])
    assert np.ptp(border) < 0.003  # the table is flat in the input again, not bent by 3 cm
    assert channel.min() == pytest.approx(np.median(channel) - 0.04, abs=0.006)


def test_bend_depth_adds_a_smooth_surface_and_keeps_holes():
    from kufenet_grasp.data.augment import bend_depth

    depth = np.full((64, 64), 0.6, np.float32)
    depth[10, 10] = np.nan
    bent = bend_depth(depth, np.random.default_rng(0), amplitude_m=0.02)
    assert np.isnan(bent[10, 10]) and 0 < np.nanmax(np.abs(bent - 0.6)) <= 2.5 * 0.02
    assert np.nanmax(np.abs(np.diff(bent, axis=1))) < 0.002  # smooth: no step between pixels
    np.testing.assert_array_equal(bend_depth(depth, np.random.default_rng(0), 0.0)[11:],
                                  depth[11:])
    with pytest.raises(ValueError):
        bend_depth(depth, np.random.default_rng(0), -1.0)


def test_camera_sweep_renders_a_cell_and_scores_weights(tmp_path, monkeypatch):
    from kufenet_grasp.models.registry import build_model
    from kufenet_grasp.models.weights import save_weights
    from kufenet_grasp.sim.datagen import DatagenConfig
    from kufenet_grasp.training import camera_sweep
    from kufenet_grasp.training.camera_sweep import markdown_table, run_sweep, SweepCell

    # the cell's scene at 96 px with 8 grasp candidates instead of 400 px and 64: the same
    # render, label and evaluation path in a fraction of the time
    monkeypatch.setattr(camera_sweep, 'DatagenConfig',
                        functools.partial(DatagenConfig, size=96, max_candidates=8))
    weights = tmp_path / 'random.safetensors'
    save_weights(build_model('kufenet-15k'), weights, input_spec=METRIC_INPUT.to_dict())
    seen = []
    results = run_sweep([str(weights)], tmp_path / 'sweep', scenes=1,
                        cells=[SweepCell(0.6, 25.0)], on_cell=lambda *a: seen.append(a))
    cell = results[str(weights)]['d0.60_t25']
    assert cell['n_images'] == 1 and 0.0 <= cell['accuracy'] <= 1.0 and len(seen) == 1
    assert (tmp_path / 'sweep' / 'd0.60_t25' / 'test').is_dir()
    table = markdown_table(results, str(weights))
    assert '| 0.6 m |' in table and '25°' in table
    # the same cell again (already rendered), its image also detected and executed
    executed = run_sweep([str(weights)], tmp_path / 'sweep', scenes=1,
                         cells=[SweepCell(0.6, 25.0)], execute=True)
    cell = executed[str(weights)]['d0.60_t25']
    assert cell['held'] in (0, 1) and cell['no_grasp'] in (0, 1) and len(cell['held_ci95']) == 2
    assert cell['held'] + cell['no_grasp'] <= 1
    assert '| 0.6 m |' in markdown_table(executed, str(weights), 'held')
    with pytest.raises(ValueError):
        markdown_table(executed, str(weights), 'quality')


def test_interpolated_weights_lie_between_their_parents(tmp_path, capsys):
    from kufenet_grasp.cli.main import main
    from kufenet_grasp.models.registry import build_model
    from kufenet_grasp.models.weights import load_weights, save_weights
    import torch

    torch.manual_seed(0)
    save_weights(build_model('kufenet-15k'), tmp_path / 'a.safetensors')
    save_weights(build_model('kufenet-15k'), tmp_path / 'b.safetensors',
                 input_spec=METRIC_INPUT.to_dict())
    assert main(['interpolate', str(tmp_path / 'a.safetensors'), str(tmp_path / 'b.safetensors'),
                 '--alpha', '0.25', '--out', str(tmp_path / 'mix.safetensors')]) == 0
    (a, _), (b, _), (mix, meta) = (load_weights(tmp_path / f'{n}.safetensors')
                                   for n in ('a', 'b', 'mix'))
    key = next(k for k, v in a.state_dict().items() if v.is_floating_point() and v.numel() > 4)
    expected = 0.75 * a.state_dict()[key] + 0.25 * b.state_dict()[key]
    torch.testing.assert_close(mix.state_dict()[key], expected)
    assert meta.input_spec == METRIC_INPUT.to_dict() and 'interpolated' in meta.extra
    save_weights(build_model('kufenet-80k'), tmp_path / 'c.safetensors')
    assert main(['interpolate', str(tmp_path / 'a.safetensors'), str(tmp_path / 'c.safetensors'),
                 '--alpha', '0.5', '--out', str(tmp_path / 'bad.safetensors')]) == 2
    assert 'not the same architecture' in capsys.readouterr().err


@pytest.mark.parametrize('curvature', [(0.0, 0.0, 0.0), (0.02, -0.05, 0.03), (0.01, 0.0, 0.0)])
def test_inverse_depth_on_broadcast_axes_is_the_pointwise_surface(curvature):
    plane = SupportPlane(2e-4, -3e-4, 0.9, 1.0, curvature, 640.0)
    xs = np.linspace(-40.0, 700.0, 37)
    ys = np.linspace(-25.0, 510.0, 23)
    grid_x, grid_y = np.meshgrid(xs, ys)
    expected = plane.inverse_depth(grid_x, grid_y)
    grid = plane.inverse_depth(xs[None, :], ys[:, None], np.float32)
    assert grid.shape == (23, 37) and grid.dtype == np.float32
    np.testing.assert_allclose(grid, expected, rtol=1e-6)


@pytest.mark.parametrize('with_camera', [True, False])
def test_flattened_depth_is_reference_minus_height_above_the_plane(with_camera):
    small = PinholeCamera(300, 300, 159.5, 119.5, 320, 240)
    rgb, depth = _frame(0.4, 35.0, camera=small)
    depth[100:140, 150:200] = np.nan  # a hole stays a hole
    camera = small if with_camera else None
    window = choose_window(depth, InputSpec(window_m=0.6, support_plane=True), 224, small)
    assert window.plane is not None and window.crop.x0 < 0  # larger than the image
    _, depth_in = apply_crop(rgb, depth, window.crop)
    out = flatten_support(depth_in, window, depth.shape, camera)
    # the definition, pixel by pixel on the source grid of the crop
    u = (np.arange(224) + 0.5) / window.crop.scale - 0.5
    xs, ys = np.meshgrid(u + window.crop.x0, u + window.crop.y0)
    expected = window.reference_depth_m - window.plane.height_m(depth_in, xs, ys, camera)
    expected[~(expected > 0)] = np.nan
    outside = (xs < -0.5) | (ys < -0.5) | (xs > 319.5) | (ys > 239.5)
    expected[outside] = window.reference_depth_m
    assert out.dtype == np.float32
    assert np.array_equal(np.isnan(out), np.isnan(expected)) and np.isnan(out).any()
    np.testing.assert_allclose(out, expected, atol=2e-6, equal_nan=True)


def _middle(window):
    crop = window.crop
    return np.array([crop.x0 + (crop.side - 1) / 2.0, crop.y0 + (crop.side - 1) / 2.0])


@pytest.mark.parametrize('distance_m, tilt_deg', [(1.0, 0.0), (0.8, 35.0)])
def test_a_window_on_objects_centres_what_stands_on_the_support(distance_m, tilt_deg):
    on_objects = InputSpec(window_m=METRIC_INPUT.window_m, support_plane=True, on_objects=True)
    box = (0.10, -0.03, 0.16, 0.03, 0.05)  # 13 cm from the point the camera looks at
    eye, rotation = look_at(distance_m, tilt_deg)
    depth = render_depth(CAMERA, eye, rotation, (box,))
    bare = render_depth(CAMERA, eye, rotation, ())
    rows, cols = np.nonzero(_box_pixels(depth, bare))
    box_xy = np.array([cols.mean(), rows.mean()])
    centred = choose_window(depth, METRIC_INPUT, 64, CAMERA)
    moved = choose_window(depth, on_objects, 64, CAMERA)
    side = moved.crop.side
    assert np.linalg.norm(_middle(centred) - box_xy) > 0.25 * side  # the box is off-centre
    assert np.linalg.norm(_middle(moved) - box_xy) < 0.1 * side
    assert moved.support == 'plane' and moved.reference_depth_m == pytest.approx(
        float(moved.plane.depth_m(*_middle(moved))))
    # the side is the window's metres at the support depth under its new centre
    assert side == pytest.approx(METRIC_INPUT.window_m * CAMERA.fx / moved.reference_depth_m,
                                 abs=1.5)
    # False overrides the spec; a table without objects keeps the window where it was
    assert choose_window(depth, on_objects, 64, CAMERA, on_objects=False).crop == centred.crop
    assert choose_window(bare, on_objects, 64, CAMERA).crop == \
        choose_window(bare, METRIC_INPUT, 64, CAMERA).crop


def test_the_window_placement_is_recorded_and_can_be_overridden_from_the_command_line():
    from kufenet_grasp.cli.evaluate import window_on_objects
    from kufenet_grasp.training.config import TrainConfig

    spec = InputSpec(window_m=0.5, support_plane=True, on_objects=True)
    assert InputSpec.from_dict(spec.to_dict()) == spec
    assert not InputSpec.from_dict({'window_m': 0.5}).on_objects  # files written before it
    config = TrainConfig(model='kufenet-15k', dataset='jacquard:x', out='runs/x',
                         window_m=0.5, support_plane=True, window_on_objects=True)
    assert config.input_spec() == spec
    assert [window_on_objects(p) for p in ('weights', 'centre', 'objects')] == \
        [None, False, True]


def test_a_window_without_a_plane_keeps_the_depth_and_fills_the_outside():
    depth = np.full((120, 160), 0.7, np.float32)
    crop = CropTransform(x0=-30, y0=20, side=80, out_size=64)  # columns u < 23.5 outside
    window = InputWindow(crop, None, 'none', 0.0, 0.7)
    depth_in = np.full((64, 64), 0.5, np.float32)
    out = flatten_support(depth_in, window, depth.shape)
    assert np.all(out[:, :23] == np.float32(0.7)) and np.all(out[:, 24:] == np.float32(0.5))


def test_a_shifted_window_keeps_its_scale_and_plane_and_stays_in_the_image():
    _, depth = _frame(0.6, 25.0)
    window = choose_window(depth, METRIC_INPUT, 64, CAMERA)
    assert window.plane is not None
    moved = shift_window(window, depth.shape, 30.0, -20.0)
    assert moved.crop.side == window.crop.side and moved.plane is window.plane
    assert (moved.crop.x0 - window.crop.x0, moved.crop.y0 - window.crop.y0) == (30, -20)
    centre = [v + (moved.crop.side - 1) / 2.0 for v in (moved.crop.x0, moved.crop.y0)]
    assert moved.reference_depth_m == pytest.approx(window.plane.depth_m(*centre))
    assert moved.reference_depth_m != pytest.approx(window.reference_depth_m)  # tilted table
    far = shift_window(window, depth.shape, 1e4, 1e4)
    assert (far.crop.x0, far.crop.y0) == (640 - far.crop.side, 480 - far.crop.side)


def test_window_shift_moves_the_labels_with_the_image_content(tmp_path):
    from dataset_fixtures import write_cornell_fixture
    from kufenet_grasp.data.cornell import CornellDataset
    from kufenet_grasp.data.torch_dataset import GraspMapDataset
    from kufenet_grasp.training.config import ConfigError, TrainConfig

    write_cornell_fixture(tmp_path, n_images=2)
    data = CornellDataset(tmp_path)
    still = {'rotate90': False, 'hflip': False, 'vflip': False, 'zoom_range': (1.0, 1.0)}
    plain = GraspMapDataset(data, input_size=64, input_spec=METRIC_INPUT, augment=True,
                            augment_options=still)
    moved = GraspMapDataset(data, input_size=64, input_spec=METRIC_INPUT, augment=True,
                            augment_options=still, window_shift=0.3)
    base, item = plain.sample(0), moved.sample(0)
    crop = plain.crop_transform(0)
    offsets = []
    for before, after in zip(base.rectangles, item.rectangles):
        offsets.append((before.center[0] - after.center[0], before.center[1] - after.center[1]))
    shift = np.mean(offsets, axis=0)  # model px; the same for every rectangle
    assert np.allclose(offsets, shift, atol=1e-6) and np.abs(shift).max() > 1.0
    dx = round(shift[0] / crop.scale)
    dy = round(shift[1] / crop.scale)
    sample = data[0]
    rgb, _ = apply_crop(sample.rgb, sample.depth,
                        CropTransform(crop.x0 + dx, crop.y0 + dy, crop.side, crop.out_size))
    assert np.array_equal(item.rgb, rgb)  # real content of the moved window, no padding
    moved.set_epoch(1)
    assert moved.sample(0).rectangles[0].center != item.rectangles[0].center
    with pytest.raises(ValueError, match='window_shift'):
        GraspMapDataset(data, input_spec=METRIC_INPUT, window_shift=0.8)
    for option, value in (('window_shift', -0.1), ('colour_jitter', 1.5)):
        with pytest.raises(ConfigError, match=option):
            TrainConfig(model='kufenet-15k', dataset=f'cornell:{tmp_path}', out=str(tmp_path),
                        **{option: value})


def test_coarse_depth_drops_thin_structures_from_the_depth_only(tmp_path):
    from dataset_fixtures import write_cornell_fixture
    from kufenet_grasp.data.augment import coarsen_depth
    from kufenet_grasp.data.cornell import CornellDataset
    from kufenet_grasp.data.torch_dataset import GraspMapDataset
    from kufenet_grasp.training.config import ConfigError, TrainConfig

    depth = np.full((112, 112), 0.60, np.float32)  # 224 px/m: 0.5 m window at 112 px
    depth[20:90, 30:32] = 0.59  # a cable 2 px (0.9 cm) wide, 1 cm high
    depth[40:80, 60:100] = 0.55  # a box 18 cm wide
    depth[5:8, 5:8] = np.nan
    out = coarsen_depth(depth, np.random.default_rng(0), px_per_m=224.0)
    assert out.dtype == np.float32 and out.shape == depth.shape
    assert np.isnan(out[5:8, 5:8]).all() and np.isfinite(out[10:, 10:]).all()
    assert np.abs(out[30:80, 30:32] - 0.60).max() < 0.002  # the cable is gone
    assert out[50:70, 70:90] == pytest.approx(0.55, abs=1e-4)  # the box stays
    again = coarsen_depth(depth, np.random.default_rng(0), px_per_m=224.0)
    assert np.array_equal(out, again, equal_nan=True)
    with pytest.raises(ValueError, match='px_per_m'):
        coarsen_depth(depth, np.random.default_rng(0), px_per_m=0.0)

    write_cornell_fixture(tmp_path, n_images=2)
    data = CornellDataset(tmp_path)
    plain = GraspMapDataset(data, input_size=64, input_spec=METRIC_INPUT, augment=True, seed=3)
    coarse = GraspMapDataset(data, input_size=64, input_spec=METRIC_INPUT, augment=True, seed=3,
                             coarse_depth=1.0)
    a, b = plain.sample(0), coarse.sample(0)
    assert not np.array_equal(a.depth, b.depth, equal_nan=True)
    assert np.array_equal(a.rgb, b.rgb)
    assert [r.center for r in a.rectangles] == [r.center for r in b.rectangles]
    unchanged = GraspMapDataset(data, input_size=64, input_spec=METRIC_INPUT, augment=False,
                                coarse_depth=1.0)
    assert np.array_equal(unchanged.sample(0).depth,
                          GraspMapDataset(data, input_size=64, input_spec=METRIC_INPUT)
                          .sample(0).depth, equal_nan=True)  # evaluation never coarsens
    with pytest.raises(ValueError, match='coarse_depth'):
        GraspMapDataset(data, input_size=64, input_spec=METRIC_INPUT, coarse_depth=1.5)
    with pytest.raises(ValueError, match='metric input'):
        GraspMapDataset(data, input_size=64, coarse_depth=0.5)  # the pixel crop has no scale
    for options in ({'coarse_depth': -0.1, 'window_m': 0.5}, {'coarse_depth': 0.5}):
        with pytest.raises(ConfigError, match='coarse_depth'):
            TrainConfig(model='kufenet-15k', dataset=f'cornell:{tmp_path}', out=str(tmp_path),
                        **options)


def test_label_margin_widens_the_scored_labels_as_it_widens_the_targets(tmp_path, capsys):
    from dataset_fixtures import write_cornell_fixture
    from kufenet_grasp.cli.main import main
    from kufenet_grasp.data.cornell import CornellDataset
    from kufenet_grasp.data.torch_dataset import GraspMapDataset
    from kufenet_grasp.grasp.maps import WIDTH_SCALE_PX
    from kufenet_grasp.models.registry import build_model
    from kufenet_grasp.models.weights import save_weights
    import json

    write_cornell_fixture(tmp_path / 'data', n_images=2)
    data = CornellDataset(tmp_path / 'data')
    plain = GraspMapDataset(data, input_size=64, input_spec=METRIC_INPUT)
    wide = GraspMapDataset(data, input_size=64, input_spec=METRIC_INPUT, label_margin_m=0.02)
    extra_px = 0.02 * 64 / METRIC_INPUT.window_m
    for before, after in zip(plain.ground_truth(0), wide.ground_truth(0)):
        assert after.opening == pytest.approx(before.opening + extra_px)
        assert (after.center, after.angle, after.jaw) == (before.center, before.angle,
                                                          before.jaw)
    target_width_px = float(wide[0][1][3].max()) * WIDTH_SCALE_PX  # what training fits
    assert target_width_px == pytest.approx(max(r.opening for r in wide.ground_truth(0)),
                                            rel=1e-4)

    weights = tmp_path / 'metric.safetensors'
    save_weights(build_model('kufenet-15k'), weights, input_spec=METRIC_INPUT.to_dict())
    dataset = f'cornell:{tmp_path / "data"}'
    assert main(['eval', str(weights), '--dataset', dataset, '--json',
                 '--label-margin-m', '0.02']) == 0
    assert json.loads(capsys.readouterr().out)['label_margin_m'] == 0.02
    with pytest.raises(SystemExit):
        main(['eval', str(weights), '--dataset', dataset, '--label-margin-m', '0.5'])
    assert 'must be in [0, 0.2] m' in capsys.readouterr().err
    save_weights(build_model('kufenet-15k'), tmp_path / 'legacy.safetensors')
    assert main(['eval', str(tmp_path / 'legacy.safetensors'), '--dataset', dataset,
                 '--label-margin-m', '0.02']) == 2
    assert 'metric input' in capsys.readouterr().err
    for path in (weights, tmp_path / 'legacy.safetensors'):  # the fixture is 640x480
        assert main(['eval', str(path), '--dataset', dataset, '--crop-px', '481']) == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith('wider than the images (640x480 px): the central window must lie '
                            'inside them (at most 480)') and '\n' not in err
    assert main(['eval', str(weights), '--dataset', dataset, '--crop-px', '480',
                 '--json']) == 0
    assert json.loads(capsys.readouterr().out)['crop_px'] == 480
