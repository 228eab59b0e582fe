# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Draw grasp rectangles (image pixels) on an RGB image with OpenCV."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
from kufenet_grasp.grasp._checks import is_whole
from kufenet_grasp.grasp.rectangle import GraspRectangle
import numpy as np

#: fractional bits for sub-pixel drawing
_SHIFT = 4


def _pt(xy: np.ndarray) -> tuple[int, int]:
    """Return a float ``(x, y)`` px as a fixed-point cv2 point."""
    return round(float(xy[0]) * (1 << _SHIFT)), round(float(xy[1]) * (1 << _SHIFT))


def draw_grasps(rgb: np.ndarray, rects: Iterable[GraspRectangle],
                color: tuple[int, int, int] = (0, 255, 0), thickness: int = 2,
                label_quality: bool = True) -> np.ndarray:
    """Return a copy of ``rgb`` (uint8 H×W×3) with ``rects`` drawn.

    The jaw edges (gripper plates, p1-p2 and p3-p0) are drawn in ``color``, the opening edges
    (p0-p1, p2-p3, along the closing axis) in half its intensity, a dot at the centre and,
    with ``label_quality``, the quality as text.

    Raises:
        ValueError: ``rgb`` is not uint8 H×W×3 or ``thickness`` < 1.
    """
    image = np.asarray(rgb)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'draw_grasps: rgb must be uint8 H×W×3, got {image.dtype} '
                         f'{image.shape}')
    if not is_whole(thickness) or thickness < 1:
        raise ValueError(f'draw_grasps: thickness must be an int >= 1, got {thickness!r}')
    out = np.ascontiguousarray(image).copy()
    jaw_colour = tuple(int(c) for c in color)
    opening_colour = tuple(int(c) // 2 for c in color)
    for rect in rects:
        p = rect.corners()
        for (a, b), col in (((0, 1), opening_colour), ((2, 3), opening_colour),
                            ((1, 2), jaw_colour), ((3, 0), jaw_colour)):
            cv2.line(out, _pt(p[a]), _pt(p[b]), col, int(thickness), cv2.LINE_AA, _SHIFT)
        centre = np.asarray(rect.center)
        cv2.circle(out, _pt(centre), (int(thickness) + 1) << _SHIFT, jaw_colour, -1,
                   cv2.LINE_AA, _SHIFT)
        if label_quality:
            org = (round(centre[0]) + 4, round(centre[1]) - 4)
            cv2.putText(out, f'{rect.quality:.2f}', org, cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                        jaw_colour, 1, cv2.LINE_AA)
    return out
