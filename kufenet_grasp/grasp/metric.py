# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The rectangle metric: IoU > 0.25 with some label and angle difference <= 30°.

Rectangles are in one pixel frame; angles in rad. IoU is the exact polygon IoU (shapely);
GR-ConvNet rasterises both polygons instead, which differs by a pixel-edge effect only.
The angle test is inclusive (``diff <= threshold``), as in GR-ConvNet's ``max_iou``.
"""

from __future__ import annotations

from collections.abc import Sequence
import math
from typing import Any

from kufenet_grasp.grasp.rectangle import GraspRectangle

#: angle thresholds (degrees) reported in KufeNet's Table IV; the first is the headline
ANGLE_THRESHOLDS_DEG: tuple[int, ...] = (30, 25, 20, 15, 10)
#: IoU a prediction must exceed (strictly)
IOU_THRESHOLD = 0.25
#: slack (rad) so that a difference of exactly the threshold passes despite rounding
_ANGLE_EPS = 1e-9


def rectangle_iou(a: GraspRectangle, b: GraspRectangle) -> float:
    """Intersection over union of two rectangles' areas (pixels), in [0, 1]."""
    pa, pb = a.polygon(), b.polygon()
    union = pa.union(pb).area
    if union <= 0:
        return 0.0
    return float(pa.intersection(pb).area / union)


def angle_difference(a: GraspRectangle | float, b: GraspRectangle | float) -> float:
    """Absolute angle difference in rad, in [0, pi/2], modulo a half turn.

    Takes rectangles or angles (rad); 89° and -89° differ by 2°.
    """
    ta = a.angle if isinstance(a, GraspRectangle) else float(a)
    tb = b.angle if isinstance(b, GraspRectangle) else float(b)
    if not (math.isfinite(ta) and math.isfinite(tb)):
        raise ValueError(f'angle_difference: angles must be finite, got {ta!r}, {tb!r}')
    diff = abs((ta - tb + math.pi / 2.0) % math.pi - math.pi / 2.0)
    return min(diff, math.pi / 2.0)


def is_correct(pred: GraspRectangle, truths: Sequence[GraspRectangle],
               angle_threshold_deg: float = 30.0, iou_threshold: float = IOU_THRESHOLD) -> bool:
    """Return True if a truth has IoU > ``iou_threshold`` and angle difference <= threshold."""
    limit = math.radians(angle_threshold_deg) + _ANGLE_EPS
    return any(angle_difference(pred, t) <= limit and rectangle_iou(pred, t) > iou_threshold
               for t in truths)


def best_match(pred: GraspRectangle, truths: Sequence[GraspRectangle]
               ) -> tuple[float, float]:
    """``(iou, angle_diff rad)`` of the truth with the largest IoU (ties: smaller angle).

    With no truths returns ``(0.0, pi/2)``.
    """
    best = (0.0, math.pi / 2.0)
    for t in truths:
        iou, diff = rectangle_iou(pred, t), angle_difference(pred, t)
        if iou > best[0] or (iou == best[0] and diff < best[1]):
            best = (iou, diff)
    return best


def _top(pred: Any) -> GraspRectangle | None:
    """Return a prediction as one rectangle: a rectangle, None, or a ranked list (first used)."""
    if pred is None or isinstance(pred, GraspRectangle):
        return pred
    if isinstance(pred, (list, tuple)):
        return _top(pred[0]) if pred else None
    raise ValueError(f'top1_accuracy: a prediction must be a GraspRectangle, None or a list, '
                     f'got {type(pred).__name__}')


def top1_accuracy(preds: Sequence[GraspRectangle | None],
                  truths: Sequence[Sequence[GraspRectangle]],
                  thresholds: Sequence[float] = ANGLE_THRESHOLDS_DEG,
                  iou_threshold: float = IOU_THRESHOLD) -> dict[str, Any]:
    """Top-1 rectangle-metric accuracy over images.

    Args:
        preds: per image the top prediction (None = no grasp, counted wrong); a ranked list
            is also accepted (its first element is used).
        truths: per image the labelled rectangles (same pixel frame as ``preds``).
        thresholds: angle thresholds in **degrees**; the first gives ``accuracy``.
        iou_threshold: IoU a prediction must exceed.

    Returns:
        ``{'accuracy', 'accuracy_by_angle' {"30": ...}, 'mean_iou', 'per_image'}``; each
        per-image entry has ``best_iou``, ``angle_diff`` (rad), ``angle_diff_deg``,
        ``correct`` (at the first threshold) and ``correct_by_angle``. ``mean_iou`` is the
        mean best IoU (0 for a missing prediction).
    """
    if len(preds) != len(truths):
        raise ValueError(f'top1_accuracy: {len(preds)} predictions but {len(truths)} '
                         f'label sets')
    if len(preds) == 0:
        raise ValueError('top1_accuracy: no images to score')
    if len(thresholds) == 0:
        raise ValueError('top1_accuracy: thresholds (degrees) is empty')
    keys = [f'{float(t):g}' for t in thresholds]
    per_image: list[dict[str, Any]] = []
    ious: list[float] = []
    corrects: list[dict[str, bool]] = []
    for pred, labels in zip(preds, truths):
        top = _top(pred)
        if top is None:
            iou, diff = 0.0, math.pi / 2.0
            correct = {k: False for k in keys}
        else:
            iou, diff = best_match(top, labels)
            correct = {k: is_correct(top, labels, float(t), iou_threshold)
                       for k, t in zip(keys, thresholds)}
        per_image.append({'best_iou': iou, 'angle_diff': diff,
                          'angle_diff_deg': math.degrees(diff),
                          'correct': correct[keys[0]], 'correct_by_angle': correct})
        ious.append(iou)
        corrects.append(correct)
    n = len(per_image)
    by_angle = {k: sum(c[k] for c in corrects) / n for k in keys}
    return {'accuracy': by_angle[keys[0]], 'accuracy_by_angle': by_angle,
            'mean_iou': sum(ious) / n, 'per_image': per_image}
