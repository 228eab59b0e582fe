# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Depth look-ups, depth-frame checks and the grasp width in metres."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.depth import check_depth_frame, depth_at, depth_stats
from kufenet_grasp.geometry.width import clamp_width, jaw_points_px, object_extent_m, width_m
from kufenet_grasp.runtime.image_encoding import image_to_numpy
import numpy as np
import pytest
from test_geometry_scene import look_at

CAM = PinholeCamera(600.0, 600.0, 319.5, 239.5, 640, 480)


@dataclass
class Rect:
    center: tuple[float, float]
    angle: float
    opening: float
    jaw: float = 20.0
    quality: float = 1.0


def test_depth_at_pixel_nearest_ring_and_none():
    depth = np.full((50, 60), np.nan, np.float32)
    depth[10, 10] = 0.7
    assert depth_at(depth, 10, 10, 0) == pytest.approx(0.7)
    assert depth_at(depth, 10.4, 9.6, 0) == pytest.approx(0.7)  # rounds to the pixel
    # NaN at the centre: the nearest valid ring is used, farther pixels are ignored
    depth[20, 22] = 0.5
    depth[20, 18] = 0.6
    depth[20, 24] = 5.0
    assert depth_at(depth, 20, 20, 3) == pytest.approx(0.55)
    assert depth_at(depth, 20, 20, 1) is None
    assert depth_at(depth, 40, 40, 5) is None
    assert depth_at(depth, 100, 20, 5) is None  # outside the image
    with pytest.raises(ValueError, match='radius_px'):
        depth_at(depth, 1, 1, -1)
    with pytest.raises(ValueError, match='float metres'):
        depth_at(np.zeros((4, 4), np.uint16), 1, 1, 1)


def test_depth_at_honours_valid_range():
    depth = np.full((9, 9), 3.0, np.float32)
    depth[4, 5] = 0.8
    assert depth_at(depth, 4, 4, 0) == pytest.approx(3.0)
    assert depth_at(depth, 4, 4, 2, valid_range=(0.1, 2.0)) == pytest.approx(0.8)
    depth[4, 4] = 0.0  # 0 marks invalid depth: the ring around it answers
    assert depth_at(depth, 4, 4, 1) == pytest.approx(3.0)
    assert depth_at(depth, 4, 4, 0) is None


def test_check_depth_frame_reports_problems():
    assert 'all NaN' in check_depth_frame(np.full((8, 8), np.nan, np.float32))[0]
    assert 'all zero' in check_depth_frame(np.zeros((8, 8), np.float32))[0]
    mm_as_m = np.full((8, 8), 600.0, np.float32)  # 16UC1 millimetres read as metres
    assert 'too few valid' in check_depth_frame(mm_as_m, (0.1, 2.0))[0]
    good = np.full((8, 8), 0.6, np.float32)
    good[0, :3] = np.nan
    assert check_depth_frame(good, (0.1, 2.0)) == []
    stats = depth_stats(good)
    assert stats.valid_pixels == 61 and stats.median_m == pytest.approx(0.6)
    with pytest.raises(ValueError, match='valid_range'):
        check_depth_frame(good, (2.0, 1.0))


def test_width_of_5cm_gap_at_half_metre():
    depth = np.full((480, 640), 0.5, np.float32)
    opening_px = 0.05 * 600 / 0.5  # 60 px
    for angle in (0.0, 0.7, np.pi / 2 - 0.01, -1.2):
        w = width_m(Rect((300.0, 250.0), angle, opening_px), depth, CAM, radius_px=2)
        assert w == pytest.approx(0.05, abs=0.002)


def test_width_on_tilted_plane_uses_3d_distance():
    # a plane tilted 40 degrees about the camera x axis; two points 5 cm apart along its slope
    a = np.radians(40)
    t = look_at(np.array([0.0, -0.5 * np.sin(a), 0.5 * np.cos(a)]), np.zeros(3))
    t_cam_base = t.inverse()
    p1 = np.array([0.0, -0.025, 0.0])  # along base y, which tilts away from the camera
    p2 = np.array([0.0, 0.025, 0.0])
    uv1, uv2 = CAM.project(t_cam_base.apply(np.stack([p1, p2])))
    v, u = np.mgrid[0:480, 0:640]
    rays = np.stack([(u - CAM.cx) / CAM.fx, (v - CAM.cy) / CAM.fy, np.ones(u.shape)], -1)
    dirs = rays @ t.rotation.T
    depth = (-t.translation[2] / dirs[..., 2]).astype(np.float32)
    centre = (uv1 + uv2) / 2
    d = uv2 - uv1
    rect = Rect((float(centre[0]), float(centre[1])), float(np.arctan2(-d[1], d[0])),
                float(np.hypot(*d)))
    assert np.allclose(jaw_points_px(rect), [uv1, uv2]) or \
        np.allclose(jaw_points_px(rect), [uv2, uv1])
    assert width_m(rect, depth, CAM, radius_px=1) == pytest.approx(0.05, abs=0.002)
    # the naive opening * z / fx would be about cos(40 deg) too small
    naive = rect.opening * depth_at(depth, *centre) / CAM.fx
    assert naive < 0.045


def test_width_falls_back_to_centre_depth_and_none():
    depth = np.full((100, 100), np.nan, np.float32)
    depth[45:56, 45:56] = 0.6  # only the centre is valid, the ends (±30 px) are not
    w = width_m(Rect((50.0, 50.0), 0.0, 60.0), depth, CAM, radius_px=2)
    assert w == pytest.approx(60.0 * 0.6 / 600.0)
    assert width_m(Rect((20.0, 20.0), 0.0, 10.0), depth, CAM, radius_px=2) is None


def test_clamp_width():
    assert clamp_width(0.03, 0.0, 0.08, 0.01) == (pytest.approx(0.04), True)
    assert clamp_width(0.075, 0.0, 0.08, 0.01) == (pytest.approx(0.08), True)
    assert clamp_width(0.001, 0.01, 0.08) == (pytest.approx(0.01), True)
    assert clamp_width(0.09, 0.0, 0.08, 0.01) == (0.08, False)
    with pytest.raises(ValueError, match='min_width'):
        clamp_width(0.03, 0.1, 0.08)
    with pytest.raises(ValueError, match='finite'):
        clamp_width(float('nan'), 0.0, 0.08)


def test_width_ignores_ends_past_the_object_edge():
    # a 4 cm tall box top at 0.56 m; the rectangle overhangs it onto the table at 0.60 m
    depth = np.full((480, 640), 0.60, np.float32)
    depth[200:280, 280:360] = 0.56
    rect = Rect((319.5, 239.5), 0.0, 100.0)  # ends at x = 269.5 and 369.5: on the table
    w = width_m(rect, depth, CAM, radius_px=1)
    assert w == pytest.approx(100.0 * 0.56 / 600.0, abs=1e-4)
    # with the guard disabled the table depth is used: wider, as the 3D distance says
    w_raw = width_m(rect, depth, CAM, radius_px=1, max_end_step_m=1.0)
    assert w_raw == pytest.approx(100.0 * 0.60 / 600.0, abs=1e-4)


def _box_scene(box_width_m: float = 0.04, table_m: float = 0.65, top_m: float = 0.60):
    """Depth of a table with a box (x extent ``box_width_m``) centred under the camera."""
    depth = np.full((480, 640), table_m, np.float32)
    half_px = 0.5 * box_width_m * CAM.fx / top_m
    u0, u1 = int(round(CAM.cx - half_px)), int(round(CAM.cx + half_px))
    depth[200:280, u0:u1 + 1] = top_m
    return depth, (u1 - u0) * top_m / CAM.fx


def test_object_extent_shrinks_a_too_wide_rectangle_to_the_object():
    depth, true_width = _box_scene()
    wide = Rect((CAM.cx, 240.0), 0.0, opening=150.0)  # 150 px = 0.15 m at 0.6 m
    assert width_m(wide, depth, CAM) == pytest.approx(0.15, abs=0.005)
    assert object_extent_m(wide, depth, CAM) == pytest.approx(true_width, abs=0.002)
    # stereo holes at the object's edges are stepped over
    holed = depth.copy()
    holed[:, int(CAM.cx) + 30:int(CAM.cx) + 36] = np.nan
    assert object_extent_m(wide, holed, CAM) == pytest.approx(true_width, abs=0.002)


def test_object_extent_keeps_the_opening_without_an_edge_or_depth():
    flat = np.full((480, 640), 0.6, np.float32)
    rect = Rect((320.0, 240.0), 0.7, opening=60.0)
    assert object_extent_m(rect, flat, CAM) == pytest.approx(width_m(rect, flat, CAM), rel=1e-3)
    flat[230:251, 310:331] = np.nan
    assert object_extent_m(rect, flat, CAM) is None  # no depth at the centre


def test_detector_fits_the_opening_to_the_object():
    from kufenet_grasp.detection.detector import DetectorConfig, GraspDetector

    depth, true_width = _box_scene()
    rgb = np.zeros((480, 640, 3), np.uint8)

    def wide_grasp_maps(x: np.ndarray) -> np.ndarray:
        s = x.shape[-1]
        maps = np.zeros((1, 4, s, s), np.float32)
        yy, xx = np.mgrid[0:s, 0:s]
        maps[0, 0] = np.exp(-((xx - s / 2) ** 2 + (yy - s / 2) ** 2) / 8.0)
        maps[0, 1] = 1.0  # angle 0: closing along image x
        maps[0, 3] = 70.0 / 150.0  # 70 px of 224 ≈ 150 px of the 480 crop ≈ 0.15 m
        return maps

    fitted = GraspDetector(wide_grasp_maps, DetectorConfig(width_margin_m=0.01)).detect(
        rgb, depth, CAM)
    assert fitted.grasps, fitted.message
    assert fitted.grasps[0].width_m == pytest.approx(true_width + 0.01, abs=0.003)
    raw = GraspDetector(wide_grasp_maps, DetectorConfig(fit_width_to_object=False)).detect(
        rgb, depth, CAM)
    assert not raw.grasps and 'wider than the gripper' in raw.message


def test_detector_centres_an_off_centre_grasp_on_the_object():
    from kufenet_grasp.detection.detector import DetectorConfig, GraspDetector

    depth, true_width = _box_scene()
    rgb = np.zeros((480, 640, 3), np.uint8)

    def off_centre_maps(x: np.ndarray) -> np.ndarray:
        s = x.shape[-1]
        maps = np.zeros((1, 4, s, s), np.float32)
        yy, xx = np.mgrid[0:s, 0:s]
        # peak 3 px of the input (≈ 6.4 px of the image, ≈ 6 mm) right of the box centre
        maps[0, 0] = np.exp(-((xx - s / 2 - 3) ** 2 + (yy - s / 2) ** 2) / 8.0)
        maps[0, 1] = 1.0
        maps[0, 3] = 30.0 / 150.0  # ≈ 64 px of the image ≈ 6.4 cm
        return maps

    result = GraspDetector(off_centre_maps, DetectorConfig(width_margin_m=0.01)).detect(
        rgb, depth, CAM)
    (grasp, *_) = result.grasps
    assert grasp.rect_image_px.center[0] == pytest.approx(CAM.cx, abs=1.0)
    assert grasp.pose_camera.translation[0] == pytest.approx(0.0, abs=0.002)
    assert grasp.width_m == pytest.approx(true_width + 0.01, abs=0.003)
    uncentred = GraspDetector(off_centre_maps, DetectorConfig(fit_width_to_object=False))
    assert uncentred.detect(rgb, depth, CAM).grasps[0].rect_image_px.center[0] > CAM.cx + 4


def test_check_depth_frame_with_zero_lower_bound_and_inf():
    zeros = np.zeros((8, 8), np.float32)
    assert 'all zero' in check_depth_frame(zeros, (0.0, 2.0))[0]
    inf = np.full((8, 8), np.inf, np.float32)
    assert 'all NaN/inf' in check_depth_frame(inf)[0]
    # a sensor that measured nothing sends 16UC1 zeros, which decode to NaN
    unmeasured = image_to_numpy(SimpleNamespace(height=8, width=8, encoding='16UC1', step=16,
                                                is_bigendian=0, data=bytes(128)))
    assert 'all 0 in a 16-bit image' in check_depth_frame(unmeasured)[0]
    mostly_zero = np.zeros((10, 10), np.float32)
    mostly_zero[0, :4] = 0.5  # 4% valid
    assert 'too few valid' in check_depth_frame(mostly_zero, (0.0, 2.0))[0]
    mostly_zero[1, :2] = 0.5  # 6% valid
    assert check_depth_frame(mostly_zero, (0.0, 2.0)) == []
    assert 'too few valid' in check_depth_frame(mostly_zero, (0.6, 2.0))[0]


@pytest.mark.parametrize('distance_m, tilt_deg', [(0.5, 0.0), (1.0, 25.0), (1.5, 45.0)])
def test_object_span_with_the_support_plane_holds_at_range_tilt_and_sensor_noise(
        distance_m, tilt_deg):
    from kufenet_grasp.geometry.support_plane import fit_support_plane
    from kufenet_grasp.grasp.rectangle import GraspRectangle
    from scene_raycast import look_at as look_at_target, render_depth

    camera = PinholeCamera(520.0, 520.0, 319.5, 239.5, 640, 480)
    eye, rotation = look_at_target(distance_m, tilt_deg)
    box = (-0.03, -0.025, 0.03, 0.025, 0.04)  # 6 x 5 cm, 4 cm tall
    depth = render_depth(camera, eye, rotation, (box,))
    table = render_depth(camera, eye, rotation, ())
    rows, cols = np.nonzero(np.abs(depth - table) > 0.005)
    centre = (float(cols.mean()), float(rows.mean()))
    # the image's x axis runs along the world's -y here (look_at's right vector): 5 cm
    rect = GraspRectangle(centre, 0.0, 0.12 * camera.fx / distance_m, 10.0)
    # depth noise of a structured-light sensor at range (about 6 mm at 1.5 m) and holes
    rng = np.random.default_rng(2)
    noisy = depth + rng.normal(0.0, 0.0027 * distance_m ** 2, depth.shape).astype(np.float32)
    noisy[rng.random(depth.shape) < 0.05] = np.nan
    plane, _ = fit_support_plane(noisy)
    assert plane is not None
    extent = object_extent_m(rect, noisy, camera, plane=plane)
    assert extent == pytest.approx(0.05, abs=0.01)
    if distance_m == 1.5:
        # without the plane a step of 1 cm in depth behind the centre ends the object: 6 mm
        # of noise and the top face's slope at 45° end it after a few pixels
        assert object_extent_m(rect, noisy, camera) < 0.03
