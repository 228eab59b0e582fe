# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Rasterise grasp rectangles into the 4-channel training target maps (GR-ConvNet style).

Maps are ``float32 (4, H, W)`` in image pixels: ``[quality (0/1), cos 2θ, sin 2θ,
opening px / width_scale clipped to [0, 1]]``.
"""

from __future__ import annotations

from collections.abc import Iterable
import math

import cv2
from kufenet_grasp.grasp._checks import is_whole
from kufenet_grasp.grasp.rectangle import GraspRectangle
import numpy as np

#: opening (px) divided by this gives the width channel (GG-CNN's convention)
WIDTH_SCALE_PX = 150.0
#: fractional bits used by cv2.fillPoly for sub-pixel corner positions
_SHIFT = 4


def compact_polygon(rect: GraspRectangle) -> np.ndarray:
    """Corners ``(4, 2)`` px of the centre third of ``rect`` along its axis, full jaw."""
    return GraspRectangle(rect.center, rect.angle, rect.opening / 3.0, rect.jaw).corners()


def rasterise_grasps(rects: Iterable[GraspRectangle], shape: tuple[int, int],
                     width_scale: float = WIDTH_SCALE_PX) -> np.ndarray:
    """Target maps ``float32 (4, H, W)`` for ``rects`` (pixels of an ``H×W`` image).

    Each rectangle is filled on its compact polygon (opening/3 along the closing axis × full
    jaw, :func:`compact_polygon`); later rectangles overwrite earlier ones.

    Raises:
        ValueError: ``shape`` is not two positive ints or ``width_scale`` is not > 0.
    """
    if len(shape) != 2 or any(not is_whole(v) or v <= 0 for v in shape):
        raise ValueError(f'rasterise_grasps: shape must be (H, W) positive ints, got {shape!r}')
    if not (math.isfinite(width_scale) and width_scale > 0):
        raise ValueError(f'rasterise_grasps: width_scale must be > 0 px, got {width_scale!r}')
    height, width = int(shape[0]), int(shape[1])
    maps = np.zeros((4, height, width), dtype=np.float32)
    channels = [maps[i] for i in range(4)]
    for rect in rects:
        pts = np.round(compact_polygon(rect) * (1 << _SHIFT)).astype(np.int32)
        values = (1.0, math.cos(2.0 * rect.angle), math.sin(2.0 * rect.angle),
                  min(max(rect.opening / width_scale, 0.0), 1.0))
        for channel, value in zip(channels, values):
            cv2.fillPoly(channel, [pts], color=float(value), lineType=cv2.LINE_8,
                         shift=_SHIFT)
    return maps
