# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Depth-image look-ups and sanity checks.

Depth images are float32 ``H×W`` in metres with NaN for invalid pixels (docs/ARCHITECTURE.md).
Pixel coordinates are ``(u, v)`` = (column, row) in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

#: a frame with fewer valid pixels than this fraction is reported by :func:`check_depth_frame`
MIN_VALID_FRACTION = 0.05


def _check_depth(depth_m: np.ndarray, caller: str) -> np.ndarray:
    arr = np.asarray(depth_m)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f'{caller}: depth_m must be a non-empty H×W array, got shape {arr.shape}')
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f'{caller}: depth_m must be float metres (NaN invalid), got dtype '
                         f'{arr.dtype}; convert 16UC1 millimetres with image_to_numpy first')
    return arr


def valid_mask(depth_m: np.ndarray,
               valid_range: tuple[float, float] | None = None) -> np.ndarray:
    """Boolean H×W mask of finite, > 0 depths (inside ``valid_range`` metres when given)."""
    arr = _check_depth(depth_m, 'valid_mask')
    with np.errstate(invalid='ignore'):
        mask = np.isfinite(arr) & (arr > 0)
        if valid_range is not None:
            lo, hi = valid_range
            mask &= (arr >= lo) & (arr <= hi)
    return mask


def depth_at(depth_m: np.ndarray, u: float, v: float, radius_px: int = 0,
             valid_range: tuple[float, float] | None = None) -> float | None:
    """Depth in metres at pixel ``(u, v)``, or near it, or None.

    Returns the pixel's own depth if valid. Otherwise it looks at the valid pixels within
    ``radius_px`` (Euclidean, pixels) and returns the median of the nearest ring of them
    (those within one pixel of the smallest distance found). None if there are none, or if
    ``(u, v)`` lies outside the image.
    """
    arr = _check_depth(depth_m, 'depth_at')
    if radius_px < 0:
        raise ValueError(f'depth_at: radius_px must be >= 0, got {radius_px}')
    if not (np.isfinite(u) and np.isfinite(v)):
        raise ValueError(f'depth_at: pixel must be finite, got ({u}, {v})')
    h, w = arr.shape
    col, row = round(u), round(v)
    if not (0 <= col < w and 0 <= row < h):
        return None
    z = float(arr[row, col])  # the common case: the pixel itself is valid
    if math.isfinite(z) and z > 0 and (valid_range is None
                                       or valid_range[0] <= z <= valid_range[1]):
        return z
    r = int(radius_px)
    r0, r1 = max(0, row - r), min(h, row + r + 1)
    c0, c1 = max(0, col - r), min(w, col + r + 1)
    window = arr[r0:r1, c0:c1]
    mask = valid_mask(window, valid_range)
    if mask[row - r0, col - c0]:
        return float(window[row - r0, col - c0])
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return None
    dist = np.hypot(rows + r0 - row, cols + c0 - col)
    inside = dist <= r
    if not np.any(inside):
        return None
    dist, rows, cols = dist[inside], rows[inside], cols[inside]
    ring = dist < dist.min() + 1.0
    return float(np.median(window[rows[ring], cols[ring]]))


@dataclass(frozen=True)
class DepthStats:
    """Summary of a depth frame: counts in pixels, depths in metres (NaN when none valid)."""

    valid_pixels: int
    total_pixels: int
    min_m: float
    max_m: float
    median_m: float


def depth_stats(depth_m: np.ndarray,
                valid_range: tuple[float, float] | None = None) -> DepthStats:
    """Count the valid pixels of a depth frame and give their min / max / median (metres)."""
    arr = _check_depth(depth_m, 'depth_stats')
    values = arr[valid_mask(arr, valid_range)]
    if values.size == 0:
        return DepthStats(0, arr.size, float('nan'), float('nan'), float('nan'))
    return DepthStats(int(values.size), int(arr.size), float(values.min()),
                      float(values.max()), float(np.median(values)))


def check_depth_frame(depth_m: np.ndarray, valid_range: tuple[float, float] = (0.1, 2.0),
                      min_valid_fraction: float = MIN_VALID_FRACTION) -> list[str]:
    """Problems of a depth frame as human-readable strings; an empty list means usable.

    Reports an all-NaN frame, an all-zero frame (often a 16UC1 image read as metres or an
    unplugged sensor), and frames with too few pixels inside ``valid_range`` metres.
    """
    arr = _check_depth(depth_m, 'check_depth_frame')
    lo, hi = valid_range
    if not 0 <= lo < hi:
        raise ValueError(f'check_depth_frame: valid_range must be (lo, hi) with 0 <= lo < hi '
                         f'metres, got {valid_range}')
    with np.errstate(invalid='ignore'):  # NaN compares False: one pass, no isfinite
        in_range = (arr >= lo) & (arr <= hi)
        if lo == 0:
            in_range &= arr > 0
    valid = int(np.count_nonzero(in_range))  # no median: this runs on every frame
    fraction = valid / arr.size
    if valid == 0 or fraction < min_valid_fraction:  # say why, from the cheap count first
        finite = np.isfinite(arr)
        if not finite.any():
            # 16UC1 and 16-bit files mark "no measurement" with 0, read as NaN before here
            return ['depth frame is all NaN/inf (all 0 in a 16-bit image): no valid pixel; is '
                    'the depth stream running and the depth emitter on?']
        if np.all(arr[finite] == 0):
            return ['depth frame is all zero: no valid pixel (0 marks invalid depth)']
    problems = []
    if fraction < min_valid_fraction:
        problems.append(
            f'too few valid depth pixels: {valid}/{arr.size} '
            f'({100 * fraction:.1f}% < {100 * min_valid_fraction:.1f}%) inside '
            f'{lo:.2f}-{hi:.2f} m (camera too close/far, or depth in millimetres?)')
    return problems
