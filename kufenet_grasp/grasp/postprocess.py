# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Turn network output maps into ranked grasp rectangles (image pixels, radians).

Input maps are ``(4, H, W)`` ``[quality, cos 2θ, sin 2θ, width]`` in model-input pixels, the
width channel being the opening in px divided by ``width_scale``. Follows GR-ConvNet's
post-processing (Gaussian smoothing, local-maximum peaks), using OpenCV for speed.
"""

from __future__ import annotations

from functools import lru_cache
import math

import cv2
from kufenet_grasp.grasp._checks import is_whole
from kufenet_grasp.grasp.maps import WIDTH_SCALE_PX
from kufenet_grasp.grasp.rectangle import GraspRectangle
import numpy as np

#: values within this of a peak count as the same plateau
_PLATEAU_TOL = 1e-6


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing with std ``sigma`` px (no-op for sigma <= 0)."""
    if sigma <= 0:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma,
                            borderType=cv2.BORDER_REPLICATE)


@lru_cache(maxsize=16)
def _gaussian_kernel(sigma: float) -> np.ndarray:
    """1-D Gaussian weights of std ``sigma`` px, sized as cv2.GaussianBlur does for floats."""
    ksize = round(sigma * 8 + 1) | 1
    return cv2.getGaussianKernel(ksize, sigma)[:, 0]


def _blur_at(image: np.ndarray, row: int, col: int, sigma: float) -> float:
    """``_blur(image, sigma)[row, col]`` computed on the pixel's window only (fast)."""
    if sigma <= 0:
        return float(image[row, col])
    kernel = _gaussian_kernel(float(sigma))
    half = kernel.size // 2
    height, width = image.shape
    if half <= row < height - half and half <= col < width - half:
        window = image[row - half:row + half + 1, col - half:col + half + 1]
    else:  # replicate the border, as _blur does
        rows = np.clip(np.arange(row - half, row + half + 1), 0, height - 1)
        cols = np.clip(np.arange(col - half, col + half + 1), 0, width - 1)
        window = image[np.ix_(rows, cols)]
    return float(kernel @ window.astype(np.float64) @ kernel)


def _check_maps(maps: np.ndarray) -> np.ndarray:
    """Validate and return the maps as contiguous float32 ``(4, H, W)``."""
    arr = np.asarray(maps)
    if arr.ndim != 3 or arr.shape[0] != 4 or arr.shape[1] < 1 or arr.shape[2] < 1:
        raise ValueError(f'maps_to_grasps: maps must have shape (4, H, W), got {arr.shape}')
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f'maps_to_grasps: maps must be numeric, got dtype {arr.dtype}')
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError('maps_to_grasps: maps contain NaN or inf')
    return arr


def _plateau_centre(q: np.ndarray, row: int, col: int) -> tuple[int, int]:
    """Middle pixel of the flat top holding a peak (a plateau gives its centre, not a corner)."""
    mask = np.zeros((q.shape[0] + 2, q.shape[1] + 2), dtype=np.uint8)
    flags = 4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    count = cv2.floodFill(q, mask, (col, row), 0, _PLATEAU_TOL, _PLATEAU_TOL, flags)[0]
    if count <= 1:
        return row, col
    rows, cols = np.nonzero(mask[1:-1, 1:-1])
    r, c = round(float(rows.mean())), round(float(cols.mean()))
    if mask[r + 1, c + 1]:
        return r, c
    return row, col


def _is_window_max(quality: np.ndarray, row: int, col: int, radius: int) -> bool:
    """Whether ``quality[row, col]`` is the maximum of its ``(2 radius + 1)²`` window."""
    window = quality[max(row - radius, 0):row + radius + 1, max(col - radius, 0):col + radius + 1]
    return bool(quality[row, col] >= window.max())


def find_peaks(quality: np.ndarray, top_k: int, min_distance: int, threshold: float,
               exclude_border: int = 0) -> list[tuple[int, int]]:
    """Local maxima ``(row, col)`` of a smoothed quality map, best first.

    A peak is the maximum of its ``(2 m + 1)²`` window (``m = max(min_distance, 1)`` px),
    is at least ``threshold`` and lies more than ``min_distance`` px (Chebyshev) from every
    better peak. 3×3 local maxima (one cheap cv2.dilate) are the candidates; the big window
    is checked only for candidates that could be accepted.
    """
    dilated = cv2.dilate(quality, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    mask = (quality >= dilated) & (quality >= threshold)
    if exclude_border > 0:
        b = exclude_border
        mask[:b, :] = False
        mask[-b:, :] = False
        mask[:, :b] = False
        mask[:, -b:] = False
    flat = np.flatnonzero(mask)
    if flat.size == 0:
        return []
    order = flat[np.argsort(-quality.ravel()[flat], kind='stable')]
    width = quality.shape[1]
    peaks: list[tuple[int, int]] = []
    for index in order:
        row, col = divmod(int(index), width)
        if all(max(abs(row - r), abs(col - c)) > min_distance for r, c in peaks) \
                and _is_window_max(quality, row, col, max(min_distance, 1)):
            peaks.append((row, col))
            if len(peaks) >= top_k:
                break
    centred = [_plateau_centre(quality, r, c) for r, c in peaks]
    return list(dict.fromkeys(centred))  # two peaks of one plateau give one grasp


def maps_to_grasps(maps: np.ndarray, *, top_k: int = 1, min_distance: int = 20,
                   quality_threshold: float = 0.2, sigma_quality: float = 2.0,
                   sigma_angle: float = 2.0, sigma_width: float = 1.0,
                   width_scale: float = WIDTH_SCALE_PX, jaw_ratio: float = 0.5,
                   exclude_border: int = 0) -> list[GraspRectangle]:
    """Best ``top_k`` grasps (pixels of the maps) from ``(4, H, W)`` output maps.

    The quality map is smoothed with a Gaussian (std in px) before peak picking; cos, sin
    and width are smoothed likewise, evaluated at the peaks only, and
    ``angle = 0.5 * atan2(sin, cos)``; ``opening = width * width_scale`` px and
    ``jaw = opening * jaw_ratio`` px. ``exclude_border`` px at each edge hold no peaks
    (GR-ConvNet's skimage call excludes ``min_distance``; 0 here keeps edge grasps).

    Returns:
        Up to ``top_k`` rectangles sorted best first (empty when no peak passes the threshold).

    Raises:
        ValueError: bad shape, NaN/inf maps or invalid parameters.
    """
    if not is_whole(top_k) or top_k < 1:
        raise ValueError(f'maps_to_grasps: top_k must be an int >= 1, got {top_k!r}')
    if not is_whole(min_distance) or min_distance < 0:
        raise ValueError(f'maps_to_grasps: min_distance must be an int >= 0 px, '
                         f'got {min_distance!r}')
    if not is_whole(exclude_border) or exclude_border < 0:
        raise ValueError(f'maps_to_grasps: exclude_border must be an int >= 0 px, '
                         f'got {exclude_border!r}')
    for name, value in (('sigma_quality', sigma_quality), ('sigma_angle', sigma_angle),
                        ('sigma_width', sigma_width), ('width_scale', width_scale),
                        ('jaw_ratio', jaw_ratio), ('quality_threshold', quality_threshold)):
        if not math.isfinite(value):
            raise ValueError(f'maps_to_grasps: {name} must be finite, got {value!r}')
    if width_scale <= 0 or jaw_ratio < 0:
        raise ValueError(f'maps_to_grasps: width_scale must be > 0 and jaw_ratio >= 0, '
                         f'got {width_scale!r}, {jaw_ratio!r}')
    arr = _check_maps(maps)
    quality = _blur(arr[0], sigma_quality)
    peaks = find_peaks(quality, int(top_k), int(min_distance), float(quality_threshold),
                       int(exclude_border))
    if not peaks:
        return []
    grasps = []
    for row, col in peaks:
        cos2 = _blur_at(arr[1], row, col, sigma_angle)
        sin2 = _blur_at(arr[2], row, col, sigma_angle)
        opening = max(_blur_at(arr[3], row, col, sigma_width), 0.0) * width_scale
        grasps.append(GraspRectangle(
            center=(float(col), float(row)), angle=0.5 * math.atan2(sin2, cos2),
            opening=opening, jaw=opening * jaw_ratio, quality=float(quality[row, col])))
    return grasps
