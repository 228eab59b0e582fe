# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Depth inpainting, RGB-D normalisation and the square crop transform."""

import math

import cv2
from kufenet_grasp.grasp.preprocess import (
    apply_crop,
    CropTransform,
    inpaint_depth,
    make_crop,
    normalise_rgbd,
)
from kufenet_grasp.grasp.rectangle import GraspRectangle
import numpy as np
import pytest


def _ramp_depth(h=40, w=50):
    return (0.5 + 0.01 * np.arange(w, dtype=np.float32)[None, :]).repeat(h, 0)


def test_inpaint_fills_holes_smoothly():
    depth = _ramp_depth()
    holed = depth.copy()
    holed[10:14, 20:25] = np.nan
    holed[0, 0] = 0.0
    filled = inpaint_depth(holed)
    assert filled.dtype == np.float32 and np.all(np.isfinite(filled))
    np.testing.assert_array_equal(filled[~np.isnan(holed) & (holed > 0)],
                                  depth[~np.isnan(holed) & (holed > 0)])
    assert np.abs(filled[10:14, 20:25] - depth[10:14, 20:25]).max() < 0.03
    assert not np.isnan(holed[20, 20])  # input untouched
    assert np.isnan(holed[10, 20])


def test_inpaint_bad_input():
    with pytest.raises(ValueError, match='no valid'):
        inpaint_depth(np.full((5, 5), np.nan, np.float32))
    with pytest.raises(ValueError, match='H×W'):
        inpaint_depth(np.zeros((5, 5, 1), np.float32))
    with pytest.raises(ValueError, match='float'):
        inpaint_depth(np.ones((5, 5), np.uint16))


def test_normalise_rgbd_layout_range_and_nan():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    depth = _ramp_depth()
    depth[5, 5] = np.nan
    depth[6, 6] = 30.0  # far outlier gets clipped
    x = normalise_rgbd(rgb, depth)
    assert x.shape == (4, 40, 50) and x.dtype == np.float32
    assert np.all(np.isfinite(x))
    assert x[0].min() >= -1.0 and x[0].max() == 1.0
    valid = np.isfinite(depth)
    expected = np.clip(depth[1, 2] - depth[valid].mean(), -1, 1)
    assert x[0, 1, 2] == pytest.approx(expected, abs=1e-6)
    scaled = rgb.astype(np.float64) / 255.0
    assert x[1:].mean() == pytest.approx(0.0, abs=1e-6)
    assert x[3, 7, 9] == pytest.approx(scaled[7, 9, 2] - scaled.mean(), abs=1e-6)
    with pytest.raises(ValueError, match='depth_m'):
        normalise_rgbd(rgb, depth[:10])
    with pytest.raises(ValueError, match='rgb'):
        normalise_rgbd(rgb.astype(np.float32), depth)
    with pytest.raises(ValueError, match='no valid'):
        normalise_rgbd(rgb, np.full((40, 50), np.nan, np.float32))


def test_make_crop_modes():
    c = make_crop((480, 640), 224)
    assert (c.x0, c.y0, c.side, c.out_size) == (80, 0, 480, 224)
    c = make_crop((480, 640), 224, center_xy=(600.0, 100.0), side=300)
    assert (c.x0, c.y0, c.side) == (340, 0, 300)  # clamped inside the image
    c = make_crop((480, 640), 224, center_xy=(320.0, 240.0), side=100)
    assert (c.x0, c.y0) == (270, 190)
    c = make_crop((480, 640), 224, mode='full')
    assert (c.x0, c.y0, c.side) == (0, -80, 640)
    with pytest.raises(ValueError, match='mode'):
        make_crop((480, 640), 224, mode='zoom')
    with pytest.raises(ValueError, match='side'):
        CropTransform(0, 0, 0, 224)


def test_crop_round_trip_points_and_rectangles():
    crop = CropTransform(x0=80, y0=-20, side=300, out_size=224)
    pts = np.array([[80.0, -20.0], [379.0, 279.0], [123.4, 56.7]])
    np.testing.assert_allclose(crop.to_image_xy(crop.to_model_xy(pts)), pts, atol=1e-9)
    r = GraspRectangle((200.0, 150.0), math.radians(33), 60.0, 30.0, 0.6)
    m = crop.rect_to_model(r)
    assert m.opening == pytest.approx(60.0 * 224 / 300)
    assert m.jaw == pytest.approx(30.0 * 224 / 300) and m.angle == pytest.approx(r.angle)
    back = crop.rect_to_image(m)
    assert back.center == pytest.approx(r.center) and back.opening == pytest.approx(60.0)
    assert back.quality == 0.6
    # pixel-centre convention: the window's outer edges map to the model's outer edges
    edge = crop.to_model_xy(np.array([[79.5, -20.5], [379.5, 279.5]]))
    np.testing.assert_allclose(edge, [[-0.5, -0.5], [223.5, 223.5]])


def test_apply_crop_identity_scale_and_padding():
    rgb = np.arange(10 * 12 * 3, dtype=np.uint8).reshape(10, 12, 3)
    depth = np.arange(120, dtype=np.float32).reshape(10, 12)
    crop = CropTransform(2, 1, 6, 6)
    out_rgb, out_depth = apply_crop(rgb, depth, crop)
    np.testing.assert_array_equal(out_rgb, rgb[1:7, 2:8])
    np.testing.assert_array_equal(out_depth, depth[1:7, 2:8])
    full = make_crop((4, 12), 6, mode='full')  # 12-px square, rows 4..7 are the image
    assert (full.x0, full.y0, full.side) == (0, -4, 12)
    f_rgb, f_depth = apply_crop(rgb[:4], depth[:4], full)
    assert f_rgb.shape == (6, 6, 3) and f_depth.shape == (6, 6)
    assert f_depth.dtype == np.float32
    assert np.isnan(f_depth[[0, 1, 4, 5]]).all() and np.isfinite(f_depth[2:4]).all()
    assert f_rgb[[0, 1, 4, 5]].max() == 0 and f_rgb[2:4].max() > 0
    # a window entirely past the right edge is all padding
    out_rgb, out_depth = apply_crop(rgb, depth, CropTransform(20, 0, 4, 8))
    assert out_rgb.max() == 0 and np.isnan(out_depth).all()
    # nearest-exact depth: shrinking by 2 keeps original values only
    _, half = apply_crop(None, depth, CropTransform(0, 0, 10, 5))
    assert set(half.ravel()) <= set(depth.ravel())
    with pytest.raises(ValueError, match='depth'):
        apply_crop(rgb, depth[:5], crop)


def test_colour_shrink_matches_area_resize_and_keeps_pixel_centres():
    rng = np.random.default_rng(0)
    smooth = cv2.GaussianBlur(rng.integers(0, 256, (480, 480, 3), dtype=np.uint8), (0, 0), 3)
    for side, out in ((480, 224), (480, 240), (300, 224), (700, 224)):
        crop = CropTransform(0, 0, side, out)
        src = smooth[:side, :side] if side <= 480 else cv2.resize(smooth, (side, side))
        got, _ = apply_crop(src, None, crop)
        ref = cv2.resize(src, (out, out), interpolation=cv2.INTER_AREA)
        assert got.shape == (out, out, 3) and got.dtype == np.uint8
        diff = np.abs(got.astype(int) - ref.astype(int))
        assert diff.mean() < 1.0 and diff.max() <= 12, (side, out, diff.mean(), diff.max())
    # a bright 3x3 spot lands where CropTransform says its centre goes
    img = np.zeros((480, 480, 3), np.uint8)
    img[200:203, 300:303] = 255
    crop = CropTransform(0, 0, 480, 224)
    got, _ = apply_crop(img, None, crop)
    weight = got[:, :, 0].astype(float)
    rows, cols = np.mgrid[:224, :224]
    centroid = ((weight * cols).sum() / weight.sum(), (weight * rows).sum() / weight.sum())
    expected = crop.to_model_xy(np.array([301.0, 201.0]))
    assert centroid == pytest.approx(tuple(expected), abs=0.1)
