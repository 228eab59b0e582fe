"""Depth look-ups, depth-frame checks and the grasp width in metres."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from test_geometry_scene import look_at

from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.depth import check_depth_frame, depth_at, depth_stats
from kufenet_grasp.geometry.width import clamp_width, jaw_points_px, width_m

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
    with pytest.raises(ValueError, match="radius_px"):
        depth_at(depth, 1, 1, -1)
    with pytest.raises(ValueError, match="float metres"):
        depth_at(np.zeros((4, 4), np.uint16), 1, 1, 1)


def test_depth_at_honours_valid_range():
    depth = np.full((9, 9), 3.0, np.float32)
    depth[4, 5] = 0.8
    assert depth_at(depth, 4, 4, 0) == pytest.approx(3.0)
    assert depth_at(depth, 4, 4, 2, valid_range=(0.1, 2.0)) == pytest.approx(0.8)


def test_check_depth_frame_reports_problems():
    assert "all NaN" in check_depth_frame(np.full((8, 8), np.nan, np.float32))[0]
    assert "all zero" in check_depth_frame(np.zeros((8, 8), np.float32))[0]
    mm_as_m = np.full((8, 8), 600.0, np.float32)  # 16UC1 millimetres read as metres
    assert "too few valid" in check_depth_frame(mm_as_m, (0.1, 2.0))[0]
    good = np.full((8, 8), 0.6, np.float32)
    good[0, :3] = np.nan
    assert check_depth_frame(good, (0.1, 2.0)) == []
    stats = depth_stats(good)
    assert stats.valid_pixels == 61 and stats.median_m == pytest.approx(0.6)
    with pytest.raises(ValueError, match="valid_range"):
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
    with pytest.raises(ValueError, match="min_width"):
        clamp_width(0.03, 0.1, 0.08)
    with pytest.raises(ValueError, match="finite"):
        clamp_width(float("nan"), 0.0, 0.08)


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
