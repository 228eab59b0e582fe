# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""GraspRectangle geometry and the Cornell / Jacquard label round trips."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from kufenet_grasp.grasp.labels import (
    format_cornell_rectangles,
    format_jacquard_grasps,
    parse_cornell_rectangles,
    parse_jacquard_grasps,
)
from kufenet_grasp.grasp.rectangle import GraspRectangle, wrap_angle
import numpy as np
import pytest

ANGLES_DEG = [0.0, 30.0, -45.0, 60.0, 89.0, -89.0, 89.999, -90.0]


def _same(a: GraspRectangle, b: GraspRectangle, tol: float = 1e-6) -> None:
    assert a.center == pytest.approx(b.center, abs=tol)
    assert math.cos(2 * a.angle) == pytest.approx(math.cos(2 * b.angle), abs=tol)
    assert math.sin(2 * a.angle) == pytest.approx(math.sin(2 * b.angle), abs=tol)
    assert a.opening == pytest.approx(b.opening, abs=tol)
    assert a.jaw == pytest.approx(b.jaw, abs=tol)


def test_corners_hand_computed_axis_aligned_and_vertical():
    r = GraspRectangle((10.0, 20.0), 0.0, opening=8.0, jaw=4.0)
    expected = [[6, 18], [14, 18], [14, 22], [6, 22]]
    np.testing.assert_allclose(r.corners(), expected, atol=1e-12)
    # 90° counter-clockwise as displayed: the closing axis points up (towards -y)
    up = GraspRectangle((0.0, 0.0), math.radians(89.999999), opening=2.0, jaw=0.0)
    p0, p1 = up.corners()[:2]
    assert p1[1] < p0[1]
    assert abs(p1[0] - p0[0]) < 1e-6


@pytest.mark.parametrize('deg', ANGLES_DEG)
def test_corners_from_corners_round_trip(deg):
    r = GraspRectangle((50.5, 40.25), math.radians(deg), opening=30.0, jaw=12.0, quality=0.7)
    back = GraspRectangle.from_corners(r.corners(), quality=0.7)
    _same(back, r)
    assert -math.pi / 2 <= back.angle < math.pi / 2
    assert back.quality == 0.7


def test_angle_wrapped_to_half_open_interval():
    assert GraspRectangle((0, 0), math.pi / 2, 1, 1).angle == pytest.approx(-math.pi / 2)
    assert GraspRectangle((0, 0), math.radians(100), 1, 1).angle == pytest.approx(
        math.radians(-80))
    assert wrap_angle(-1e-20) < math.pi / 2
    for a in np.linspace(-10, 10, 101):
        w = wrap_angle(a)
        assert -math.pi / 2 <= w < math.pi / 2
        assert math.sin(2 * w) == pytest.approx(math.sin(2 * a), abs=1e-9)


def test_from_corners_uses_first_edge_angle_and_sizes():
    # p0 -> p1 goes right and up by (3, -3): angle +45°, opening sqrt(18), jaw |p2 - p1|
    pts = [[0, 3], [3, 0], [5, 2], [2, 5]]
    r = GraspRectangle.from_corners(pts)
    assert r.angle == pytest.approx(math.pi / 4)
    assert r.opening == pytest.approx(math.sqrt(18))
    assert r.jaw == pytest.approx(math.sqrt(8))
    assert r.center == pytest.approx((2.5, 2.5))


def test_bad_input_raises():
    with pytest.raises(ValueError, match='NaN'):
        GraspRectangle.from_corners([[0, 0], [1, float('nan')], [1, 1], [0, 1]])
    with pytest.raises(ValueError, match='shape'):
        GraspRectangle.from_corners([[0, 0], [1, 0], [1, 1]])
    with pytest.raises(ValueError, match='opening'):
        GraspRectangle((0, 0), 0.0, -1.0, 1.0)
    with pytest.raises(ValueError, match='angle'):
        GraspRectangle((0, 0), float('inf'), 1.0, 1.0)


def test_transforms():
    r = GraspRectangle((10.0, 20.0), math.radians(30), 8.0, 4.0, 0.5)
    s = r.scaled(2.0)
    assert s.center == (20.0, 40.0) and s.opening == 16.0 and s.jaw == 8.0
    assert r.translated(1, -2).center == (11.0, 18.0)
    assert r.with_quality(0.9).quality == 0.9 and r.quality == 0.5
    # rotating a point right of the pivot by +90° moves it above the pivot (y smaller)
    rot = GraspRectangle((10.0, 0.0), 0.0, 8.0, 4.0).rotated(math.pi / 2, (0.0, 0.0))
    assert rot.center == pytest.approx((0.0, -10.0), abs=1e-9)
    assert rot.angle == pytest.approx(-math.pi / 2)
    # rotation maps corners as a rigid motion would (same polygon)
    rr = r.rotated(math.radians(70), (3.0, 4.0))
    c, s_ = math.cos(math.radians(70)), math.sin(math.radians(70))
    d = r.corners() - [3.0, 4.0]
    moved = np.stack([3 + c * d[:, 0] + s_ * d[:, 1], 4 - s_ * d[:, 0] + c * d[:, 1]], 1)
    assert rr.polygon().symmetric_difference(
        GraspRectangle.from_corners(moved).polygon()).area < 1e-6


def test_flips_mirror_corners():
    r = GraspRectangle((10.0, 20.0), math.radians(30), 8.0, 4.0)
    h = r.flipped_horizontal(100)
    assert h.center == (89.0, 20.0) and h.angle == pytest.approx(math.radians(-30))
    mirrored = r.corners() * [-1, 1] + [99, 0]
    assert h.polygon().symmetric_difference(
        GraspRectangle.from_corners(mirrored).polygon()).area < 1e-6
    v = r.flipped_vertical(50)
    assert v.center == (10.0, 29.0) and v.angle == pytest.approx(math.radians(-30))


def test_cornell_round_trip_and_nan_drop():
    rects = [GraspRectangle((100.0 + i, 80.5), math.radians(a), 40.0, 15.0)
             for i, a in enumerate(ANGLES_DEG)]
    text = format_cornell_rectangles(rects)
    assert len(text.splitlines()) == 4 * len(rects)
    back, dropped = parse_cornell_rectangles(text, 'mem.txt')
    assert dropped == 0 and len(back) == len(rects)
    for a, b in zip(back, rects):
        _same(a, b, tol=1e-5)
    nan_text = '1 2\n3 4\nNaN 5\n6 7\n' + text
    back2, dropped2 = parse_cornell_rectangles(nan_text, 'nan.txt')
    assert dropped2 == 1 and len(back2) == len(rects)


def test_cornell_hand_written_lines():
    text = '253 319.7\n309 324\n307 350\n251 345.7\n'
    (r,), dropped = parse_cornell_rectangles(text, 'pcd0100cpos.txt')
    assert dropped == 0
    assert r.opening == pytest.approx(math.hypot(56, 4.3))
    assert r.angle == pytest.approx(math.atan2(-4.3, 56))


def test_cornell_malformed_names_source_and_line():
    with pytest.raises(ValueError, match=r'pcd1\.txt:3'):
        parse_cornell_rectangles('1 2\n3 4\n5 x\n6 7\n', 'pcd1.txt')
    with pytest.raises(ValueError, match=r'pcd2\.txt:2'):
        parse_cornell_rectangles('1 2\n3 4 5\n5 6\n6 7\n', 'pcd2.txt')
    with pytest.raises(ValueError, match='multiple of 4'):
        parse_cornell_rectangles('1 2\n3 4\n', 'pcd3.txt')


def test_jacquard_angle_convention_and_round_trip():
    text = '512.0;440.5;30.0;57.0;20.0\n100.0;200.0;-90.0;30.0;10.0\n'
    rects = parse_jacquard_grasps(text, 'a_grasps.txt')
    assert rects[0].angle == pytest.approx(math.radians(-30))
    assert rects[0].center == (512.0, 440.5)
    assert rects[0].opening == 57.0 and rects[0].jaw == 20.0
    again = parse_jacquard_grasps(format_jacquard_grasps(rects), 'b')
    for a, b in zip(again, rects):
        assert a == b
    line = format_jacquard_grasps(rects[:1])
    assert line == '512.0;440.5;30.0;57.0;20.0\n'


def test_jacquard_dedupe_and_errors():
    text = '10;20;15;40;10\n10;20;15;40;20\n10;20;15;40;30\n50;60;0;30;10\n'
    assert len(parse_jacquard_grasps(text, 'g')) == 4
    deduped = parse_jacquard_grasps(text, 'g', dedupe=True)
    assert len(deduped) == 2 and deduped[0].jaw == 10.0
    with pytest.raises(ValueError, match=r'bad_grasps\.txt:2'):
        parse_jacquard_grasps('1;2;3;4;5\n1;2;3;4\n', 'bad_grasps.txt')
    with pytest.raises(ValueError, match=r'x\.txt:1'):
        parse_jacquard_grasps('1;2;a;4;5\n', 'x.txt')


@settings(max_examples=60, deadline=None, database=None)
@given(x=st.floats(-500, 500), y=st.floats(-500, 500), angle=st.floats(-10, 10),
       opening=st.floats(0.5, 300), jaw=st.floats(0.5, 100))
def test_corners_round_trip_property(x, y, angle, opening, jaw):
    r = GraspRectangle((x, y), angle, opening, jaw)
    assert -math.pi / 2 <= r.angle < math.pi / 2
    _same(GraspRectangle.from_corners(r.corners()), r, tol=1e-6)
    # a half turn about the centre gives the same grasp
    turned = r.rotated(math.pi, r.center)
    assert r.polygon().symmetric_difference(turned.polygon()).area < 1e-6 * opening * jaw
