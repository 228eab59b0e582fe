# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""One synchronised RGB-D frame → ranked grasp messages (the node's per-frame work).

Converts the Image / CameraInfo messages to arrays (``image_encoding``), checks the messages
(``detection.validation``: encodings, sizes, frame ids, age), starts the ROS-free
``GraspDetector`` on the frame and turns each grasp it yields, best first, into its message
and its pose in the base frame (T_base_camera from ``tf_lookup``, then the TCP offset), once.
Pixels are full-resolution source-image pixels; poses are metres in ``base_frame`` (or the
camera optical frame when no transform is configured).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
import math
import threading
from typing import Any

from geometry_msgs.msg import PoseStamped
from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.detection import validation
from kufenet_grasp.detection.builder import (
    build_detector,
    gripper_config,
    roi_workspace,
    tcp_offset,
)
from kufenet_grasp.detection.detector import DetectedGrasp, GraspStream
from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.gripper import GripperConfig
from kufenet_grasp.geometry.transforms import RigidTransform
from kufenet_grasp.geometry.workspace import WorkspaceBounds
from kufenet_grasp.geometry.workspace_roi import workspace_roi_px
from kufenet_grasp.grasp.drawing import draw_grasps
from kufenet_grasp.grasp.model_input import LEGACY_INPUT
from kufenet_grasp.nodes.ros_conversions import (
    camera_from_info,
    grasp_to_msg,
    grasps_to_array,
    pose_stamped,
    stamp_to_seconds,
)
from kufenet_grasp.nodes.tf_lookup import CameraToBase, TransformUnavailable
from kufenet_grasp.runtime.image_encoding import (
    depth_raw,
    image_to_numpy,
    ImageEncodingError,
    numpy_to_image_fields,
)
from kufenet_msgs.msg import GraspRectangle, GraspRectangleArray
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


@dataclass(frozen=True)
class FrameGrasp:
    """One grasp of a frame as the node sends it, built once from the detector's record.

    Attributes:
        detected: the detector's grasp (rectangle px, depth m, width m, pose in the camera).
        msg: its GraspRectangle message (image px, width and depth in metres).
        tool_pose: T_frame_tool in the pose frame (metres), None without a pose.
        pose: the same as a PoseStamped in the pose frame at the image stamp, or None.

    """

    detected: DetectedGrasp
    msg: GraspRectangle
    tool_pose: RigidTransform | None = None
    pose: PoseStamped | None = None


@dataclass
class FrameOutcome:
    """Result of one frame: status, explanation, the grasps best first, warnings to log."""

    code: GraspStatus
    summary: str
    header: Any = None
    grasps: list[FrameGrasp] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rgb: np.ndarray | None = None
    #: candidates above the quality threshold that failed a depth, width or finger check
    rejected: int = 0
    #: support plane of the input: 'plane', 'none' (not found, depth used as seen), 'off', ''
    support: str = ''

    @property
    def rects(self) -> list[GraspRectangle]:
        """Return the grasps' messages, best first."""
        return [g.msg for g in self.grasps]

    @property
    def poses(self) -> list[PoseStamped]:
        """Return the grasps' poses, best first (empty without camera info or transform)."""
        return [g.pose for g in self.grasps if g.pose is not None]

    def array(self, count: int | None = None) -> GraspRectangleArray:
        """Return the ranked rectangles (at most ``count``) as a GraspRectangleArray."""
        rects = self.rects if count is None else self.rects[:count]
        return grasps_to_array(rects, self.header) if self.header is not None \
            else GraspRectangleArray()

    def marker_poses(self) -> list[tuple[RigidTransform, float]]:
        """(grasp pose in the pose frame, width m) pairs for the RViz markers."""
        return [(g.tool_pose, float(g.detected.width_m) if g.detected.width_m is not None
                 else math.nan) for g in self.grasps if g.tool_pose is not None]


@dataclass(frozen=True)
class _PoseFrame:
    """Where grasp poses are expressed: frame id, T_frame_camera, and a warning if degraded."""

    frame_id: str
    t_frame_camera: RigidTransform
    warning: str | None = None


def _bad(message: str, code: GraspStatus = GraspStatus.BAD_INPUT) -> FrameOutcome:
    return FrameOutcome(GraspStatus(code), message)


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


class FrameRun:
    """One frame through the processor: iterate for its grasps (best first), then ``outcome``.

    Each grasp is turned into its message and pose once, as the detector yields it; the
    camera-to-base transform is looked up once, at the first grasp with a pose. When that
    lookup fails the grasps still come (pixel rectangles, no pose) and the outcome says
    TF_FAILED.
    """

    def __init__(self, outcome: FrameOutcome, stream: GraspStream | None = None,
                 tf: CameraToBase | None = None, offset: RigidTransform | None = None,
                 depth: Image | None = None,
                 where: _PoseFrame | TransformUnavailable | None = None) -> None:
        self._outcome, self._stream, self._tf = outcome, stream, tf
        self._offset = offset or RigidTransform.identity()
        self._depth = depth
        self._where = where  # looked up before detection when the workspace ROI needed it
        self._pending = self._grasps()

    def __iter__(self) -> Iterator[FrameGrasp]:
        """Yield the grasps not taken yet, best first."""
        return self._pending

    def _grasps(self) -> Iterator[FrameGrasp]:
        if self._stream is None:
            return
        header = self._outcome.header
        for detected in self._stream:
            grasp = FrameGrasp(detected, grasp_to_msg(detected.rect_image_px, header,
                                                      width_m=detected.width_m,
                                                      depth_m=detected.depth_m))
            if detected.pose_camera is not None:
                where = self._pose_frame()
                if isinstance(where, _PoseFrame):
                    tool = where.t_frame_camera.compose(detected.pose_camera).compose(
                        self._offset)
                    grasp = FrameGrasp(detected, grasp.msg, tool,
                                       pose_stamped(tool, where.frame_id, header.stamp))
            self._outcome.grasps.append(grasp)
            yield grasp

    def _pose_frame(self) -> _PoseFrame | TransformUnavailable:
        if self._where is None:
            assert self._tf is not None
            try:
                self._where = _pose_frame(self._tf, self._outcome.header)
            except TransformUnavailable as exc:
                self._where = exc
        return self._where

    def outcome(self) -> FrameOutcome:
        """Take the grasps not taken yet; return the frame's outcome."""
        for _ in self._pending:
            pass
        outcome = self._outcome
        if self._stream is None:
            return outcome
        result = self._stream.result()
        outcome.code, outcome.summary = result.status, result.message
        outcome.support, outcome.rejected = result.support, sum(result.rejected.values())
        if result.status == GraspStatus.NO_DATA and self._depth is not None:
            outcome.summary = _depth_hint(self._depth) or outcome.summary
        if isinstance(self._where, TransformUnavailable):
            outcome.code, outcome.summary = GraspStatus.TF_FAILED, str(self._where)
        elif self._where is not None and self._where.warning is not None:
            outcome.warnings.append(self._where.warning)
        self._stream = None  # a second call returns the same outcome
        return outcome


class FrameProcessor:
    """Wraps ``GraspDetector`` for message frames; thread-safe (one inference at a time)."""

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
        self._workspace = roi_workspace(settings)

    def describe(self) -> str:
        """One line: model source and input size."""
        spec = self._input_spec
        window = (f'{spec.window_m:.2f} m window' if spec.window_m is not None
                  else f"{self._settings['crop_mode']} crop")
        if spec.window_m is not None and spec.on_objects:
            window += ' on the objects'
        plane = ', support plane removed' if spec.support_plane else ''
        return f"model {self._source} at {self._settings['input_size']} px ({window}{plane})"

    def update_settings(self, settings: dict[str, Any]) -> None:
        """Apply changed run-time parameters (thresholds, top_k, depth range, gripper, ROI)."""
        detector = build_detector(self._infer_fn, settings, self._input_spec)
        offset, gripper = tcp_offset(settings), gripper_config(settings)
        workspace = roi_workspace(settings)
        with self._lock:
            self._settings, self._detector, self._offset = dict(settings), detector, offset
            self._gripper, self._workspace = gripper, workspace

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
        info_frame_id = frame.info.header.frame_id if frame.info is not None else ''
        issue = validation.first_issue(validation.check_frame_ids(
            color.header.frame_id, depth.header.frame_id, info_frame_id))
        return _bad(issue.message, issue.status) if issue else (rgb, depth_m)

    def start(self, frame: FrameInput, now_s: float, tf: CameraToBase,
              max_age_s: float | None = None) -> FrameRun:
        """Check ``frame`` at node time ``now_s`` (s) and run the model on it; never raises.

        ``max_age_s`` overrides the ``max_frame_age_s`` parameter (seconds, 0 = no limit).
        Iterate the returned run for the grasps as they are measured, best first; a refused
        frame's run has none and its outcome says why.
        """
        max_age = float(self._settings['max_frame_age_s'] if max_age_s is None else max_age_s)
        issue = validation.first_issue(validation.check_age(frame.stamp_s, now_s, max_age,
                                                            frame.arrival_s))
        if issue is not None:
            return FrameRun(_bad(issue.message, issue.status))
        decoded = self._decode(frame)
        if isinstance(decoded, FrameOutcome):
            return FrameRun(decoded)
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
                return FrameRun(_bad(f'camera_info is unusable: {exc}'))
        with self._lock:
            detector, offset, workspace = self._detector, self._offset, self._workspace
        roi, where = None, None
        if workspace is not None:
            found = self._workspace_roi(workspace, tf, frame.color.header, camera, warnings)
            if isinstance(found, FrameOutcome):
                return FrameRun(found)
            roi, where = found
        with self._detect_lock:
            stream = detector.start(rgb, depth_m, camera, roi_px=roi)
        outcome = FrameOutcome(GraspStatus.OK, '', frame.color.header, warnings=warnings,
                               rgb=rgb)
        return FrameRun(outcome, stream, tf, offset, frame.depth, where)

    @staticmethod
    def _workspace_roi(workspace: WorkspaceBounds, tf: CameraToBase, header: Any,
                       camera: PinholeCamera | None, warnings: list[str]
                       ) -> tuple[tuple[float, float, float, float] | None,
                                  _PoseFrame | TransformUnavailable | None] | FrameOutcome:
        """Return the region of interest of the ``roi_workspace`` box and the transform used.

        Without intrinsics or a camera-to-base transform the box cannot be placed: a warning
        says so and the frame is processed without it (``roi_px`` applies). A box that
        projects outside the image gives a NO_GRASP outcome.
        """
        if camera is None:
            warnings.append('roi_workspace needs the camera intrinsics: not applied')
            return None, None
        try:
            where = _pose_frame(tf, header)
        except TransformUnavailable as exc:
            warnings.append(f'roi_workspace not applied: {exc}')
            return None, exc
        if where.warning is not None:  # no transform configured: poses stay in the camera
            warnings.append('roi_workspace not applied: no camera-to-base transform to '
                            f"'{tf.base_frame}'")
            return None, where
        roi = workspace_roi_px(workspace, where.t_frame_camera.inverse(), camera)
        if roi is None:
            return _bad(f'the roi_workspace box min {list(workspace.min_xyz)} max '
                        f'{list(workspace.max_xyz)} m ({tf.base_frame}) is not in the camera '
                        f'view: check the box and the camera-to-base transform',
                        GraspStatus.NO_GRASP)
        return roi, where

    def process(self, frame: FrameInput, now_s: float, tf: CameraToBase,
                max_age_s: float | None = None) -> FrameOutcome:
        """Detect every grasp of ``frame`` (see :meth:`start`) and return the outcome."""
        return self.start(frame, now_s, tf, max_age_s).outcome()

    def debug_image(self, frame: FrameInput, outcome: FrameOutcome) -> Image:
        """rgb8 Image of the colour frame with the ranked rectangles drawn (best in green)."""
        if outcome.rgb is None:
            raise ValueError('debug_image: the outcome holds no colour image (refused frame)')
        canvas = _draw(outcome.rgb, [g.detected.rect_image_px for g in outcome.grasps])
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
    canvas = draw_grasps(rgb, rects[1:], color=(255, 160, 0)) if len(rects) > 1 else rgb
    return np.asarray(draw_grasps(canvas, rects[:1], color=(0, 255, 0)))
