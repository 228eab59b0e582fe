# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Tests of the top-1 evaluation report (labels fed back as predictions)."""

import dataclasses
import json
import math

from kufenet_grasp.grasp.rectangle import GraspRectangle
from kufenet_grasp.training.evaluate import evaluate_predictions, THRESHOLDS_DEG
import pytest


def _labels(n: int = 4) -> list[list[GraspRectangle]]:
    """``n`` images, each with two labelled rectangles (pixels, radians)."""
    images = []
    for i in range(n):
        a = -0.6 + 0.3 * i
        images.append([
            GraspRectangle(center=(20.0 + i, 30.0), angle=a, opening=24.0, jaw=10.0,
                           quality=1.0),
            GraspRectangle(center=(40.0, 12.0 + i), angle=-a, opening=18.0, jaw=8.0,
                           quality=1.0),
        ])
    return images


def _rotated(rect: GraspRectangle, delta: float) -> GraspRectangle:
    """``rect`` turned by ``delta`` rad about its centre, angle wrapped to [-pi/2, pi/2)."""
    angle = (rect.angle + delta + math.pi / 2) % math.pi - math.pi / 2
    return dataclasses.replace(rect, angle=angle)


def test_labels_fed_back_score_one():
    labels = _labels()
    report = evaluate_predictions([imgs[:1] for imgs in labels], labels,
                                  names=[f'img{i}' for i in range(4)])
    assert report['accuracy'] == pytest.approx(1.0)
    assert set(report['accuracy_by_angle']) == {str(t) for t in THRESHOLDS_DEG}
    assert all(v == pytest.approx(1.0) for v in report['accuracy_by_angle'].values())
    assert report['mean_iou'] == pytest.approx(1.0, abs=1e-6)
    assert report['n_images'] == 4
    first = report['per_image'][0]
    assert first['name'] == 'img0' and first['correct'] is True
    assert first['predicted']['x'] == pytest.approx(labels[0][0].center[0])
    json.dumps(report)  # the report is JSON-serialisable


def test_labels_rotated_90_degrees_score_zero():
    labels = _labels()
    preds = [_rotated(imgs[0], math.pi / 2) for imgs in labels]
    report = evaluate_predictions(preds, labels)
    assert report['accuracy'] == 0.0
    assert all(v == 0.0 for v in report['accuracy_by_angle'].values())
    assert all(not p['correct'] for p in report['per_image'])


def test_angle_thresholds_are_nested():
    labels = _labels()
    preds = [_rotated(imgs[0], math.radians(d)) for imgs, d in zip(labels, (5, 12, 22, 40))]
    report = evaluate_predictions(preds, labels)
    by = report['accuracy_by_angle']
    assert by['30'] == pytest.approx(0.75)
    assert by['10'] == pytest.approx(0.25)
    assert by['30'] >= by['25'] >= by['20'] >= by['15'] >= by['10']


def test_missing_prediction_counts_wrong_and_bad_lengths_raise():
    labels = _labels(2)
    report = evaluate_predictions([None, []], labels)
    assert report['accuracy'] == 0.0
    assert report['per_image'][0]['predicted'] is None
    with pytest.raises(ValueError, match='predictions'):
        evaluate_predictions([None], labels)


def test_reported_quality_is_clamped_as_the_node_sends_it_and_the_raw_value_kept():
    labels = _labels(3)
    raw = (1.37, -0.2, 0.45)
    predictions = [dataclasses.replace(imgs[0], quality=q) for imgs, q in zip(labels, raw)]
    report = evaluate_predictions(predictions, labels)
    predicted = [item['predicted'] for item in report['per_image']]
    assert [p['quality'] for p in predicted] == pytest.approx([1.0, 0.0, 0.45])
    assert [p['raw_quality'] for p in predicted] == pytest.approx(list(raw))
