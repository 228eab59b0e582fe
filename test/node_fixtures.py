# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Test fixtures for the grasp_detector node: a synthetic RGB-D camera and an oracle backend.

The scene: a box on a table plane, seen by a camera looking straight down, rendered
analytically (pinhole, known intrinsics). The camera-to-base transform is known, so the box's
top-centre position in ``base_link`` is known exactly. The oracle backend returns the grasp
maps of that box computed from the network input itself, so the node's plumbing (sync, worker,
detector, poses, messages) is exercised deterministically without a trained model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
from dataclasses import dataclass, replace
import re
import threading
import time
from typing import Any

from builtin_interfaces.msg import Time
from kufenet_grasp.common.waiting import wait_until
from kufenet_grasp.geometry.transforms import from_xyz_quat
from kufenet_grasp.nodes.grasp_detector import GraspDetectorNode
from kufenet_grasp.runtime.image_encoding import numpy_to_image_fields
import numpy as np
import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

#: deadline (s) for a node to configure and activate: a liveness bound, not a speed
#: requirement. On a CPU shared with other jobs (load 12-16 on 2 cores, tests at nice 10) one
#: activation of grasp_detector took 5-17 s: the process waits for the CPU, and configure pays
#: one-off costs, the first imports it makes and the process's first log call (rclpy finds the
#: caller with inspect, which resolves the path of every loaded module once: about 870
#: realpath calls, 2 s at load 13 against 0.7 ms for the second call).
START_TIMEOUT_S = 60.0

WIDTH = HEIGHT = 96
INPUT_SIZE = 96
FX = FY = 150.0
CX, CY = (WIDTH - 1) / 2.0, (HEIGHT - 1) / 2.0
FRAME_ID = 'camera_color_optical_frame'
#: camera optical frame in base_link: 0.8 m above the table, looking straight down
CAMERA_XYZ = (0.5, 0.0, 0.8)
CAMERA_QUAT = (1.0, 0.0, 0.0, 0.0)  # half turn about x: optical z = base -z
T_BASE_CAMERA = from_xyz_quat(CAMERA_XYZ, CAMERA_QUAT)
#: box on the table (base_link, metres): centre x, y; size along x, y; height
BOX_CENTER = (0.52, 0.01)
BOX_SIZE = (0.08, 0.04)
BOX_HEIGHT = 0.1
BOX_TOP_CENTER = np.array([BOX_CENTER[0], BOX_CENTER[1], BOX_HEIGHT])

#: parameters that make the detector node use the fixture scene
DETECTOR_PARAMS: dict[str, Any] = {
    'input_size': INPUT_SIZE,
    'threads': 1,
    'weights': 'oracle',
    'backend': 'torch',
    'quality_threshold': 0.2,
    'min_peak_distance_px': 5,
    'depth_min_m': 0.2,
    'depth_max_m': 1.5,
    'static_transform.enabled': True,
    'static_transform.translation': list(CAMERA_XYZ),
    'static_transform.rotation': list(CAMERA_QUAT),
    'max_rate_hz': 0.0,
    'no_frame_warning_s': 2.0,
}


@dataclass(frozen=True)
class Variant:
    """How the fixture camera deviates from a good frame (all False/0 = good frame)."""

    depth_encoding: str = '32FC1'
    color_encoding: str = 'rgb8'
    depth_size: tuple[int, int] = (WIDTH, HEIGHT)
    all_nan_depth: bool = False
    center_hole_px: int = 0
    send_info: bool = True
    stamp_offset_s: float = 0.0
    depth_frame_id: str = FRAME_ID
    #: depth stamped this much later than colour (s)
    depth_stamp_offset_s: float = 0.0
    #: depth values multiplied by this before encoding (-1: sign flip; 1e-3: metres as mm)
    depth_scale: float = 1.0
    #: (width, height) of both images and the camera info instead of the fixture size
    image_size: tuple[int, int] | None = None


def box_pixel_center() -> tuple[float, float]:
    """Pixel (u, v) of the box's top centre in the fixture image."""
    p_cam = T_BASE_CAMERA.inverse().apply(BOX_TOP_CENTER)
    return FX * p_cam[0] / p_cam[2] + CX, FY * p_cam[1] / p_cam[2] + CY


def render(width: int = WIDTH, height: int = HEIGHT) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 H×W×3 and depth float32 H×W (m) of the box scene (intrinsics scaled to size)."""
    sx, sy = width / WIDTH, height / HEIGHT
    u, v = np.meshgrid(np.arange(width, dtype=float), np.arange(height, dtype=float))
    ray = np.stack([((u + 0.5) / sx - 0.5 - CX) / FX, ((v + 0.5) / sy - 0.5 - CY) / FY,
                    np.ones_like(u)], axis=-1)
    depth = np.full((height, width), CAMERA_XYZ[2], np.float32)
    top_depth = CAMERA_XYZ[2] - BOX_HEIGHT
    top = T_BASE_CAMERA.apply(ray * top_depth)
    on_box = (np.abs(top[..., 0] - BOX_CENTER[0]) <= BOX_SIZE[0] / 2) & \
        (np.abs(top[..., 1] - BOX_CENTER[1]) <= BOX_SIZE[1] / 2)
    depth[on_box] = top_depth
    rgb = np.full((height, width, 3), 120, np.uint8)
    rgb[on_box] = (200, 40, 30)
    return rgb, depth


class OracleBackend:
    """Grasp maps (1,4,S,S) of the object that stands out of the plane in the input depth.

    Quality is a Gaussian at the centroid of the raised region; the closing axis is across its
    minor principal axis; the width is the minor extent plus 4 px, divided by 150.
    """

    name = 'oracle'

    def __init__(self, input_size: int = INPUT_SIZE) -> None:
        self.input_size = input_size
        self.calls = 0

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Map [quality, cos 2θ, sin 2θ, width/150] for the normalised input ``x``."""
        self.calls += 1
        s = self.input_size
        out = np.zeros((1, 4, s, s), np.float32)
        depth = np.asarray(x)[0, 0]
        if not np.ptp(depth) > 0.02:
            return out
        mask = depth < (depth.min() + depth.max()) / 2.0
        rows, cols = np.nonzero(mask)
        cy, cx = rows.mean(), cols.mean()
        cov = np.cov(np.stack([cols - cx, rows - cy]))
        evals, evecs = np.linalg.eigh(cov)
        minor = evecs[:, 0]  # (dx, dy) in image pixels
        angle = np.arctan2(-minor[1], minor[0])
        extent = 4.0 * np.sqrt(max(evals[0], 1e-6)) + 4.0
        yy, xx = np.mgrid[0:s, 0:s]
        out[0, 0] = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 2.0 ** 2)) * mask
        out[0, 1] = np.cos(2 * angle)
        out[0, 2] = np.sin(2 * angle)
        out[0, 3] = extent / 150.0
        return out


def oracle_factory(name: str, source: str, input_size: int, threads: int) -> OracleBackend:
    """Backend factory for GraspDetectorNode(backend_factory=...)."""
    return OracleBackend(input_size)


def _image(array: np.ndarray, encoding: str, header: Any) -> Image:
    if encoding in ('16UC1', '32FC1') or encoding in ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8'):
        msg = Image(**numpy_to_image_fields(array, encoding))
    else:  # an encoding the node must refuse: fill the fields by hand
        data = np.ascontiguousarray(array).tobytes()
        msg = Image(height=array.shape[0], width=array.shape[1], encoding=encoding,
                    step=len(data) // array.shape[0], data=data)
    msg.header = header
    return msg


class FakeCamera(Node):
    """Publishes the box scene on color/image_raw, depth/image_raw and color/camera_info."""

    def __init__(self, name: str = 'fake_camera', namespace: str = '',
                 reliability: ReliabilityPolicy = ReliabilityPolicy.BEST_EFFORT,
                 rate_hz: float = 10.0) -> None:
        super().__init__(name, namespace=namespace)
        qos = QoSProfile(depth=2, reliability=reliability)
        self.color_pub = self.create_publisher(Image, 'color/image_raw', qos)
        self.depth_pub = self.create_publisher(Image, 'depth/image_raw', qos)
        self.info_pub = self.create_publisher(CameraInfo, 'color/camera_info', qos)
        self.variant = Variant()
        self.enabled = True
        self.sent = 0
        self.create_timer(1.0 / rate_hz, self.publish_frame)

    def set_variant(self, **changes: Any) -> None:
        """Switch to a good frame modified by ``changes`` (fields of :class:`Variant`)."""
        self.variant = replace(Variant(), **changes)

    def publish_frame(self) -> None:
        """Publish one frame of the current variant."""
        if not self.enabled:
            return
        var = self.variant
        stamp_ns = self.get_clock().now().nanoseconds + int(var.stamp_offset_s * 1e9)
        header = Image().header
        header.frame_id = FRAME_ID
        header.stamp.sec, header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        rgb, _ = render(*(var.image_size or (WIDTH, HEIGHT)))
        _, depth = render(*(var.image_size or var.depth_size))
        depth *= np.float32(var.depth_scale)
        if var.all_nan_depth:
            depth[:] = np.nan
        if var.center_hole_px:
            u, v = box_pixel_center()
            r = var.center_hole_px
            depth[int(v) - r:int(v) + r + 1, int(u) - r:int(u) + r + 1] = np.nan
        depth_header = type(header)(stamp=header.stamp, frame_id=var.depth_frame_id)
        if var.depth_stamp_offset_s:
            depth_ns = stamp_ns + int(var.depth_stamp_offset_s * 1e9)
            sec, nanosec = divmod(depth_ns, 1_000_000_000)
            depth_header.stamp = Time(sec=sec, nanosec=nanosec)  # a copy: colour keeps its own
        if var.send_info:
            width, height = var.image_size or (WIDTH, HEIGHT)
            sx, sy = width / WIDTH, height / HEIGHT  # intrinsics of the rendered size
            info = CameraInfo(header=header, width=width, height=height,
                              k=[FX * sx, 0.0, (CX + 0.5) * sx - 0.5, 0.0, FY * sy,
                                 (CY + 0.5) * sy - 0.5, 0.0, 0.0, 1.0],
                              distortion_model='plumb_bob')
            self.info_pub.publish(info)
        self.depth_pub.publish(_image(depth, var.depth_encoding, depth_header))
        color = rgb if var.color_encoding != 'yuv422' else rgb[:, :, :2]
        self.color_pub.publish(_image(color, var.color_encoding, header))
        self.sent += 1


class Collector(Node):
    """Records every message on the given (topic, type) pairs."""

    def __init__(self, topics: dict[str, type], name: str = 'collector') -> None:
        super().__init__(name)
        self.lock = threading.Lock()
        self.messages: dict[str, list[Any]] = {topic: [] for topic in topics}
        for topic, msg_type in topics.items():
            self.create_subscription(msg_type, topic, self._store(topic), 10)

    def _store(self, topic: str) -> Callable[[Any], None]:
        def store(msg: Any) -> None:
            with self.lock:
                self.messages[topic].append(msg)
        return store

    def count(self, topic: str) -> int:
        """Messages received on ``topic`` so far."""
        with self.lock:
            return len(self.messages[topic])

    def last(self, topic: str) -> Any:
        """Return the newest message on ``topic`` (None if none)."""
        with self.lock:
            return self.messages[topic][-1] if self.messages[topic] else None

    def clear(self) -> None:
        """Forget everything received."""
        with self.lock:
            for values in self.messages.values():
                values.clear()


def _spin(nodes: tuple[Node, ...], num_threads: int
          ) -> tuple[MultiThreadedExecutor, threading.Thread]:
    """Return a MultiThreadedExecutor holding ``nodes`` and the daemon thread spinning it."""
    executor = MultiThreadedExecutor(num_threads=num_threads)
    for node in nodes:
        executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    return executor, thread


class Spinner:
    """Spins nodes in background threads: the first ones together, each later batch apart.

    A node added to an executor that has been spinning for a while was sometimes never served
    on a loaded machine (a detector not active within 60 s, a service unanswered for 30 s), and
    a callback still blocked from an earlier test could hold that executor's threads; so
    :meth:`add` gives its nodes an executor and a thread of their own.
    """

    def __init__(self, *nodes: Node) -> None:
        self.executor, self.thread = _spin(nodes, num_threads=4)
        self._apart: dict[Node, tuple[MultiThreadedExecutor, threading.Thread]] = {}

    def add(self, *nodes: Node) -> None:
        """Spin more nodes on their own executor; :meth:`remove` each before destroying it."""
        batch = _spin(nodes, num_threads=2)
        for node in nodes:
            self._apart[node] = batch

    def remove(self, node: Node) -> None:
        """Stop spinning ``node``; the executor of an added batch stops with its last node."""
        entry = self._apart.pop(node, None)
        if entry is None:
            self.executor.remove_node(node)
            return
        executor, thread = entry
        executor.remove_node(node)
        if all(other is not executor for other, _ in self._apart.values()):
            executor.shutdown(timeout_sec=5.0)
            thread.join(timeout=5.0)

    def shutdown(self) -> None:
        """Stop spinning every node and join the threads."""
        for node in list(self._apart):
            self.remove(node)
        self.executor.shutdown(timeout_sec=5.0)
        self.thread.join(timeout=5.0)


def wait_for(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll ``predicate`` every 20 ms until it is true or ``timeout_s`` passed."""
    return wait_until(predicate, timeout_s)


def wait_for_log(capfd: Any, pattern: str, timeout_s: float = 30.0) -> str:
    """Stderr (the nodes' log) read from ``capfd`` until ``pattern`` (a regex) is in it; all of it.

    Returns what was read, with or without the pattern (the caller asserts on it).
    """
    found = ['']

    def seen() -> bool:
        found[0] += capfd.readouterr().err
        return re.search(pattern, found[0]) is not None

    wait_until(seen, timeout_s, period_s=0.1)
    return found[0]


def call_service(node: Node, client: Any, request: Any, timeout_s: float = 10.0,
                 attempt_s: float | None = None) -> Any:
    """Call a service from a test thread while a Spinner spins ``node``; None on timeout.

    A request sent just after discovery can lose its response (the server's reply writer has
    not matched the client's reader yet, a known DDS race), so an unanswered request is
    withdrawn and sent again every ``attempt_s`` (default: never) until ``timeout_s`` has
    passed; only for requests that may be served twice.
    """
    deadline = time.monotonic() + timeout_s
    if not client.wait_for_service(timeout_sec=timeout_s):
        return None
    while True:
        future = client.call_async(request)
        remaining = deadline - time.monotonic()
        if wait_for(future.done, max(min(attempt_s or remaining, remaining), 0.0)):
            return future.result()
        client.remove_pending_request(future)
        if time.monotonic() >= deadline:
            return None


def init_ros() -> None:
    """rclpy.init() unless already initialised."""
    if not rclpy.ok():
        rclpy.init()


@dataclass
class DetectorGraph:
    """A :class:`FakeCamera`, a grasp_detector and a :class:`Collector`, spun together."""

    camera: FakeCamera
    detector: GraspDetectorNode
    collector: Collector
    spinner: Spinner


@contextlib.contextmanager
def detector_graph(topics: dict[str, type], *, namespace: str = '',
                   params: dict[str, Any] | None = None,
                   backend_factory: Callable[..., Any] = oracle_factory,
                   camera_name: str = 'fake_camera', collector_name: str = 'collector',
                   camera_enabled: bool = True, wait_active: bool = True
                   ) -> Iterator[DetectorGraph]:
    """Spin a camera, a detector and a collector of ``topics``; destroy them afterwards.

    The nodes live in ``namespace``; the detector takes ``params`` (default
    :data:`DETECTOR_PARAMS`) and ``backend_factory``. ``wait_active``: wait until the detector
    is active (autostart) before yielding. rclpy is shut down at the end.
    """
    init_ros()
    where = {'namespace': namespace} if namespace else {}
    camera = FakeCamera(camera_name, **where)
    camera.enabled = camera_enabled
    detector = GraspDetectorNode(backend_factory=backend_factory,
                                 parameter_defaults=DETECTOR_PARAMS if params is None else params,
                                 **where)
    collector = Collector(topics, name=collector_name)
    spinner = Spinner(camera, detector, collector)
    try:
        if wait_active:
            assert wait_for(lambda: detector.active, START_TIMEOUT_S)
        yield DetectorGraph(camera, detector, collector, spinner)
    finally:
        spinner.shutdown()
        for node in (camera, detector, collector):
            node.destroy_node()
        rclpy.try_shutdown()


def wait_outcome(detector: GraspDetectorNode, accept: Callable[[Any], bool],
                 timeout_s: float) -> Any:
    """Wait until the detector's last outcome passes ``accept``; return that outcome.

    The accepted outcome itself is returned, not a re-read of ``last_outcome``: on a loaded
    machine the worker may store a newer one (a stale-frame check) in between. Without a
    match, the last outcome seen (or None) is returned for the caller's assertion message.
    """
    seen = []

    def accepted() -> bool:
        outcome = detector.last_outcome
        if outcome is not None and accept(outcome):
            seen.append(outcome)
            return True
        return False

    wait_for(accepted, timeout_s)
    return seen[-1] if seen else detector.last_outcome


def wait_code(detector: GraspDetectorNode, code: int, timeout_s: float) -> Any:
    """Wait until the detector's last outcome has status ``code``; return that outcome."""
    return wait_outcome(detector, lambda outcome: outcome.code == code, timeout_s)
