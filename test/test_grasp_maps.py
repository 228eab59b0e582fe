# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Rasterising rectangles into target maps and post-processing maps back into grasps."""

import math

from kufenet_grasp.grasp.drawing import draw_grasps
from kufenet_grasp.grasp.maps import rasterise_grasps, WIDTH_SCALE_PX
from kufenet_grasp.grasp.postprocess import maps_to_grasps
from kufenet_grasp.grasp.rectangle import GraspRectangle
import numpy as np
import pytest


def test_rasterise_channels_and_compact_region():
    r = GraspRectangle((50.0, 40.0), 0.0, opening=60.0, jaw=10.0)
    maps = rasterise_grasps([r], (80, 100))
    assert maps.shape == (4, 80, 100) and maps.dtype == np.float32
    q = maps[0]
    assert set(np.unique(q)) == {0.0, 1.0}
    rows, cols = np.nonzero(q)
    # the centre third along x (20 px) by the full jaw along y (10 px)
    assert 19 <= cols.max() - cols.min() + 1 <= 21
    assert 9 <= rows.max() - rows.min() + 1 <= 11
    assert abs(cols.mean() - 50.0) <= 0.5 and abs(rows.mean() - 40.0) <= 0.5
    assert np.allclose(maps[1][q > 0], 1.0) and np.allclose(maps[2][q > 0], 0.0)
    assert np.allclose(maps[3][q > 0], 60.0 / WIDTH_SCALE_PX)
    assert np.all(maps[1:][:, q == 0] == 0)


def test_rasterise_later_overwrites_and_width_clipped():
    a = GraspRectangle((30.0, 30.0), 0.0, 300.0, 10.0)
    b = GraspRectangle((30.0, 30.0), math.radians(45), 30.0, 10.0)
    maps = rasterise_grasps([a, b], (60, 60))
    assert maps[3, 30, 30] == pytest.approx(30.0 / 150.0)
    assert maps[2, 30, 30] == pytest.approx(1.0)
    only_a = rasterise_grasps([a], (60, 60))
    assert only_a[3].max() == pytest.approx(1.0)


def test_rasterise_bad_input():
    with pytest.raises(ValueError, match='shape'):
        rasterise_grasps([], (0, 10))
    with pytest.raises(ValueError, match='width_scale'):
        rasterise_grasps([], (10, 10), width_scale=0.0)


@pytest.mark.parametrize('deg', [0.0, 25.0, -40.0, 80.0, -80.0, 89.0])
def test_rectangle_survives_rasterise_and_postprocess(deg):
    r = GraspRectangle((61.3, 57.8), math.radians(deg), opening=45.0, jaw=18.0)
    (g,) = maps_to_grasps(rasterise_grasps([r], (120, 128)), top_k=1)
    assert math.dist(g.center, r.center) <= 1.0
    diff = abs((g.angle - r.angle + math.pi / 2) % math.pi - math.pi / 2)
    assert math.degrees(diff) < 5.0
    assert g.opening == pytest.approx(45.0, rel=0.05)
    assert g.jaw == pytest.approx(g.opening * 0.5)
    assert 0.2 < g.quality <= 1.0 + 1e-6


def test_top_k_ranking_min_distance_and_threshold():
    q = np.zeros((4, 100, 100), dtype=np.float32)
    q[1] = 1.0
    q[3] = 0.2
    for (y, x), v in (((20, 20), 0.9), ((25, 28), 0.8), ((70, 60), 0.7), ((80, 15), 0.1)):
        q[0, y, x] = v
    grasps = maps_to_grasps(q, top_k=5, min_distance=10, sigma_quality=0.0,
                            sigma_angle=0.0, sigma_width=0.0)
    # (25, 28) lies within 10 px of the better (20, 20) peak; 0.1 is under the threshold
    assert [g.center for g in grasps] == [(20.0, 20.0), (60.0, 70.0)]
    assert grasps[0].quality == pytest.approx(0.9)
    assert grasps[0].opening == pytest.approx(0.2 * 150.0)
    grasps = maps_to_grasps(q, top_k=5, min_distance=3, sigma_quality=0.0)
    assert len(grasps) == 3 and grasps[1].center == (28.0, 25.0)
    assert maps_to_grasps(q, top_k=5, quality_threshold=0.95, sigma_quality=0.0) == []
    edge = maps_to_grasps(q, top_k=5, min_distance=3, sigma_quality=0.0, exclude_border=21)
    assert [g.center for g in edge] == [(28.0, 25.0), (60.0, 70.0)]


def test_plateau_peak_is_its_middle():
    q = np.zeros((4, 64, 64), dtype=np.float32)
    q[0, 20:41, 10:51] = 1.0
    (g,) = maps_to_grasps(q, sigma_quality=2.0)
    assert g.center == pytest.approx((30.0, 30.0), abs=1.0)


def test_postprocess_bad_input():
    with pytest.raises(ValueError, match='shape'):
        maps_to_grasps(np.zeros((3, 10, 10), np.float32))
    bad = np.zeros((4, 10, 10), np.float32)
    bad[2, 3, 3] = np.nan
    with pytest.raises(ValueError, match='NaN'):
        maps_to_grasps(bad)
    with pytest.raises(ValueError, match='top_k'):
        maps_to_grasps(np.zeros((4, 10, 10), np.float32), top_k=0)


def test_draw_grasps_copies_and_draws():
    image = np.zeros((60, 80, 3), np.uint8)
    r = GraspRectangle((40.0, 30.0), math.radians(20), 30.0, 12.0, 0.8)
    out = draw_grasps(image, [r], color=(0, 255, 0))
    assert image.max() == 0 and out.shape == image.shape and out.dtype == np.uint8
    assert out[30, 40, 1] == 255  # the centre dot
    assert (out[..., 1] > 0).sum() > 50 and out[..., 0].max() == 0
    with pytest.raises(ValueError, match='rgb'):
        draw_grasps(np.zeros((5, 5), np.uint8), [r])
