# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The rectangle metric: IoU, angle difference, correctness and top-1 accuracy."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from kufenet_grasp.grasp.metric import (
    angle_difference,
    ANGLE_THRESHOLDS_DEG,
    best_match,
    is_correct,
    rectangle_iou,
    top1_accuracy,
)
from kufenet_grasp.grasp.rectangle import GraspRectangle
import pytest


def _rect(x=50.0, y=50.0, deg=0.0, opening=40.0, jaw=20.0):
    return GraspRectangle((x, y), math.radians(deg), opening, jaw)


def test_iou_identical_half_shift_disjoint():
    a = _rect()
    assert rectangle_iou(a, a) == pytest.approx(1.0)
    # shifted by half its length: overlap 1/2, union 3/2 -> 1/3
    assert rectangle_iou(a, _rect(x=70.0)) == pytest.approx(1.0 / 3.0)
    assert rectangle_iou(a, _rect(x=200.0)) == 0.0


def test_iou_rotated_rectangles():
    # a square rotated by 45° about the same centre: octagon overlap
    sq = _rect(opening=20.0, jaw=20.0)
    diamond = _rect(deg=45.0, opening=20.0, jaw=20.0)
    octagon = 8 * (10.0 ** 2) * math.tan(math.pi / 8)  # area of the regular octagon
    expected = octagon / (2 * 400.0 - octagon)
    assert rectangle_iou(sq, diamond) == pytest.approx(expected, rel=1e-9)
    # a 90° turn of a 40×20 rectangle about its centre: 20×20 overlap of 800 + 800 - 400
    assert rectangle_iou(_rect(), _rect(deg=90.0)) == pytest.approx(400.0 / 1200.0)


def test_angle_difference_wraps_half_turn():
    assert math.degrees(angle_difference(math.radians(89), math.radians(-89))) == \
        pytest.approx(2.0)
    assert angle_difference(0.0, math.pi) == pytest.approx(0.0, abs=1e-12)
    assert angle_difference(_rect(deg=10), _rect(deg=-80)) == pytest.approx(math.pi / 2)
    assert math.degrees(angle_difference(_rect(deg=30), _rect(deg=-20))) == pytest.approx(50)
    with pytest.raises(ValueError, match='finite'):
        angle_difference(float('nan'), 0.0)


def test_is_correct_thresholds_inclusive_angle_strict_iou():
    truth = [_rect()]
    assert is_correct(_rect(deg=30.0), truth)  # exactly 30° passes (<=, as GR-ConvNet)
    assert not is_correct(_rect(deg=30.5), truth)
    assert is_correct(_rect(deg=89.0), [_rect(deg=-89.0)])
    assert not is_correct(_rect(x=200.0), truth)
    # IoU exactly 1/3 passes 0.25 but not a 1/3 threshold (strict '>')
    assert is_correct(_rect(x=70.0), truth)
    assert not is_correct(_rect(x=70.0), truth, iou_threshold=1.0 / 3.0 + 1e-12)
    assert not is_correct(_rect(), [])
    assert not is_correct(_rect(deg=20.0), truth, angle_threshold_deg=15.0)


def test_best_match_picks_highest_iou():
    truths = [_rect(x=200.0, deg=5.0), _rect(x=60.0, deg=20.0), _rect(x=70.0)]
    iou, diff = best_match(_rect(), truths)
    assert iou == pytest.approx(rectangle_iou(_rect(), truths[1]))
    assert math.degrees(diff) == pytest.approx(20.0)
    assert best_match(_rect(), []) == (0.0, math.pi / 2)


def test_top1_accuracy_labels_fed_back_and_rotated():
    truths = [[_rect(x=40.0 + 10 * i, deg=d), _rect(x=100.0, deg=-d)]
              for i, d in enumerate((0.0, 35.0, -70.0, 88.0))]
    perfect = top1_accuracy([t[0] for t in truths], truths)
    assert perfect['accuracy'] == 1.0
    assert perfect['accuracy_by_angle'] == {f'{t}': 1.0 for t in ANGLE_THRESHOLDS_DEG}
    assert perfect['mean_iou'] == pytest.approx(1.0)
    assert all(p['correct'] for p in perfect['per_image'])
    turned = [t[0].rotated(math.pi / 2, t[0].center) for t in truths]
    wrong = top1_accuracy(turned, truths)
    assert wrong['accuracy'] == 0.0
    assert all(v == 0.0 for v in wrong['accuracy_by_angle'].values())


def test_top1_accuracy_partial_none_and_lists():
    truths = [[_rect()], [_rect()], [_rect()], [_rect()]]
    preds = [_rect(deg=12.0), None, [_rect(deg=22.0), _rect()], []]
    res = top1_accuracy(preds, truths)
    assert res['accuracy_by_angle']['30'] == 0.5
    assert res['accuracy_by_angle']['20'] == 0.25
    assert res['accuracy_by_angle']['10'] == 0.0
    assert res['per_image'][1]['best_iou'] == 0.0 and not res['per_image'][1]['correct']
    assert res['per_image'][2]['angle_diff_deg'] == pytest.approx(22.0)
    with pytest.raises(ValueError, match='label sets'):
        top1_accuracy(preds, truths[:2])
    with pytest.raises(ValueError, match='no images'):
        top1_accuracy([], [])


@settings(max_examples=60, deadline=None, database=None)
@given(dx=st.floats(-60, 60), dy=st.floats(-60, 60), deg_a=st.floats(-90, 90),
       deg_b=st.floats(-90, 90), shift=st.floats(-100, 100))
def test_iou_symmetric_bounded_and_translation_invariant(dx, dy, deg_a, deg_b, shift):
    a, b = _rect(deg=deg_a), _rect(x=50 + dx, y=50 + dy, deg=deg_b, opening=30.0)
    iou = rectangle_iou(a, b)
    assert 0.0 <= iou <= 1.0 + 1e-12
    assert rectangle_iou(b, a) == pytest.approx(iou, abs=1e-9)
    moved = rectangle_iou(a.translated(shift, -shift), b.translated(shift, -shift))
    assert moved == pytest.approx(iou, abs=1e-9)
    assert 0.0 <= angle_difference(a, b) <= math.pi / 2
