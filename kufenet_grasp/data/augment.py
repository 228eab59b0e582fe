# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Geometric augmentation of a :class:`GraspSample`, keeping the labels aligned.

Every augmentation is a 2×3 affine matrix ``M`` in pixel coordinates (x right, y down) that
maps an input pixel to an output pixel. Colour, depth and mask are warped with OpenCV and
the rectangles are mapped through the same matrix: centre by ``M``, closing-axis direction
by its linear part (so a mirror negates the angle and a zoom scales opening and jaw).
Angles follow the project convention: radians, counter-clockwise as displayed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
import math
from typing import Any, TYPE_CHECKING

import cv2
from kufenet_grasp.data.sample import GraspSample
import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kufenet_grasp.grasp.rectangle import GraspRectangle


def _wrap_angle(angle: float) -> float:
    """Wrap an angle in radians to ``[-pi/2, pi/2)``."""
    return float((angle + math.pi / 2) % math.pi - math.pi / 2)


def _as_3x3(matrix: np.ndarray) -> np.ndarray:
    """Homogeneous 3×3 form of a 2×3 affine matrix."""
    out = np.eye(3)
    out[:2] = np.asarray(matrix, dtype=np.float64).reshape(2, 3)
    return out


def compose(*matrices: np.ndarray) -> np.ndarray:
    """Affine matrix applying ``matrices[0]`` first, then ``matrices[1]``, ... (2×3)."""
    out = np.eye(3)
    for m in matrices:
        out = _as_3x3(m) @ out
    return out[:2]


def rotation_matrix(angle: float, center: tuple[float, float]) -> np.ndarray:
    """2×3 matrix rotating by ``angle`` rad counter-clockwise as displayed about ``center`` px."""
    return cv2.getRotationMatrix2D((float(center[0]), float(center[1])), math.degrees(angle), 1.0)


def zoom_matrix(factor: float, center: tuple[float, float], out_center: tuple[float, float]
                ) -> np.ndarray:
    """2×3 matrix that shows a window ``factor`` times the output size around ``center`` px.

    ``factor`` in (0, 1] zooms in (a centre crop resized to the output): scale 1/factor;
    ``factor`` > 1 zooms out (the image shrinks inside the output).
    """
    if not factor > 0:
        raise ValueError(f'zoom_matrix: factor must be > 0, got {factor}')
    s = 1.0 / factor
    cx, cy = center
    ox, oy = out_center
    return np.array([[s, 0.0, ox - s * cx], [0.0, s, oy - s * cy]])


def flip_matrix(width: int, height: int, horizontal: bool) -> np.ndarray:
    """2×3 matrix mirroring a ``width``×``height`` image left-right (or top-bottom)."""
    if horizontal:
        return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]])
    return np.array([[1.0, 0.0, 0.0], [0.0, -1.0, height - 1.0]])


def transform_rectangle(rect: GraspRectangle, matrix: np.ndarray) -> GraspRectangle:
    """Map one rectangle (pixels, radians) through a 2×3 affine matrix."""
    m = np.asarray(matrix, dtype=np.float64).reshape(2, 3)
    x, y = rect.center
    cx, cy = m @ np.array([x, y, 1.0])
    axis = np.array([math.cos(rect.angle), -math.sin(rect.angle)])  # closing axis, y down
    normal = np.array([math.sin(rect.angle), math.cos(rect.angle)])
    new_axis = m[:, :2] @ axis
    new_normal = m[:, :2] @ normal
    angle = _wrap_angle(math.atan2(-new_axis[1], new_axis[0]))
    return replace(
        rect,
        center=(float(cx), float(cy)),
        angle=angle,
        opening=float(rect.opening * np.linalg.norm(new_axis)),
        jaw=float(rect.jaw * np.linalg.norm(new_normal)),
    )


def transform_rectangles(rects: Sequence[GraspRectangle], matrix: np.ndarray
                         ) -> list[GraspRectangle]:
    """Map rectangles (pixels) through a 2×3 affine matrix."""
    return [transform_rectangle(r, matrix) for r in rects]


def warp_sample(sample: GraspSample, matrix: np.ndarray,
                out_size: tuple[int, int] | None = None) -> GraspSample:
    """Apply a 2×3 affine pixel transform to colour, depth, mask and rectangles together.

    Args:
        sample: the input sample.
        matrix: maps input pixel (x, y) to output pixel.
        out_size: output ``(width, height)`` in pixels; default the input size.

    Colour and depth are sampled bilinearly with replicated borders (depth NaN stays NaN);
    the mask uses nearest neighbour and zero borders.
    """
    h, w = sample.shape
    size = (w, h) if out_size is None else (int(out_size[0]), int(out_size[1]))
    m = np.asarray(matrix, dtype=np.float64).reshape(2, 3)
    # replicated borders: a zoom-out must not mirror labelled objects into unlabelled copies
    rgb = cv2.warpAffine(sample.rgb, m, size, flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    depth = cv2.warpAffine(sample.depth, m, size, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    mask = None
    if sample.mask is not None:
        mask = cv2.warpAffine(sample.mask, m, size, flags=cv2.INTER_NEAREST,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return GraspSample(
        rgb=rgb,
        depth=depth.astype(np.float32),
        rectangles=transform_rectangles(sample.rectangles, m),
        object_id=sample.object_id,
        name=sample.name,
        mask=mask,
    )


def random_augment_matrix(
    rng: np.random.Generator,
    size: tuple[int, int],
    *,
    rotate90: bool = True,
    max_rotation: float = 0.0,
    zoom_range: tuple[float, float] = (0.5, 1.0),
    hflip: bool = True,
    vflip: bool = True,
) -> np.ndarray:
    """Draw a random augmentation for an image of ``size = (width, height)`` px (2×3 matrix).

    In order: rotation about the image centre by a multiple of 90° (if ``rotate90``) plus
    U(-max_rotation, max_rotation) rad; zoom U(zoom_range) as a centre crop resized to the
    full image (GR-ConvNet: 0.5..1); horizontal then vertical flip, each with p = 0.5.
    """
    lo, hi = zoom_range
    if not 0 < lo <= hi:
        raise ValueError(f'random_augment: zoom_range must satisfy 0 < lo <= hi, got {zoom_range}')
    if max_rotation < 0:
        raise ValueError(f'random_augment: max_rotation must be >= 0 rad, got {max_rotation}')
    w, h = size
    centre = ((w - 1) / 2.0, (h - 1) / 2.0)
    quarter = int(rng.integers(4)) if rotate90 else 0
    small = float(rng.uniform(-max_rotation, max_rotation)) if max_rotation > 0 else 0.0
    factor = float(rng.uniform(lo, hi))
    do_h = bool(rng.random() < 0.5) and hflip
    do_v = bool(rng.random() < 0.5) and vflip
    steps = [rotation_matrix(quarter * math.pi / 2 + small, centre),
             zoom_matrix(factor, centre, centre)]
    if do_h:
        steps.append(flip_matrix(w, h, horizontal=True))
    if do_v:
        steps.append(flip_matrix(w, h, horizontal=False))
    return compose(*steps)


def random_augment(sample: GraspSample, rng: np.random.Generator, **options: Any
                   ) -> GraspSample:
    """Randomly rotate, zoom and flip ``sample``, keeping its size.

    See :func:`random_augment_matrix` for the options and the order of the steps.
    """
    h, w = sample.shape
    matrix = random_augment_matrix(rng, (w, h), **options)
    return warp_sample(sample, matrix)


def bend_depth(depth_m: np.ndarray, rng: np.random.Generator, amplitude_m: float = 0.015
               ) -> np.ndarray:
    """Add a random smooth surface (m) to a square depth image: a tilt and a bowl or saddle.

    Teaches a network fed support-relative depth that a support never comes out exactly flat
    (depth distortion of real sensors, a slightly wrong calibration): each of the five terms
    ``u, v, u², v², uv`` (``u, v`` in [-1, 1] across the image) gets a coefficient drawn from
    ``±amplitude_m / 2``. NaN pixels stay NaN.
    """
    if amplitude_m < 0:
        raise ValueError(f'bend_depth: amplitude_m must be >= 0, got {amplitude_m}')
    height, width = depth_m.shape
    v, u = np.mgrid[-1:1:complex(0, height), -1:1:complex(0, width)]
    c = rng.uniform(-amplitude_m / 2, amplitude_m / 2, 5)
    surface = c[0] * u + c[1] * v + c[2] * u * u + c[3] * v * v + c[4] * u * v
    return (depth_m + surface).astype(np.float32)


#: widths (m) below which :func:`coarsen_depth` removes structures, drawn per image
COARSE_DEPTH_WIDTH_M: tuple[float, float] = (0.005, 0.025)


def coarsen_depth(depth_m: np.ndarray, rng: np.random.Generator, px_per_m: float,
                  width_m: tuple[float, float] = COARSE_DEPTH_WIDTH_M) -> np.ndarray:
    """Remove from a depth image (m) the raised structures narrower than a random width.

    A structured-light or stereo sensor matches windows of several pixels, so structures
    narrower than a window (a glasses frame, a cable, a pen at a metre) come back at the
    depth around them while the colour image still shows them. A grey closing (maximum,
    then minimum filter) with a disc of a width drawn from ``width_m`` (m, converted with
    ``px_per_m`` px per metre at the support) removes them; a Gaussian of a quarter of that
    width rounds the edges that remain. The labels do not change, so a network learns to
    find such objects from colour. NaN pixels stay NaN.
    """
    lo, hi = width_m
    if px_per_m <= 0 or not 0 < lo <= hi:
        raise ValueError(f'coarsen_depth: px_per_m must be > 0 and width_m (lo, hi) with '
                         f'0 < lo <= hi, got {px_per_m}, {width_m}')
    width_px = float(rng.uniform(lo, hi)) * px_per_m
    side = max(int(round(width_px)) | 1, 3)
    valid = np.isfinite(depth_m)
    if not valid.any():
        return depth_m
    # holes take the typical depth (the support's, which fills most of a window), so that
    # the maximum filter does not spread them over the objects beside them
    typical = float(np.median(depth_m[valid]))
    filled = np.where(valid, depth_m, typical).astype(np.float32)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    closed = cv2.morphologyEx(filled, cv2.MORPH_CLOSE, disc, borderType=cv2.BORDER_REPLICATE)
    sigma = width_px / 4
    smooth = cv2.GaussianBlur(closed, (0, 0), sigmaX=sigma, sigmaY=sigma,
                              borderType=cv2.BORDER_REPLICATE)
    return np.where(valid, smooth, np.nan).astype(np.float32)
