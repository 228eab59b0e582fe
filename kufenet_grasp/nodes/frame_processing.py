# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""One synchronised RGB-D frame → ranked grasp messages (the node's per-frame work).

Converts the Image / CameraInfo messages to arrays (``image_encoding``), checks the frame
(``detection.validation``: encodings, sizes, frame ids, age), runs the ROS-free
``GraspDetector`` and expresses the grasp poses in the base frame (T_base_camera from
``tf_lookup``, then the TCP offset). Pixels are full-resolution source-image pixels; poses are
metres in ``base_frame`` (or the camera optical frame when no transform is configured).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import math
import threading
from typing import Any

from geometry_msgs.msg import PoseStamped
from kufenet_grasp.detection import validation
from kufenet_grasp.detection.builder import build_detector, gripper_config, tcp_offset
from kufenet_grasp.geometry.gripper import GripperConfig
from kufenet_grasp.geometry.transforms import RigidTransform
from kufenet_grasp.grasp.model_input import LEGACY_INPUT
from kufenet_grasp.nodes.ros_conversions import (
    camera_from_info,
    grasp_to_msg,
    grasps_to_array,
    pose_stamped,
    stamp_to_seconds,
)
from kufenet_grasp.nodes.tf_lookup import CameraToBase, TransformUnavailable
from kufenet_grasp.runtime.image_encoding import depth_raw, image_to_numpy, ImageEncodingError
from kufenet_msgs.msg import GraspRectangle, GraspRectangleArray, GraspStatus
import numpy as np
from sensor_msgs.msg import CameraInfo, Image

COLOR_ENCODINGS = ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8')
DEPTH_ENCODINGS = ('16UC1', '32FC1')


@dataclass(frozen=True)
class FrameInput:
    """A synchronised colour image, depth image and the newest CameraInfo (None if none yet)."""

    color: Image
    depth: Image
    info: CameraInfo | None
    #: node-clock time (s) when the frame arrived; NaN = unknown (age from the stamp only)
    arrival_s: float = math.nan

    @property
    def stamp_s(self) -> float:
        """Acquisition time of the colour image (seconds, node clock)."""
        return stamp_to_seconds(self.color.header.stamp)


@dataclass
class FrameOutcome:
    """Result of one frame: status code, explanation, ranked messages, warnings to log."""

    code: int
    summary: str
    header: Any = None
    rects: list[GraspRectangle] = field(default_factory=list)
    poses: list[PoseStamped] = field(default_factory=list)
    transforms: list[RigidTransform] = field(default_factory=list)
    widths_m: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rgb: np.ndarray | None = None
    pixel_rects: list[Any] = field(default_factory=list)
    #: candidates above the quality threshold that failed a depth, width or finger check
    rejected: int = 0
    #: rects[0] (and poses[0], if any) already went out through ``process``'s ``on_best``
    best_published: bool = False
    #: support plane of the input: 'plane', 'none' (not found, depth used as seen), 'off', ''
    support: str = ''

    def array(self, count: int | None = None) -> GraspRectangleArray:
        """Return the ranked rectangles (at most ``count``) as a GraspRectangleArray."""
        rects = self.rects if count is None else self.rects[:count]
        out = grasps_to_array(rects, self.header) if self.header is not None \
            else GraspRectangleArray()
        return out

    def marker_poses(self) -> list[tuple[RigidTransform, float]]:
        """(grasp pose in the pose frame, width m) pairs for the RViz markers."""
        return list(zip(self.transforms, self.widths_m))


#: receives the best grasp's message and its pose (None without intrinsics) ahead of the rest
BestCallback = Callable[[GraspRectangle, 'PoseStamped | None'], None]


@dataclass(frozen=True)
class _PoseFrame:
    """Where grasp poses are expressed: frame id, T_frame_camera, and a warning if degraded."""

    frame_id: str
    t_frame_camera: RigidTransform
    warning: str | None = None

    def tool_pose(self, grasp: Any, offset: RigidTransform) -> RigidTransform:
        """T_frame_tool of a grasp with a camera pose, through the TCP offset T_grasp_tool."""
        return self.t_frame_camera.compose(grasp.pose_camera).compose(offset)


def _bad(message: str, code: int = GraspStatus.BAD_INPUT) -> FrameOutcome:
    return FrameOutcome(int(code), message)


def _pose_frame(tf: CameraToBase, header: Any) -> _PoseFrame:
    """T_base_camera at the frame's stamp, or the camera frame itself when none is configured.

    Raises:
        TransformUnavailable: tf2 is configured but has no transform for this stamp.
    """
    t_base_cam = tf.lookup(header.frame_id, header.stamp)
    if t_base_cam is not None:
        return _PoseFrame(tf.base_frame, t_base_cam)
    return _PoseFrame(header.frame_id, RigidTransform.identity(),
                      f'no tf2 and no static camera-to-base transform: grasp poses are in the '
                      f"camera frame '{header.frame_id}', not '{tf.base_frame}' (set "
                      f'static_transform.enabled or a calibration file)')


class _BestFirst:
    """``GraspDetector.detect``'s ``on_best``: sends the best grasp (message, pose) at once.

    Remembers the transform it looked up (or why it failed) so the frame's other poses reuse
    it: one lookup a frame.
    """

    def __init__(self, tf: CameraToBase, header: Any, offset: RigidTransform,
                 send: BestCallback) -> None:
        self._tf, self._header, self._offset, self._send = tf, header, offset, send
        self.where: _PoseFrame | TransformUnavailable | None = None
        self.sent = False

    def __call__(self, grasp: Any) -> None:
        pose = None
        if grasp.pose_camera is not None:
            try:
                self.where = _pose_frame(self._tf, self._header)
            except TransformUnavailable as exc:
                self.where = exc
                return  # the outcome reports it, with the rectangles
            pose = pose_stamped(self.where.tool_pose(grasp, self._offset), self.where.frame_id,
                                self._header.stamp)
        self._send(grasp_to_msg(grasp.rect_image_px, self._header, width_m=grasp.width_m,
                                depth_m=grasp.depth_m), pose)
        self.sent = True


class FrameProcessor:
    """Wraps ``GraspDetector`` for message frames; thread-safe (one detection at a time)."""

    def __init__(self, infer_fn: Any, settings: dict[str, Any], source: str,
                 input_spec: Any = None) -> None:
        self._lock = threading.Lock()
        self._detect_lock = threading.Lock()  # one inference at a time (worker vs service)
        self._infer_fn = infer_fn
        self._source = source
        self._settings = dict(settings)
        self._input_spec = input_spec or LEGACY_INPUT
        self._detector = build_detector(infer_fn, settings, self._input_spec)
        self._offset = tcp_offset(settings)
        self._gripper = gripper_config(settings)

    def describe(self) -> str:
        """One line: model source and input size."""
        spec = self._input_spec
        window = (f'{spec.window_m:.2f} m window' if spec.window_m is not None
                  else f"{self._settings['crop_mode']} crop")
        plane = ', support plane removed' if spec.support_plane else ''
        return f"model {self._source} at {self._settings['input_size']} px ({window}{plane})"

    def update_settings(self, settings: dict[str, Any]) -> None:
        """Apply changed run-time parameters (thresholds, top_k, depth range, gripper)."""
        detector = build_detector(self._infer_fn, settings, self._input_spec)
        offset, gripper = tcp_offset(settings), gripper_config(settings)
        with self._lock:
            self._settings, self._detector, self._offset = dict(settings), detector, offset
            self._gripper = gripper

    @property
    def gripper(self) -> GripperConfig:
        """The gripper the finger check uses (its finger sizes also shape the markers)."""
        with self._lock:
            return self._gripper

    def _decode(self, frame: FrameInput) -> tuple[np.ndarray, np.ndarray] | FrameOutcome:
        color, depth = frame.color, frame.depth
        if color.encoding not in COLOR_ENCODINGS:
            return _bad(f"colour image encoding '{color.encoding}' is not supported; use one "
                        f"of {', '.join(COLOR_ENCODINGS)}")
        if depth.encoding not in DEPTH_ENCODINGS:
            return _bad(f"depth image encoding '{depth.encoding}' is not supported; use "
                        f'16UC1 (mm) or 32FC1 (m)')
        min_side, max_pixels = (int(self._settings['min_image_side_px']),
                                int(self._settings['max_image_pixels']))
        issue = validation.first_issue(
            validation.check_image_size(int(color.width), int(color.height), 'colour',
                                        min_side, max_pixels)
            + validation.check_image_size(int(depth.width), int(depth.height), 'depth',
                                          min_side, max_pixels))
        if issue is not None:
            return _bad(issue.message, issue.status)
        try:
            rgb, depth_m = image_to_numpy(color), image_to_numpy(depth)
        except ImageEncodingError as exc:
            return _bad(f'cannot decode the image: {exc}')
        issue = validation.first_issue(validation.check_frame_ids(color.header.frame_id,
                                                                  depth.header.frame_id))
        return _bad(issue.message, issue.status) if issue else (rgb, depth_m)

    def process(self, frame: FrameInput, now_s: float, tf: CameraToBase,
                max_age_s: float | None = None,
                on_best: BestCallback | None = None) -> FrameOutcome:
        """Detect grasps in ``frame`` at node time ``now_s`` (s); never raises on bad input.

        ``max_age_s`` overrides the ``max_frame_age_s`` parameter (seconds, 0 = no limit).
        ``on_best`` receives the best grasp (message, pose) as soon as it is measured, before
        the other candidates (their depth, width and finger checks); the
        outcome then has ``best_published`` set. It is not called when the transform lookup
        fails (the outcome reports that) or no grasp passes.
        """
        max_age = float(self._settings['max_frame_age_s'] if max_age_s is None else max_age_s)
        issue = validation.first_issue(validation.check_age(frame.stamp_s, now_s, max_age,
                                                            frame.arrival_s))
        if issue is not None:
            return _bad(issue.message, issue.status)
        decoded = self._decode(frame)
        if isinstance(decoded, FrameOutcome):
            return decoded
        rgb, depth_m = decoded
        warnings: list[str] = []
        camera = None
        if frame.info is None:
            warnings.append('no camera_info received: publishing pixel grasps with their '
                            'depth (depth_m) only, no width_m and no pose; check the '
                            'color/camera_info remapping')
        else:
            try:
                camera = camera_from_info(frame.info)
            except ValueError as exc:
                return _bad(f'camera_info is unusable: {exc}')
            issue = validation.first_issue(validation.check_intrinsics(
                camera, rgb.shape[:2], frame.color.header.frame_id))
            if issue is not None:
                return _bad(issue.message, issue.status)
        with self._lock:
            detector, offset = self._detector, self._offset
        header = frame.color.header
        best = _BestFirst(tf, header, offset, on_best) if on_best is not None else None
        with self._detect_lock:
            result = detector.detect(rgb, depth_m, camera, on_best=best)
        message = result.message
        if result.status == GraspStatus.NO_DATA:
            message = _depth_hint(frame.depth) or message
        outcome = FrameOutcome(int(result.status), message, header, warnings=warnings,
                               rgb=rgb, best_published=best is not None and best.sent,
                               support=result.support, rejected=sum(result.rejected.values()))
        self._fill(outcome, result.grasps, tf, offset, best.where if best else None)
        return outcome

    def _fill(self, outcome: FrameOutcome, grasps: list[Any], tf: CameraToBase,
              offset: RigidTransform,
              where: _PoseFrame | TransformUnavailable | None) -> None:
        header = outcome.header
        outcome.pixel_rects = [g.rect_image_px for g in grasps]
        outcome.rects = [grasp_to_msg(g.rect_image_px, header, width_m=g.width_m,
                                      depth_m=g.depth_m) for g in grasps]
        if outcome.code != GraspStatus.OK or not grasps or grasps[0].pose_camera is None:
            return
        if where is None:
            try:
                where = _pose_frame(tf, header)
            except TransformUnavailable as exc:
                where = exc
        if isinstance(where, TransformUnavailable):
            outcome.code, outcome.summary = int(GraspStatus.TF_FAILED), str(where)
            return
        if where.warning is not None:
            outcome.warnings.append(where.warning)
        for grasp in grasps:
            if grasp.pose_camera is None:
                break
            pose = where.tool_pose(grasp, offset)
            outcome.transforms.append(pose)
            outcome.widths_m.append(float(grasp.width_m) if grasp.width_m is not None
                                    else math.nan)
            outcome.poses.append(pose_stamped(pose, where.frame_id, header.stamp))

    def debug_image(self, frame: FrameInput, outcome: FrameOutcome) -> Image:
        """rgb8 Image of the colour frame with the ranked rectangles drawn (best in green)."""
        from kufenet_grasp.runtime.image_encoding import numpy_to_image_fields

        canvas = _draw(outcome.rgb, outcome.pixel_rects)
        msg = Image(**numpy_to_image_fields(canvas, 'rgb8'))
        msg.header = frame.color.header
        return msg


def _depth_hint(depth: Image) -> str | None:
    """Return the sign or unit mistake most likely in a depth image without usable depth."""
    try:
        return validation.depth_unit_hint(depth_raw(depth), depth.encoding)
    except ImageEncodingError:
        return None


def _draw(rgb: np.ndarray, rects: list[Any]) -> np.ndarray:
    """Copy of ``rgb`` (uint8 H×W×3) with the best rectangle in green, the others in orange."""
    from kufenet_grasp.grasp.drawing import draw_grasps

    canvas = draw_grasps(rgb, rects[1:], color=(255, 160, 0)) if len(rects) > 1 else rgb
    return np.asarray(draw_grasps(canvas, rects[:1], color=(0, 255, 0)))
