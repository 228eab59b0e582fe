# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The network input of one RGB-D frame, made the same way wherever the camera is mounted.

:class:`InputSpec` says how a model's input was made in training (it is stored in the
weights metadata) and :func:`prepare_input` makes it from a camera frame:

1. depth that is range (distance from the camera centre, as Cornell's) becomes z-depth;
2. **metric window**: the square of ``window_m`` metres at the support, centred on the
   region of interest, from the intrinsics and the support depth, so that an object covers
   the same number of input pixels at 0.3 m and at 1.5 m; with ``on_objects`` the window
   then moves onto what stands on the support near that centre;
3. **support plane**: a robust fit of the dominant plane (:mod:`kufenet_grasp.geometry.
   support_plane`); the network sees the virtual depth of a camera looking straight down at
   it (plane depth at the window centre minus each point's height above the plane), so the
   camera's tilt no longer shows in the input. Without a dominant plane the frame's own
   depth is used and the outcome says so.

A spec without a window and without the plane is the legacy input (a square crop in pixels,
depth relative to its mean): weights files written before specs existed get it.
Frames: source-image pixels ``(x, y)``, model-input pixels ``(u, v)``; depth in metres.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
import math
from typing import Any

import cv2
from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.support_plane import fit_support_plane, SupportPlane
from kufenet_grasp.grasp.preprocess import (
    apply_crop,
    CropTransform,
    make_crop,
    MAX_CROP_SIDES,
    normalise_rgbd,
)
import numpy as np

#: version tag of the ``input_spec`` metadata of a weights file
INPUT_SPEC_FORMAT = 'kufenet-input/1'
#: smallest metric window side, source pixels (a far camera; the largest is make_crop's)
MIN_WINDOW_PX = 32
#: support states reported in a detection outcome
SUPPORT_STATES = ('plane', 'none', 'off')


@dataclass(frozen=True)
class InputSpec:
    """How a model's input is made from a frame (see the module docstring).

    Attributes:
        window_m: side of the metric input window at the support, metres; None: a square
            crop in pixels (legacy).
        support_plane: feed depth relative to the fitted support plane.
        min_plane_inliers: least share of valid pixels on the plane for it to count as the
            support, [0, 1].
        on_objects: centre the metric window on what stands on the support plane near the
            region of interest's centre (:func:`choose_window`) rather than on that centre:
            training windows are centred on the objects (the generator aims its camera at
            them), a robot's region of interest need not be.

    """

    window_m: float | None = None
    support_plane: bool = False
    min_plane_inliers: float = 0.3
    on_objects: bool = False
    format: str = field(default=INPUT_SPEC_FORMAT)  # noqa: A003 (the metadata key's name)

    def __post_init__(self) -> None:
        """Validate the fields."""
        if self.window_m is not None and not (isinstance(self.window_m, (int, float))
                                              and 0.02 <= float(self.window_m) <= 5.0):
            raise ValueError(f'InputSpec.window_m must be None or in [0.02, 5] m, '
                             f'got {self.window_m!r}')
        if not 0.0 <= float(self.min_plane_inliers) <= 1.0:
            raise ValueError(f'InputSpec.min_plane_inliers must be in [0, 1], '
                             f'got {self.min_plane_inliers!r}')

    @property
    def is_legacy(self) -> bool:
        """True for the pixel-crop input without plane handling."""
        return self.window_m is None and not self.support_plane

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``input_spec`` metadata of a weights file)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> InputSpec:
        """Read the ``input_spec`` metadata; None or ``{}`` gives the legacy input.

        Raises:
            ValueError: an unknown format or field, or bad values.

        """
        if not data:
            return LEGACY_INPUT
        if not isinstance(data, dict):
            raise ValueError(f'input_spec must be a mapping, got {type(data).__name__}')
        fmt = data.get('format', INPUT_SPEC_FORMAT)
        if fmt != INPUT_SPEC_FORMAT:
            raise ValueError(f'input_spec format {fmt!r} is not {INPUT_SPEC_FORMAT!r}')
        unknown = set(data) - {'window_m', 'support_plane', 'min_plane_inliers', 'on_objects',
                               'format'}
        if unknown:
            raise ValueError(f'input_spec has unknown fields {sorted(unknown)}')
        window = data.get('window_m')
        return cls(window_m=None if window is None else float(window),
                   support_plane=bool(data.get('support_plane', False)),
                   min_plane_inliers=float(data.get('min_plane_inliers', 0.3)),
                   on_objects=bool(data.get('on_objects', False)))


#: the input of weights files without an ``input_spec`` (pixel crop, depth minus its mean)
LEGACY_INPUT = InputSpec()
#: the input the shipped weights are trained with: a 0.4 m window, support plane removed
METRIC_INPUT = InputSpec(window_m=0.4, support_plane=True)


@dataclass
class InputWindow:
    """Where the network looks in a frame and what it found there.

    Attributes:
        crop: source pixels → model-input pixels.
        plane: the support plane in source pixels, or None.
        support: ``'plane'`` (fitted), ``'none'`` (looked for, not found) or ``'off'``.
        plane_inliers: share of valid pixels on the best plane candidate, [0, 1].
        reference_depth_m: depth (m) the virtual top-down camera sees the support at.
        notes: what fell back, in words (empty when all went as specified).

    """

    crop: CropTransform
    plane: SupportPlane | None
    support: str
    plane_inliers: float
    reference_depth_m: float
    notes: list[str] = field(default_factory=list)


#: largest window shift of the training augmentation (a fraction of the window side, per axis)
MAX_WINDOW_SHIFT = 0.5
#: heights above the support (m) of what counts as an object when the window goes to the
#: objects: above the support's depth noise, below an arm or a shelf reaching into the view
OBJECT_HEIGHT_M = (0.01, 0.4)
#: the search for objects samples its region on a grid of about this many pixels a side
OBJECT_GRID_PX = 160
#: fewest grid pixels on objects for the window to move (fewer: noise, not an object)
MIN_OBJECT_PIXELS = 12


def shift_window(window: InputWindow, image_hw: tuple[int, int], dx_px: float, dy_px: float
                 ) -> InputWindow:
    """``window`` with its crop moved by ``(dx_px, dy_px)`` source px (kept inside the image).

    The side stays (the scale is the window's), the plane stays (it is the support's, not the
    window's) and the reference depth becomes the plane's at the new centre; without a plane
    it is kept. Used by training to move objects off the window centre with real image content
    rather than padded borders.
    """
    old = window.crop
    center = (old.x0 + (old.side - 1) / 2.0 + dx_px, old.y0 + (old.side - 1) / 2.0 + dy_px)
    crop = make_crop(image_hw, old.out_size, 'center', center_xy=center, side=old.side)
    reference = _reference_depth(crop, window.plane, lambda _: window.reference_depth_m)
    return replace(window, crop=crop, reference_depth_m=float(reference or 0.0))


def range_to_z(depth_range_m: np.ndarray, camera: PinholeCamera) -> np.ndarray:
    """Convert range (m, distance from the camera centre) to z-depth (m, along the axis)."""
    depth = np.asarray(depth_range_m, dtype=np.float32)
    height, width = depth.shape
    xs = (np.arange(width, dtype=np.float32) - camera.cx) / camera.fx
    ys = (np.arange(height, dtype=np.float32) - camera.cy) / camera.fy
    norm = np.sqrt(1.0 + xs[None, :] ** 2 + ys[:, None] ** 2)
    return (depth / norm).astype(np.float32)


def _valid(depth: np.ndarray) -> np.ndarray:
    with np.errstate(invalid='ignore'):
        return np.isfinite(depth) & (depth > 0)


#: the median depth of a window is taken over at most about this many pixels (a regular grid)
MEDIAN_SAMPLES = 16384


def _median_depth(depth: np.ndarray, crop: CropTransform) -> float | None:
    """Median valid depth (m) inside the source window of ``crop``.

    Taken on a regular grid of at most about :data:`MEDIAN_SAMPLES` pixels: on every pixel of
    a large window the median costs milliseconds a frame, and the grid's differs from it by
    far less than the depth noise.
    """
    height, width = depth.shape
    x0, y0 = max(crop.x0, 0), max(crop.y0, 0)
    x1, y1 = min(crop.x0 + crop.side, width), min(crop.y0 + crop.side, height)
    stride = max(1, math.isqrt(max(0, (y1 - y0) * (x1 - x0)) // MEDIAN_SAMPLES))
    region = depth[y0:y1:stride, x0:x1:stride]
    values = region[_valid(region)]
    return float(np.median(values)) if values.size else None


def _region_plane(depth: np.ndarray, region: CropTransform, min_inliers: float
                  ) -> tuple[SupportPlane | None, float]:
    """Fit the support plane in the part of ``depth`` inside ``region`` (source pixels)."""
    height, width = depth.shape
    x0, y0 = max(region.x0, 0), max(region.y0, 0)
    x1, y1 = min(region.x0 + region.side, width), min(region.y0 + region.side, height)
    plane, fraction = fit_support_plane(depth[y0:y1, x0:x1], min_inlier_fraction=min_inliers)
    if plane is None:
        return None, fraction
    return plane.shifted(-x0, -y0), fraction  # back to the pixels of the whole image


def _metric_crop(image_hw: tuple[int, int], out_size: int, center: tuple[float, float],
                 window_m: float, camera: PinholeCamera, depth_m: float) -> CropTransform:
    """Return the square of ``window_m`` metres at ``depth_m`` around ``center`` px."""
    side = max(MIN_WINDOW_PX, round(float(window_m) * camera.fx / depth_m))
    return make_crop(image_hw, out_size, 'center', center_xy=center, side=side)


def _reference_depth(crop: CropTransform, plane: SupportPlane | None,
                     median_in: Callable[[CropTransform], float | None]) -> float | None:
    """Support depth (m) at the centre of ``crop``: the plane's, else ``median_in(crop)``."""
    if plane is not None:
        value = float(plane.depth_m(crop.x0 + (crop.side - 1) / 2.0,
                                    crop.y0 + (crop.side - 1) / 2.0))
        if math.isfinite(value) and value > 0:
            return value
    return median_in(crop)


def _objects_center(depth: np.ndarray, region: CropTransform, plane: SupportPlane,
                    camera: PinholeCamera, window_side: int) -> tuple[float, float] | None:
    """Centre (source px) of a window placed on what stands on ``plane`` inside ``region``.

    The region is sampled on a grid; the pixels :data:`OBJECT_HEIGHT_M` above the plane are
    the objects. The window goes where it covers most of them (a box filter of the window's
    side over the grid), centred on the objects it then covers. None: too few object pixels.
    """
    height, width = depth.shape
    x0, y0 = max(region.x0, 0), max(region.y0, 0)
    x1, y1 = min(region.x0 + region.side, width), min(region.y0 + region.side, height)
    stride = max(1, max(x1 - x0, y1 - y0) // OBJECT_GRID_PX)
    xs = np.arange(x0, x1, stride, dtype=np.float64)
    ys = np.arange(y0, y1, stride, dtype=np.float64)
    inverse = plane.inverse_depth(xs[None, :], ys[:, None], np.float32)
    with np.errstate(invalid='ignore'):
        above = (np.float32(1.0) - depth[y0:y1:stride, x0:x1:stride] * inverse) * np.float32(
            1.0 / plane.normal_scale(camera))
        low, high = OBJECT_HEIGHT_M
        objects = (above > low) & (above < high) & (inverse > 0)
    if int(objects.sum()) < MIN_OBJECT_PIXELS:
        return None
    side = max(1, round(window_side / stride))
    covered = cv2.boxFilter(objects.astype(np.float32), -1, (side, side), normalize=False,
                            borderType=cv2.BORDER_CONSTANT)
    row, col = np.unravel_index(int(np.argmax(covered)), covered.shape)
    rows, cols = np.nonzero(objects)
    half = side / 2.0
    near = (np.abs(rows - row) <= half) & (np.abs(cols - col) <= half)
    return float(xs[cols[near]].mean()), float(ys[rows[near]].mean())


def choose_window(depth_z: np.ndarray, spec: InputSpec, out_size: int,
                  camera: PinholeCamera | None = None,
                  center_xy: tuple[float, float] | None = None,
                  side_px: int | None = None, crop_mode: str = 'center',
                  on_objects: bool | None = None) -> InputWindow:
    """Choose the input window of a z-depth frame (m) and fit its support plane.

    ``center_xy`` (source px, default the image centre) is the centre of the region of
    interest; ``side_px`` and ``crop_mode`` give the pixel window of the legacy input (see
    :func:`~kufenet_grasp.grasp.preprocess.make_crop`) and the region the plane is fitted
    in. A metric window needs ``camera``; without it the pixel window is used and the
    notes say so. ``on_objects`` (default: the spec's) moves a metric window with a support
    plane onto what stands on the plane where the plane was fitted (the window's first
    guess, around the region's centre; :func:`_objects_center`); without objects it stays
    on the centre.
    """
    depth = np.asarray(depth_z, dtype=np.float32)
    if on_objects is None:
        on_objects = spec.on_objects
    notes: list[str] = []
    medians: dict[CropTransform, float | None] = {}

    def median_in(window: CropTransform) -> float | None:
        # a window sized from a median is often the one that median was taken in: once each
        if window not in medians:
            medians[window] = _median_depth(depth, window)
        return medians[window]

    if crop_mode == 'full' and center_xy is None and side_px is None:
        region = make_crop(depth.shape, out_size, 'full')
    else:
        region = make_crop(depth.shape, out_size, 'center', center_xy=center_xy, side=side_px)
    center = (region.x0 + (region.side - 1) / 2.0, region.y0 + (region.side - 1) / 2.0)
    # (window side m, camera) when the window is metric, None for a pixel window
    metric = None
    if spec.window_m is not None and camera is not None:
        metric = (spec.window_m, camera)
    elif spec.window_m is not None:
        notes.append('no camera intrinsics: the input window is in pixels, not metres')
    if metric is not None:  # a first guess of the window from the median depth, to fit the plane
        guess = median_in(region)
        if guess is None:
            notes.append('no valid depth near the region of interest: window in pixels')
            metric = None
        else:
            region = _metric_crop(depth.shape, out_size, center, *metric, guess)
    plane, fraction = None, 0.0
    fitted_in = region  # the plane holds here; beyond, its curvature terms extrapolate
    if spec.support_plane:
        plane, fraction = _region_plane(depth, region, spec.min_plane_inliers)
        if plane is None:
            notes.append(f'no support plane (best candidate holds {100 * fraction:.0f}% of '
                         f'the valid pixels, needs {100 * spec.min_plane_inliers:.0f}%): '
                         f'depth used as seen')
    reference = _reference_depth(region, plane, median_in)
    crop = region
    if metric is not None and reference is not None:
        crop = _metric_crop(depth.shape, out_size, center, *metric, reference)
        reference = _reference_depth(crop, plane, median_in)
    if on_objects and metric is not None and plane is not None and camera is not None:
        found = _objects_center(depth, fitted_in, plane, camera, crop.side)
        if found is not None:
            here = make_crop(depth.shape, out_size, 'center', center_xy=found, side=crop.side)
            at_objects = _reference_depth(here, plane, median_in)
            if at_objects is not None:
                crop = _metric_crop(depth.shape, out_size, found, *metric, at_objects)
                reference = _reference_depth(crop, plane, median_in)
    if crop.side >= MAX_CROP_SIDES * max(depth.shape):  # make_crop's limit
        why = (f'the support is nearer than a {spec.window_m:.2f} m window fits (camera too '
               f'close, depth not in metres, or focal length wrong?)' if metric is not None
               else 'the region of interest is far larger than the image')
        notes.append(f'{why}: window clamped to {crop.side} px ({MAX_CROP_SIDES}x the image '
                     f'side)')
    support = 'off' if not spec.support_plane else ('plane' if plane is not None else 'none')
    return InputWindow(crop, plane, support, fraction, float(reference or 0.0), notes)


def _source_axes(crop: CropTransform) -> tuple[np.ndarray, np.ndarray]:
    """Source pixel columns ``x`` and rows ``y`` of the model-input pixel centres (S each)."""
    u = np.arange(crop.out_size, dtype=np.float64)
    src = (u + 0.5) / crop.scale - 0.5
    return src + crop.x0, src + crop.y0


def flatten_support(depth_in: np.ndarray, window: InputWindow,
                    image_hw: tuple[int, int], camera: PinholeCamera | None = None
                    ) -> np.ndarray:
    """Virtual top-down depth (m) of a cropped depth image ``depth_in`` (S×S, z metres).

    With a plane: ``reference depth - height above the plane`` (outside the source image: the
    plane itself); without one, ``depth_in`` with the outside filled by the reference depth.
    In-image invalid pixels stay NaN (inpainted by :func:`normalise_rgbd`).
    """
    xs, ys = _source_axes(window.crop)
    height, width = image_hw
    depth = np.asarray(depth_in, dtype=np.float32)
    reference = np.float32(window.reference_depth_m)
    if window.plane is None:
        out = depth.copy()
    else:
        # height above the plane: (1 - z / z_plane) / |m| with a camera (perpendicular),
        # z_plane - z without one; float32 on broadcast axes (this runs on every frame)
        inverse = window.plane.inverse_depth(xs[None, :], ys[:, None], np.float32)
        with np.errstate(divide='ignore', invalid='ignore'):
            if camera is None:
                heights = np.float32(1.0) / inverse - depth
            else:
                heights = (np.float32(1.0) - depth * inverse) * np.float32(
                    1.0 / window.plane.normal_scale(camera))
            out = np.asarray(reference - heights, dtype=np.float32)
            out[~((out > 0) & (inverse > 0))] = np.nan  # above the virtual camera, behind it
    if window.reference_depth_m > 0:
        out[:, (xs < -0.5) | (xs > width - 0.5)] = reference
        out[(ys < -0.5) | (ys > height - 0.5), :] = reference
    return out


@dataclass
class ModelInput:
    """A frame made into the network input: ``x`` (4, S, S) float32 plus its window."""

    x: np.ndarray
    window: InputWindow


def prepare_input(rgb: np.ndarray, depth_z: np.ndarray, spec: InputSpec, out_size: int,
                  camera: PinholeCamera | None = None,
                  center_xy: tuple[float, float] | None = None, side_px: int | None = None,
                  crop_mode: str = 'center', on_objects: bool | None = None) -> ModelInput:
    """Crop, flatten and normalise one frame (uint8 RGB, z-depth m) as ``spec`` says.

    The window is :func:`choose_window`'s (``on_objects``: on what stands on the support;
    default the spec's).

    Raises:
        ValueError: bad images (see :func:`~kufenet_grasp.grasp.preprocess.apply_crop`) or
            no valid depth inside the window.

    """
    window = choose_window(depth_z, spec, out_size, camera, center_xy, side_px, crop_mode,
                           on_objects)
    rgb_in, depth_in = apply_crop(rgb, depth_z, window.crop)
    if not spec.is_legacy:
        depth_in = flatten_support(depth_in, window, np.asarray(depth_z).shape, camera)
    return ModelInput(normalise_rgbd(rgb_in, depth_in), window)
