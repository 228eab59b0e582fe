# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The ROS-free grasp detector: validate frame → crop/normalise → infer → peaks → metric grasps.

Inputs are a full-resolution RGB ``uint8 H×W×3`` image and a depth image ``float32 H×W`` in
metres (NaN invalid) registered to it, plus optional intrinsics of that image. Grasp
rectangles are returned in full-resolution image pixels; poses in the camera optical frame
(REP-103) with the grasp frame of :mod:`kufenet_grasp.geometry.grasp_pose`.

:meth:`GraspDetector.start` checks the frame and runs the network; the :class:`GraspStream` it
returns yields the grasps best first, each measured (depth, width, finger check, pose) when it
is taken, so a caller can send the best one before the others are measured.
:meth:`GraspDetector.detect` takes them all and returns the :class:`DetectionResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
import time
from typing import Any

from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.detection.validation import check_images, check_intrinsics
from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.depth import check_depth_frame, depth_at
from kufenet_grasp.geometry.finger_clearance import FingerModel, fingers_clear
from kufenet_grasp.geometry.grasp_pose import grasp_pose_in_camera
from kufenet_grasp.geometry.gripper import default_gripper
from kufenet_grasp.geometry.support_plane import SupportPlane
from kufenet_grasp.geometry.transforms import RigidTransform
from kufenet_grasp.geometry.width import clamp_width, object_span_px, width_m
from kufenet_grasp.grasp.model_input import (
    InputSpec,
    LEGACY_INPUT,
    prepare_input,
    range_to_z,
)
from kufenet_grasp.grasp.postprocess import maps_to_grasps
from kufenet_grasp.grasp.preprocess import CROP_MODES, CropTransform
from kufenet_grasp.grasp.rectangle import GraspRectangle
import numpy as np

#: maps one normalised frame (1, 4, S, S) float32 to the output maps (1, 4, S, S)
InferFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class DetectorConfig:
    """Detector settings (pixels of the network input unless stated, metres, seconds).

    The defaults are the detector's: the ``grasp_detector`` node's parameter table
    (``nodes/detector_params.py``) takes its defaults from them, and the gripper's openings
    and fingers come from the shipped gripper file (``config/grippers/franka_hand.yaml``).
    """

    input_size: int = 224  #: network input side S, px
    crop_mode: str = 'center'  #: 'center' (central square) or 'full' (padded whole image)
    quality_threshold: float = 0.3  #: lowest smoothed quality of a peak, [0, 1]
    top_k: int = 5  #: most grasps returned
    min_distance_px: int = 10  #: least distance between two peaks, network-input px
    depth_range_m: tuple[float, float] = (0.1, 2.0)  #: valid depth range, m
    depth_search_radius_px: int = 5  #: search radius for depth near a NaN, full-res px
    #: the gripper's smallest commanded opening, m
    min_width_m: float = field(default_factory=lambda: default_gripper().min_width_m)
    #: the gripper's largest opening, m
    max_width_m: float = field(default_factory=lambda: default_gripper().max_width_m)
    #: clearance added to the measured width, m (0: the executor adds its gripper's margin)
    width_margin_m: float = 0.0
    #: shrink the opening to the object's extent measured in depth along the closing axis
    fit_width_to_object: bool = True
    #: reject grasps whose finger footprints are not free in depth; None = no check
    fingers: FingerModel | None = field(default_factory=FingerModel)
    #: how the network input is made (from the weights metadata); legacy = pixel crop
    input_spec: InputSpec = LEGACY_INPUT
    #: region of interest (x_min, y_min, x_max, y_max) in image px; None = the whole image
    roi_px: tuple[float, float, float, float] | None = None
    #: the depth image holds range (distance from the camera centre), not z; needs intrinsics
    depth_is_range: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.input_size, bool) or int(self.input_size) != self.input_size \
                or self.input_size < 8:
            raise ValueError(f'DetectorConfig.input_size must be an int >= 8 px, '
                             f'got {self.input_size!r}')
        if self.crop_mode not in CROP_MODES:
            raise ValueError(f'DetectorConfig.crop_mode must be one of {CROP_MODES}, '
                             f'got {self.crop_mode!r}')
        if int(self.top_k) != self.top_k or self.top_k < 1:
            raise ValueError(f'DetectorConfig.top_k must be an int >= 1, got {self.top_k!r}')
        if int(self.min_distance_px) != self.min_distance_px or self.min_distance_px < 0:
            raise ValueError(f'DetectorConfig.min_distance_px must be an int >= 0, '
                             f'got {self.min_distance_px!r}')
        if int(self.depth_search_radius_px) != self.depth_search_radius_px \
                or self.depth_search_radius_px < 0:
            raise ValueError(f'DetectorConfig.depth_search_radius_px must be an int >= 0, '
                             f'got {self.depth_search_radius_px!r}')
        lo, hi = self.depth_range_m
        if not 0 <= lo < hi:
            raise ValueError(f'DetectorConfig.depth_range_m must be (lo, hi) with '
                             f'0 <= lo < hi m, got {self.depth_range_m!r}')
        if not isinstance(self.input_spec, InputSpec):
            raise ValueError(f'DetectorConfig.input_spec must be an InputSpec, '
                             f'got {type(self.input_spec).__name__}')
        if self.roi_px is not None:
            roi = tuple(float(v) for v in self.roi_px)
            if len(roi) != 4 or not all(np.isfinite(roi)) or roi[2] <= roi[0] \
                    or roi[3] <= roi[1]:
                raise ValueError(f'DetectorConfig.roi_px must be (x_min, y_min, x_max, y_max) '
                                 f'px with x_max > x_min and y_max > y_min, got {self.roi_px!r}')
            object.__setattr__(self, 'roi_px', roi)
        if not (0 <= self.min_width_m <= self.max_width_m) or self.width_margin_m < 0:
            raise ValueError(f'DetectorConfig: need 0 <= min_width_m <= max_width_m and '
                             f'width_margin_m >= 0, got {self.min_width_m}, '
                             f'{self.max_width_m}, {self.width_margin_m}')


@dataclass(frozen=True)
class DetectedGrasp:
    """One grasp in the full-resolution image and, with intrinsics, in metres; built once.

    Attributes:
        rect_image_px: the rectangle in full-resolution image pixels.
        depth_m: depth of its centre along the optical axis, metres.
        width_m: commanded gripper opening (measured width + margin, clamped), metres;
            None without intrinsics.
        pose_camera: T_camera_grasp in the optical frame; None without intrinsics.

    """

    rect_image_px: GraspRectangle
    depth_m: float
    width_m: float | None
    pose_camera: RigidTransform | None


@dataclass(frozen=True)
class RejectedGrasp:
    """A candidate peak that failed a check: its rectangle and why.

    Attributes:
        rect_image_px: the peak's rectangle in full-resolution image pixels, with its quality.
        reason: the check it failed, in words (the key of :attr:`DetectionResult.rejected`).

    """

    rect_image_px: GraspRectangle
    reason: str


@dataclass
class DetectionResult:
    """Outcome of one detection; grasps best first; timings in milliseconds."""

    status: GraspStatus
    message: str
    grasps: list[DetectedGrasp] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)  #: reason → number of peaks
    #: the rejected peaks one by one, best first (at most ``top_k``)
    rejected_grasps: list[RejectedGrasp] = field(default_factory=list)
    #: support plane of the input: 'plane' (fitted), 'none' (not found: fallback), 'off'
    support: str = 'off'
    plane_inliers: float = 0.0  #: share of the valid pixels on the best plane, [0, 1]

    @property
    def ok(self) -> bool:
        """True if at least one grasp was found."""
        return self.status == GraspStatus.OK


def make_infer_fn(model_or_backend: Any, input_size: int = 224, threads: int = 1) -> InferFn:
    """Return an :data:`InferFn` from an inference backend (``.infer``) or a torch ``nn.Module``.

    A module goes through ``kufenet_grasp.deploy.backends.create_backend('torch', ...)``
    when that module is importable, else it is run directly under ``torch.no_grad()``.
    """
    if hasattr(model_or_backend, 'infer'):
        return model_or_backend.infer
    import torch

    if not isinstance(model_or_backend, torch.nn.Module):
        raise TypeError(f'make_infer_fn: expected an inference backend with .infer or a '
                        f'torch nn.Module, got {type(model_or_backend).__name__}')
    try:
        from kufenet_grasp.deploy.backends import create_backend
    except ImportError:
        model = model_or_backend.eval()

        def infer(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()
        return infer
    return create_backend('torch', model_or_backend, input_size=input_size,
                          threads=threads).infer


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1e3


class GraspDetector:
    """Planar grasp detection on one registered RGB-D frame.

    Args:
        infer_fn: maps the normalised input (1, 4, S, S) to the maps (1, 4, S, S)
            ``[quality, cos 2θ, sin 2θ, width/150]`` (see :func:`make_infer_fn`).
        config: the settings.

    """

    def __init__(self, infer_fn: InferFn, config: DetectorConfig | None = None) -> None:
        if not callable(infer_fn):
            raise TypeError(f'GraspDetector: infer_fn must be callable, got '
                            f'{type(infer_fn).__name__}')
        self.infer_fn = infer_fn
        self.config = config or DetectorConfig()

    def start(self, rgb: np.ndarray, depth_m: np.ndarray, camera: PinholeCamera | None = None,
              roi_px: tuple[float, float, float, float] | None = None) -> GraspStream:
        """Check the frame, pre-process it and run the network; return its grasps to take.

        Bad frames give a stream without grasps whose result has a non-OK status and a
        message (no exception). ``roi_px`` (x_min, y_min, x_max, y_max image px) replaces the
        configured region of interest for this frame.
        """
        cfg = self.config
        if roi_px is not None:
            cfg = replace(cfg, roi_px=roi_px)
        issues = check_images(rgb, depth_m)
        if not issues and camera is not None:
            issues = check_intrinsics(camera, np.asarray(depth_m).shape)
        if issues:
            return GraspStream.refused(issues[0].status, '; '.join(i.message for i in issues))
        problems = check_depth_frame(depth_m, cfg.depth_range_m)
        if problems:
            return GraspStream.refused(GraspStatus.NO_DATA, '; '.join(problems))

        timings: dict[str, float] = {}
        start = time.perf_counter()
        if cfg.depth_is_range:
            if camera is None:
                return GraspStream.refused(GraspStatus.BAD_INPUT, 'depth given as range needs '
                                           'the camera intrinsics to become z-depth')
            depth_m = range_to_z(depth_m, camera)
        center, side = _roi_window(cfg.roi_px)
        try:
            prepared = prepare_input(rgb, depth_m, cfg.input_spec, cfg.input_size, camera,
                                     center, side, cfg.crop_mode)
        except ValueError as exc:  # e.g. no valid depth inside the crop
            return GraspStream.refused(GraspStatus.NO_DATA,
                                       f'cannot pre-process the frame: {exc}')
        window = prepared.window
        timings['preprocess'] = _ms_since(start)

        start = time.perf_counter()
        maps = np.asarray(self.infer_fn(prepared.x[None]))
        timings['infer'] = _ms_since(start)
        expected = (1, 4, cfg.input_size, cfg.input_size)
        if maps.shape != expected:
            raise ValueError(f'GraspDetector: infer_fn returned shape {maps.shape}, expected '
                             f"{expected} (is the model's input size {cfg.input_size}?)")
        stream = GraspStream(cfg, maps[0], window.crop, depth_m, camera, timings)
        stream.support, stream.plane_inliers = window.support, window.plane_inliers
        stream.plane = window.plane
        stream.notes = list(window.notes)
        return stream

    def detect(self, rgb: np.ndarray, depth_m: np.ndarray, camera: PinholeCamera | None = None,
               roi_px: tuple[float, float, float, float] | None = None) -> DetectionResult:
        """Detect all grasps of a frame (see :meth:`start`); bad frames give a non-OK status."""
        return self.start(rgb, depth_m, camera, roi_px).result()

    def stream_from_maps(self, maps: np.ndarray, crop: CropTransform, depth_m: np.ndarray,
                         camera: PinholeCamera | None) -> GraspStream:
        """Return the grasps of network output ``maps`` (4, S, S), without pre-processing."""
        return GraspStream(self.config, maps, crop, depth_m, camera, {})

    def grasps_from_maps(self, maps: np.ndarray, crop: CropTransform, depth_m: np.ndarray,
                         camera: PinholeCamera | None
                         ) -> tuple[list[GraspRectangle], list[DetectedGrasp], dict[str, int]]:
        """Post-processing of (4, S, S) maps: peaks, then depth, width, finger check, pose.

        Returns the peaks (network-input px), the grasps that passed (full-resolution px,
        metres, best first) and the rejected peaks counted by reason.
        """
        stream = self.stream_from_maps(maps, crop, depth_m, camera)
        result = stream.result()
        return stream.peaks, result.grasps, result.rejected


def _roi_window(roi: tuple[float, float, float, float] | None
                ) -> tuple[tuple[float, float] | None, int | None]:
    """Centre (px) and side (px) of a region of interest; (None, None) = the whole image."""
    if roi is None:
        return None, None
    x0, y0, x1, y1 = roi
    return ((x0 + x1) / 2.0, (y0 + y1) / 2.0), max(1, round(max(x1 - x0, y1 - y0)))


class GraspStream:
    """One frame's grasps, best first, each measured when it is taken; iterate once.

    Iterating yields :class:`DetectedGrasp` records (the peaks that pass the region of
    interest, depth, width and finger checks); :meth:`result` takes the rest and returns the
    frame's :class:`DetectionResult` (status, message, every grasp, rejections, timings).
    """

    def __init__(self, config: DetectorConfig, maps: np.ndarray | None,
                 crop: CropTransform | None, depth_m: np.ndarray | None,
                 camera: PinholeCamera | None, timings: dict[str, float]) -> None:
        self.config, self._crop, self._depth, self._camera = config, crop, depth_m, camera
        self.timings_ms = timings
        self.grasps: list[DetectedGrasp] = []
        self.rejected: dict[str, int] = {}
        self.rejected_grasps: list[RejectedGrasp] = []
        #: support plane of the input: 'plane' (fitted), 'none' (not found: fallback), 'off'
        self.support = 'off'
        self.plane_inliers = 0.0
        #: the fitted support (image pixels), None without one: the width fit uses it
        self.plane: SupportPlane | None = None
        self.notes: list[str] = []
        self._refusal: tuple[GraspStatus, str] | None = None
        self.peaks: list[GraspRectangle] = []
        self._postprocess_ms = 0.0  #: peak search and the measurements so far
        if maps is not None:
            start = time.perf_counter()
            self.peaks = maps_to_grasps(maps, top_k=config.top_k,
                                        min_distance=config.min_distance_px,
                                        quality_threshold=config.quality_threshold)
            self._postprocess_ms = _ms_since(start)
        self._pending = self._measure()

    @classmethod
    def refused(cls, status: GraspStatus, message: str) -> GraspStream:
        """Return a stream of a frame refused before inference (no grasps)."""
        stream = cls(DetectorConfig(), None, None, None, None, {})
        stream._refusal = (status, message)
        return stream

    def __iter__(self) -> Iterator[DetectedGrasp]:
        """Yield the grasps not taken yet, best first."""
        return self._pending

    def _measure(self) -> Iterator[DetectedGrasp]:
        roi = self.config.roi_px
        for peak in self.peaks:
            start = time.perf_counter()
            assert self._crop is not None and self._depth is not None
            rect = self._crop.rect_to_image(peak)
            if roi is not None and not (roi[0] <= rect.center[0] <= roi[2]
                                        and roi[1] <= rect.center[1] <= roi[3]):
                grasp, reason = None, 'outside the region of interest'
            else:
                grasp, reason = _to_metric(self.config, rect, self._depth, self._camera,
                                           self.plane)
            self._postprocess_ms += _ms_since(start)
            if grasp is None:
                self.rejected[reason] = self.rejected.get(reason, 0) + 1
                self.rejected_grasps.append(RejectedGrasp(rect, reason))
                continue
            self.grasps.append(grasp)
            yield grasp

    def result(self) -> DetectionResult:
        """Measure the grasps not taken yet; return the frame's outcome (grasps best first)."""
        for _ in self._pending:
            pass
        if self._refusal is not None:
            return DetectionResult(*self._refusal)
        self.timings_ms['postprocess'] = self._postprocess_ms
        result = _result(self.peaks, self.grasps, self.rejected, self.timings_ms, self._camera)
        result.support, result.plane_inliers = self.support, self.plane_inliers
        result.rejected_grasps = list(self.rejected_grasps)
        if self.notes:
            result.message += '; ' + '; '.join(self.notes)
        return result


def _to_metric(cfg: DetectorConfig, rect: GraspRectangle, depth_m: np.ndarray,
               camera: PinholeCamera | None, plane: SupportPlane | None = None
               ) -> tuple[DetectedGrasp | None, str]:
    """Return a grasp with depth, width and pose, or (None, why it was rejected).

    ``plane`` is the frame's fitted support (image pixels), which the object's span uses.
    """
    z = depth_at(depth_m, rect.center[0], rect.center[1], cfg.depth_search_radius_px,
                 cfg.depth_range_m)
    if z is None:
        return None, 'no valid depth near the grasp centre'
    if camera is None:
        return DetectedGrasp(rect, z, None, None), ''
    measured = width_m(rect, depth_m, camera, cfg.depth_search_radius_px, cfg.depth_range_m)
    if measured is None:  # cannot happen with a valid centre depth; kept for safety
        return None, 'no valid depth near the grasp centre'
    if cfg.fit_width_to_object:
        span = object_span_px(rect, depth_m, cfg.depth_range_m, plane=plane, camera=camera)
        if span is not None:
            measured = min(measured, span.width_m(camera))
            if all(span.edges):  # both edges seen: centre the fingers on the object
                centred = replace(rect, center=span.middle_px)
                z_mid = depth_at(depth_m, centred.center[0], centred.center[1],
                                 cfg.depth_search_radius_px, cfg.depth_range_m)
                if z_mid is not None:
                    rect, z = centred, z_mid
    opening, fits = clamp_width(measured, cfg.min_width_m, cfg.max_width_m, cfg.width_margin_m)
    if not fits:
        return None, f'wider than the gripper ({cfg.max_width_m:.3f} m)'
    if cfg.fingers is not None:
        clear, _ = fingers_clear(rect, z, opening, depth_m, camera, cfg.fingers,
                                 cfg.max_width_m)
        if not clear:
            return None, 'a finger would land on something (depth at the finger)'
    return DetectedGrasp(rect, z, opening, grasp_pose_in_camera(rect, z, camera)), ''


def _result(peaks: list[GraspRectangle], grasps: list[DetectedGrasp], rejected: dict[str, int],
            timings: dict[str, float], camera: PinholeCamera | None) -> DetectionResult:
    if not peaks:
        return DetectionResult(GraspStatus.NO_GRASP, 'no grasp above the quality threshold',
                               [], timings, rejected)
    if not grasps:
        reasons = ', '.join(f'{n}× {why}' for why, n in rejected.items())
        return DetectionResult(GraspStatus.NO_GRASP,
                               f'all {len(peaks)} candidate grasps rejected: {reasons}',
                               [], timings, rejected)
    message = f'{len(grasps)} grasp(s)'
    if rejected:
        message += f', {sum(rejected.values())} rejected'
    if camera is None:
        message += '; no camera info: pixel grasps only (no width in metres, no pose)'
    return DetectionResult(GraspStatus.OK, message, grasps, timings, rejected)
