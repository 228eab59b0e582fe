# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""grasp_detector: lifecycle node wrapping the ROS-free GraspDetector.

Inputs (relative names, remap in launch): ``color/image_raw``, ``depth/image_raw`` (aligned to
colour; 16UC1 mm or 32FC1 m) and ``color/camera_info``. Outputs under ``kufenet/``: ``grasp``,
``grasps``, ``grasp_pose`` (grasp frame in ``base_frame``), ``debug_image``, ``markers``; the
service ``kufenet/detect_grasps``; ``/diagnostics``. Parameters: see ``detector_params.py``.

The service exists from start-up and answers NOT_READY (with the reason, e.g. why configure
failed) until the node is active; configure loads and warms up the model and creates the
publishers; activate subscribes and starts the latest-only worker; deactivate unsubscribes and
stops the worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import threading
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from kufenet_grasp.common.heap import trim_heap
from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.detection import builder, validation
from kufenet_grasp.geometry.calibration import load_static_mount
from kufenet_grasp.geometry.transforms import from_xyz_quat
from kufenet_grasp.nodes import detector_params
from kufenet_grasp.nodes.camera_inputs import (
    CameraInputs,
    COLOR_TOPIC,
    DEPTH_TOPIC,
    INFO_TOPIC,
    OVERSIZE_QUIET_S,
    STREAM_TOPICS,
)
from kufenet_grasp.nodes.diagnostics import DetectorStats, diagnostic_array
from kufenet_grasp.nodes.frame_processing import (
    FrameGrasp,
    FrameInput,
    FrameOutcome,
    FrameProcessor,
)
from kufenet_grasp.nodes.markers import grasp_marker_array
from kufenet_grasp.nodes.qos import input_qos, output_qos
from kufenet_grasp.nodes.ros_conversions import status_msg
from kufenet_grasp.nodes.tf_lookup import CameraToBase, StaticCameraMount
from kufenet_grasp.runtime.latest_worker import LatestWorker
from kufenet_msgs.msg import GraspRectangle, GraspRectangleArray
from kufenet_msgs.srv import DetectGrasps
from rcl_interfaces.msg import SetParametersResult
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import Node, State, TransitionCallbackReturn
from rclpy.service import Service
from rclpy.timer import Timer
from sensor_msgs.msg import CameraInfo, Image
from visualization_msgs.msg import MarkerArray

#: how the error log line of a failed configure begins (tools that run the node look for it)
CONFIGURE_FAILED = 'configure failed: '

DEFAULT_PRESET = builder.DEFAULT_PRESET
#: builds the inference backend (see kufenet_grasp.detection.builder.BackendFactory)
BACKEND_FACTORY: builder.BackendFactory = builder.create_default_backend


@dataclass
class _Latest:
    """The newest synchronised frame and the newest outcome (guarded by the node's lock)."""

    frame: FrameInput | None = None
    outcome: FrameOutcome | None = None
    outcome_frame: FrameInput | None = None
    #: the newest input image refused before it formed a frame (cleared by the next frame)
    refused: FrameOutcome | None = None
    last_frame_monotonic: float = field(default_factory=time.monotonic)


class GraspDetectorNode(Node):
    """Lifecycle node: synchronised RGB-D in, ranked grasps and grasp poses out."""

    def __init__(self, node_name: str = 'grasp_detector', *,
                 backend_factory: builder.BackendFactory | None = None,
                 parameter_defaults: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._backend_factory = backend_factory
        detector_params.declare_all(self, parameter_defaults)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._lock = threading.Lock()
        self._latest = _Latest()
        self._stats = DetectorStats()
        self._processor: FrameProcessor | None = None
        self._tf: CameraToBase | None = None
        self._worker: LatestWorker | None = None
        self._dropped_before = 0  # frames dropped by workers of earlier activations
        self._inputs: CameraInputs | None = None
        self._pubs: dict[str, Any] = {}
        self._timers: list[Any] = []
        self._active = False
        self._autostart_timer: Timer | None = None
        #: debug images drawn and published (only while someone subscribes)
        self.debug_images_sent = 0
        #: why the last configure failed (None after a successful configure)
        self.configure_error: str | None = None
        # offered from start-up, so a caller always gets a status (NOT_READY until active)
        self._service: Service | None = self.create_service(
            DetectGrasps, 'kufenet/detect_grasps', self._on_detect_grasps,
            callback_group=MutuallyExclusiveCallbackGroup())
        if self.get_parameter('autostart').value:
            self._autostart_timer = self.create_timer(0.0, self._autostart)

    # ----------------------------------------------------------------- parameters
    def param(self, name: str) -> Any:
        """Return current value of parameter ``name``."""
        return self.get_parameter(name).value

    def _on_set_parameters(self, params: list[Any]) -> SetParametersResult:
        current = {spec.name: self.param(spec.name) for spec in detector_params.PARAMETERS}
        for p in params:
            reason = detector_params.validate(p.name, p.value, current)
            if reason is not None:
                return SetParametersResult(successful=False, reason=reason)
            current[p.name] = p.value
        if self._processor is not None:
            try:
                self._processor.update_settings(current)
            except ValueError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
        if self._worker is not None and 'max_rate_hz' in {p.name for p in params}:
            self._worker.max_rate_hz = float(current['max_rate_hz'])
        if self._inputs is not None:
            self._inputs.max_pixels = int(current['max_image_pixels'])
        return SetParametersResult(successful=True)

    def _autostart(self) -> None:
        timer, self._autostart_timer = self._autostart_timer, None
        if timer is not None:  # a one-shot: configure and activate once
            timer.cancel()
            self.destroy_timer(timer)
        if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            self.trigger_activate()

    # ----------------------------------------------------------------- lifecycle
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        """Load and warm up the model; create publishers, the service and the tf lookup."""
        try:
            self._processor = self._load_processor()
            self._tf = self._make_tf()
        except Exception as exc:  # noqa: BLE001 -- any failure must end in FAILURE + reason
            self.configure_error = f'{type(exc).__name__}: {exc}'
            self.get_logger().error(f'{CONFIGURE_FAILED}{self.configure_error}')
            self._release()
            return TransitionCallbackReturn.FAILURE
        out = output_qos()
        self._pubs = {
            'grasp': self.create_lifecycle_publisher(GraspRectangle, 'kufenet/grasp', out),
            'grasps': self.create_lifecycle_publisher(GraspRectangleArray, 'kufenet/grasps',
                                                      out),
            'pose': self.create_lifecycle_publisher(PoseStamped, 'kufenet/grasp_pose', out),
            'debug': self.create_lifecycle_publisher(Image, 'kufenet/debug_image', out),
            'markers': self.create_lifecycle_publisher(MarkerArray, 'kufenet/markers', out),
            'diag': self.create_lifecycle_publisher(DiagnosticArray, '/diagnostics', 10),
        }
        self._stats.model_loaded = True
        self.configure_error = None
        trim_heap()  # what loading and warming up the model freed (5-10 MiB resident)
        self.get_logger().info(f'configured: {self._processor.describe()}, '
                               f'camera-to-{self._tf.base_frame} transform from {self._tf.mode}')
        if self._tf.mode == 'none':
            self.get_logger().warn(
                f'tf2_ros is not installed and no static transform is set: grasp poses will be '
                f"in the camera optical frame, not '{self._tf.base_frame}' (set "
                f'static_transform.enabled or static_transform.calibration_file)')
        return TransitionCallbackReturn.SUCCESS

    def _load_processor(self) -> FrameProcessor:
        weights = str(self.param('weights'))
        if not weights:
            weights, random_weights = builder.shipped_weights()
            if random_weights:
                self.get_logger().warn(
                    'NO TRAINED WEIGHTS: models/kufenet-80k.safetensors is not installed, '
                    'using the kufenet-80k preset with RANDOM weights; grasps are meaningless. '
                    "Set the 'weights' parameter to a trained .safetensors file.")
        settings = {spec.name: self.param(spec.name) for spec in detector_params.PARAMETERS}
        infer = builder.load_model(settings, weights, self._backend_factory or BACKEND_FACTORY)
        return FrameProcessor(infer, settings, weights, builder.input_spec_of_source(weights))

    def _make_tf(self) -> CameraToBase:
        base = str(self.param('base_frame'))
        static = None
        calib = str(self.param('static_transform.calibration_file'))
        if calib:
            mount = load_static_mount(calib)
            if mount.parent_frame != base:
                raise ValueError(f'static_transform.calibration_file {calib}: parent_frame '
                                 f"'{mount.parent_frame}' is not base_frame '{base}'")
            static = StaticCameraMount(mount.transform, base, mount.child_frame)
        elif self.param('static_transform.enabled'):
            transform = from_xyz_quat(list(self.param('static_transform.translation')),
                                      list(self.param('static_transform.rotation')))
            static = StaticCameraMount(transform, base)
        return CameraToBase(self, base, static, float(self.param('tf_timeout_s')))

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        """Subscribe to the camera and start the worker (publishers are activated first)."""
        result = super().on_activate(state)
        self._worker = LatestWorker(self._process_frame, float(self.param('max_rate_hz')),
                                    on_error=self._on_worker_error)
        qos = input_qos(str(self.param('input_reliability')),
                        int(self.param('input_queue_depth')))
        self._inputs = CameraInputs(self, qos, float(self.param('sync_slop_s')), self._on_frame,
                                    int(self.param('max_image_pixels')), self._on_refused,
                                    self._on_lost)
        with self._lock:
            self._latest.last_frame_monotonic = time.monotonic()
        self._timers = [
            self.create_timer(float(self.param('diagnostics_period_s')), self._publish_diag),
            self.create_timer(float(self.param('no_frame_warning_s')), self._check_no_frame),
            self.create_timer(OVERSIZE_QUIET_S, self._renew_after_oversize),
        ]
        self._active = True
        self.get_logger().info(f"active: listening on {', '.join(self._topic_names())}")
        return result

    def _on_frame(self, color: Image, depth: Image, info: CameraInfo | None) -> None:
        arrival_s = self.get_clock().now().nanoseconds * 1e-9
        with self._lock:
            previous = self._latest.frame
        if previous is not None and previous.stamp_s == FrameInput(color, depth, info).stamp_s:
            arrival_s = previous.arrival_s  # the same frame sent again does not get younger
        frame = FrameInput(color, depth, info, arrival_s)
        skew = validation.first_issue(validation.check_clock_skew(
            frame.stamp_s, arrival_s, float(self.param('max_clock_skew_s'))))
        if skew is not None:
            self.get_logger().warn(skew.message, throttle_duration_sec=5.0)
        self._stats.frame_in(time.monotonic())
        with self._lock:
            self._latest.frame = frame
            self._latest.refused = None
            self._latest.last_frame_monotonic = time.monotonic()
        if self._worker is not None:
            self._worker.put(frame)

    def _on_refused(self, stream: str, reason: str) -> None:
        """Report an input image refused unread (too many pixels) as a frame's outcome."""
        outcome = FrameOutcome(GraspStatus.BAD_INPUT, reason)
        self._stats.frame_refused(reason)
        self.get_logger().warn(reason, throttle_duration_sec=2.0)
        with self._lock:
            self._latest.outcome, self._latest.outcome_frame = outcome, None
            self._latest.refused = outcome

    def _on_lost(self, stream: str, lost_now: int, lost_total: int) -> None:
        topic = self.resolve_topic_name(STREAM_TOPICS[stream])
        self.get_logger().warn(
            f'{lost_total} {stream} message(s) on {topic} were announced by DDS but never '
            f'arrived whole (lost in transport): images larger than the shared-memory segment '
            f'(use config/dds/fastdds_large_images.xml in every process of the image path, or '
            f'a lower resolution) or fragments dropped on a busy link',
            throttle_duration_sec=5.0)

    def _renew_after_oversize(self) -> None:
        """Once oversize images stop, re-create their subscriptions to return DDS memory.

        Only under a SingleThreadedExecutor (as main() spins): rclpy's multi-threaded one can
        stop spinning with InvalidHandle when a subscription with event handlers is destroyed
        while another of its threads builds a wait set.
        """
        inputs = self._inputs
        if inputs is None or not isinstance(self.executor, SingleThreadedExecutor):
            return
        for stream, count in inputs.renew_after_oversize().items():
            self.get_logger().info(
                f'renewing the {stream} subscription after {count} oversize image(s) '
                f'(refused or lost in transport): DDS keeps memory for the largest image '
                f'until the reader goes')

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        """Unsubscribe and stop the worker: no processing while inactive."""
        self._stop_activity()
        return super().on_deactivate(state)

    def _stop_activity(self) -> None:
        self._active = False
        if self._inputs is not None:
            self._inputs.close()
            self._inputs = None
        for timer in self._timers:
            self.destroy_timer(timer)
        self._timers = []
        if self._worker is not None:
            self._worker.stop()
            self._dropped_before += self._worker.dropped + self._worker.skipped
            self._worker = None

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        """Release the model, publishers, service and tf listener."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        """Stop everything, whatever the state."""
        self._stop_activity()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self._pubs = {}
        if self._tf is not None:
            self._tf.close()
            self._tf = None
        self._processor = None
        self._stats.model_loaded = False
        with self._lock:
            self._latest = _Latest()

    def destroy_node(self) -> None:
        """Stop the worker and release the model before the node goes away."""
        self._stop_activity()
        self._release()
        if self._service is not None:
            self.destroy_service(self._service)
            self._service = None
        super().destroy_node()

    # ----------------------------------------------------------------- processing
    def _process_frame(self, frame: FrameInput) -> None:
        outcome = self._detect(frame, publish_best=True)
        if outcome is not None:
            self._publish(frame, outcome)

    def _publish_best(self, grasp: FrameGrasp) -> None:
        """Publish the best grasp and its pose, before the other candidates are measured."""
        if self._active and self._pubs:
            self._pubs['grasp'].publish(grasp.msg)
            if grasp.pose is not None:
                self._pubs['pose'].publish(grasp.pose)

    def _detect(self, frame: FrameInput, max_age_s: float | None = None,
                publish_best: bool = False) -> FrameOutcome | None:
        """Run the detector on ``frame``; with ``publish_best`` the first grasp goes out first.

        Only those camera-stream frames count in the frame-age and first-grasp diagnostics:
        a service request may run on an older frame and sends nothing early.
        """
        processor, tf = self._processor, self._tf
        if processor is None or tf is None:
            return None
        started = time.monotonic()
        now_s = self.get_clock().now().nanoseconds * 1e-9
        run = processor.start(frame, now_s, tf, max_age_s)
        first_ms = None
        for rank, grasp in enumerate(run):
            if publish_best and rank == 0:
                self._publish_best(grasp)
                first_ms = 1e3 * (time.monotonic() - started)
        outcome = run.outcome()
        age_ms = 1e3 * (now_s - frame.stamp_s) if publish_best else None
        self._stats.frame_done(time.monotonic(), 1e3 * (time.monotonic() - started),
                               outcome.summary, outcome.code == GraspStatus.OK,
                               outcome.support, first_ms, age_ms)
        for text in outcome.warnings:
            self.get_logger().warn(text, throttle_duration_sec=5.0)
        if outcome.code not in (GraspStatus.OK, GraspStatus.NO_GRASP):
            self.get_logger().warn(outcome.summary, throttle_duration_sec=2.0)
        with self._lock:
            self._latest.outcome, self._latest.outcome_frame = outcome, frame
        return outcome

    def _publish(self, frame: FrameInput, outcome: FrameOutcome) -> None:
        if not self._active or not self._pubs:
            return
        if outcome.grasps:  # the best one went out as it came (_publish_best)
            self._pubs['grasps'].publish(outcome.array())
        if outcome.poses:
            markers, processor = self._pubs['markers'], self._processor
            if self.param('publish_markers') and markers.get_subscription_count() > 0 \
                    and processor is not None:
                markers.publish(grasp_marker_array(
                    outcome.marker_poses(), outcome.poses[0].header.frame_id,
                    outcome.poses[0].header.stamp, gripper=processor.gripper))
        debug = self._pubs['debug']
        if self.param('publish_debug_image') and debug.get_subscription_count() > 0 \
                and outcome.rgb is not None:
            processor = self._processor
            if processor is not None:
                debug.publish(processor.debug_image(frame, outcome))
                self.debug_images_sent += 1

    def _on_worker_error(self, exc: BaseException) -> None:
        self.get_logger().error(f'grasp detection failed on a frame: {exc!r}',
                                throttle_duration_sec=5.0)

    # ----------------------------------------------------------------- service
    def _on_detect_grasps(self, request: Any, response: Any) -> Any:
        max_age = request.max_age_s if request.max_age_s > 0 else self.param('max_frame_age_s')
        top_k = int(self.param('top_k'))
        count = min(request.max_grasps, top_k) if request.max_grasps > 0 else top_k
        with self._lock:
            frame, outcome = self._latest.frame, self._latest.outcome
            refused = self._latest.refused
            if self._latest.outcome_frame is not frame:
                outcome = None  # the newest frame is not processed yet: detect on it now
        if not self._active or self._processor is None:
            return _status(response, GraspStatus.NOT_READY, self._not_ready_reason())
        if refused is not None:
            return _status(response, GraspStatus.BAD_INPUT, refused.summary)
        if frame is None:
            return _status(response, GraspStatus.NO_DATA,
                           f"no synchronised frame yet on {', '.join(self._topic_names())}")
        now_s = self.get_clock().now().nanoseconds * 1e-9
        stale = validation.first_issue(validation.check_age(frame.stamp_s, now_s, max_age,
                                                            frame.arrival_s))
        if stale is not None:
            return _status(response, stale.status, stale.message)
        if outcome is None or (outcome.code == GraspStatus.STALE_DATA and max_age > 0):
            outcome = self._detect(frame, max_age)
            if outcome is None:
                return _status(response, GraspStatus.NOT_READY, 'model released meanwhile')
        response.grasps = outcome.array(count)
        response.poses = list(outcome.poses[:count])
        response.status = status_msg(outcome.code, _service_message(
            outcome, len(response.grasps.grasps), request.max_grasps, top_k))
        return response

    def _not_ready_reason(self) -> str:
        """Why the service cannot detect: the lifecycle state, and why configure failed."""
        state = self._state_machine.current_state[1]
        reason = f'grasp_detector is {state}, not active'
        if self.configure_error is not None:
            reason += f' (configure failed: {self.configure_error})'
        elif self._processor is None:
            reason += ' (no model loaded: configure, then activate it)'
        return reason

    # ----------------------------------------------------------------- monitoring
    def _topic_names(self) -> list[str]:
        return [self.resolve_topic_name(t) for t in (COLOR_TOPIC, DEPTH_TOPIC, INFO_TOPIC)]

    def _check_no_frame(self) -> None:
        with self._lock:
            idle = time.monotonic() - self._latest.last_frame_monotonic
        limit = float(self.param('no_frame_warning_s'))
        inputs = self._inputs
        if idle <= limit or inputs is None:
            return
        slop = float(self.param('sync_slop_s'))
        gap = inputs.stamp_gap_s(limit)
        if gap is not None and abs(gap) > slop:
            self.get_logger().warn(
                f'no synchronised frame for {idle:.0f} s: colour and depth arrive but their '
                f'stamps differ by {abs(gap):.3f} s (depth {"behind" if gap > 0 else "ahead of"} '
                f'colour; sync_slop_s {slop}): stamp both with the same acquisition time, or '
                f'use depth aligned to colour (RealSense: align_depth.enable:=true, '
                f'aligned_depth_to_color/image_raw)', throttle_duration_sec=limit)
            return
        color, depth, info = self._topic_names()
        self.get_logger().warn(
            f'no synchronised frame for {idle:.0f} s on {color}, {depth} and {info} '
            f'(since activation: {inputs.describe()}). '
            f'Check: the camera publishes (input_reliability is '
            f"'{self.param('input_reliability')}'; a 'reliable' subscription cannot hear "
            f'best-effort publishers), the remappings point at these names, depth is '
            f'aligned to colour (RealSense: align_depth.enable:=true, aligned_depth_to_color/'
            f"image_raw) and stamps agree within sync_slop_s={self.param('sync_slop_s')}",
            throttle_duration_sec=limit)

    def _publish_diag(self) -> None:
        if 'diag' in self._pubs:
            snap = self.stats.snapshot()
            self._pubs['diag'].publish(diagnostic_array(snap, self.get_fully_qualified_name(),
                                                        self.get_clock().now().to_msg()))

    @property
    def pose_frame_source(self) -> str:
        """Where T_base_camera comes from: 'static', 'tf2', 'none' (or '' if unconfigured)."""
        return self._tf.mode if self._tf is not None else ''

    @property
    def active(self) -> bool:
        """True between on_activate and on_deactivate (subscribed, worker running)."""
        return self._active

    @property
    def last_outcome(self) -> FrameOutcome | None:
        """Outcome of the newest processed frame (None before the first one)."""
        with self._lock:
            return self._latest.outcome

    @property
    def stats(self) -> DetectorStats:
        """Frame counters (drops: frames replaced in the latest-only slot or over max_rate_hz)."""
        worker = self._worker
        self._stats.dropped = self._dropped_before + (worker.dropped + worker.skipped
                                                      if worker else 0)
        return self._stats


def _service_message(outcome: FrameOutcome, returned: int, requested: int, top_k: int) -> str:
    """Status message of a service answer: what was returned of what was found, and why."""
    if outcome.code != GraspStatus.OK:
        return outcome.summary
    found = len(outcome.rects)
    text = f'{returned} grasp(s) returned' + (f' of {found} found' if found > returned else '')
    if outcome.rejected:
        text += f', {outcome.rejected} candidate(s) rejected'
    if requested > top_k:
        text += f'; max_grasps {requested} is capped at top_k {top_k}'
    if not outcome.poses:  # an OK frame without poses had no camera_info
        text += '; no camera_info: pixel grasps with depth_m only (no width_m, no pose)'
    return text


def _status(response: Any, code: GraspStatus, message: str) -> Any:
    response.status = status_msg(code, message)
    return response


def main(args: list[str] | None = None) -> None:
    """Run the grasp_detector node until Ctrl-C."""
    rclpy.init(args=args)
    node = GraspDetectorNode()
    try:
        # Single-threaded on purpose: detection runs in the node's own worker thread, and
        # rclpy's MultiThreadedExecutor busy-polls while a callback group is busy, taking the
        # GIL from that worker (measured with `kufenet bench-node`: 6-15 answers a second at
        # p50 35-67 ms with it, 30 at p50 19 ms without it).
        rclpy.spin(node, executor=SingleThreadedExecutor())
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
