# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""End-to-end benchmark of the grasp_detector node (``kufenet bench-node``).

A replay camera publishes rendered PyBullet frames (640×480 RGB + aligned depth + camera info,
sensor-data QoS) at a fixed rate, stamped with the wall clock; the detector runs as its own
process (``python -m kufenet_grasp.nodes.grasp_detector``), exactly as the launch file starts
it; a listener in this process receives ``kufenet/grasp`` and pairs it with the frame by stamp.
Latency therefore covers transport in, synchronisation, decoding, pre-processing, the model,
post-processing, the pose transform and transport out. The listener also reads the detector's
``/diagnostics`` for its own per-frame work ("in-node"), which splits the latency in two.
Each ``max_rate_hz`` of a sweep starts a fresh detector; everything runs in a private
namespace so it cannot disturb a live system.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
import os
from pathlib import Path
import signal
import subprocess
import sys
import tempfile
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
from kufenet_grasp.bench.memory import process_rss_mib
from kufenet_grasp.bench.node_latency import (
    detector_report,
    LatencyLedger,
    NodeBenchResult,
    ProcessCpu,
)
from kufenet_grasp.common.package_files import SOURCE_ROOT
from kufenet_grasp.common.waiting import wait_until
from kufenet_grasp.geometry.transforms import RigidTransform
from kufenet_grasp.nodes.grasp_detector import CONFIGURE_FAILED
from kufenet_grasp.runtime.image_encoding import numpy_to_image_fields
from kufenet_grasp.sim.world import SimWorld, WorldConfig
from kufenet_msgs.msg import GraspRectangle
import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

FRAME_ID = 'camera_color_optical_frame'


@dataclass(frozen=True)
class NodeBenchSettings:
    """What to run: detector settings and the replay camera (Hz, s, px)."""

    weights: str = ''  #: empty = the detector's default (shipped kufenet-80k weights)
    backend: str = 'auto'
    threads: int = 1
    input_size: int = 224
    camera_rate_hz: float = 30.0
    duration_s: float = 20.0
    warmup_s: float = 3.0
    scenes: int = 4
    seed: int = 0
    depth_encoding: str = '16UC1'
    reliability: str = 'best_effort'  #: camera publishers and detector subscriptions
    startup_timeout_s: float = 90.0
    #: Fast DDS profile file of the detector process ('' = this process's environment)
    detector_dds_profile: str = ''

    def __post_init__(self) -> None:
        for name in ('camera_rate_hz', 'duration_s', 'startup_timeout_s'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)}')
        if self.warmup_s < 0 or self.scenes < 1 or self.threads < 1 or self.input_size < 8:
            raise ValueError('warmup_s must be >= 0, scenes >= 1, threads >= 1, '
                             'input_size >= 8')
        if self.reliability not in ('best_effort', 'reliable'):
            raise ValueError(f'reliability must be best_effort or reliable, got '
                             f'{self.reliability!r}')
        if self.detector_dds_profile and not Path(self.detector_dds_profile).is_file():
            raise ValueError(f'detector DDS profile {self.detector_dds_profile}: no such file')
        if self.depth_encoding not in ('16UC1', '32FC1'):
            raise ValueError(f'depth_encoding must be 16UC1 or 32FC1, got '
                             f'{self.depth_encoding!r}')


@dataclass
class ReplayFrames:
    """Rendered frames (RGB uint8, depth m), intrinsics K (3×3 px), T_base_camera."""

    frames: list[tuple[np.ndarray, np.ndarray]]
    k: np.ndarray
    t_base_camera: RigidTransform


def render_scenes(count: int, seed: int) -> ReplayFrames:
    """Render ``count`` cluttered PyBullet scenes (test objects) with sensor noise."""
    world = SimWorld(WorldConfig(scene_type='clutter', seed=seed))
    try:
        frames = []
        for i in range(count):
            world.reset(seed=seed + i)
            frame = world.capture()
            frames.append((frame.rgb, frame.depth_m))
        return ReplayFrames(frames, world.config.intrinsics.matrix(), world.camera_in_base())
    finally:
        world.close()


class ReplayCamera(Node):
    """Publishes the replay frames on color/image_raw, depth/image_raw, color/camera_info."""

    def __init__(self, replay: ReplayFrames, rate_hz: float, ledger: LatencyLedger,
                 depth_encoding: str = '16UC1', namespace: str = '',
                 reliability: str = 'best_effort') -> None:
        super().__init__('kufenet_bench_camera', namespace=namespace)
        qos = QoSProfile(depth=qos_profile_sensor_data.depth,
                         reliability=ReliabilityPolicy.RELIABLE if reliability == 'reliable'
                         else ReliabilityPolicy.BEST_EFFORT)
        self._pubs = (self.create_publisher(Image, 'color/image_raw', qos),
                      self.create_publisher(Image, 'depth/image_raw', qos),
                      self.create_publisher(CameraInfo, 'color/camera_info', qos))
        self._messages = []
        for rgb, depth in replay.frames:
            color = Image(**numpy_to_image_fields(rgb, 'rgb8'))
            depth_msg = Image(**numpy_to_image_fields(depth, depth_encoding))
            info = CameraInfo(width=rgb.shape[1], height=rgb.shape[0],
                              k=[float(v) for v in replay.k.ravel()],
                              distortion_model='plumb_bob', d=[0.0] * 5)
            self._messages.append((color, depth_msg, info))
        self._ledger = ledger
        self._next = 0
        self.enabled = True
        self.create_timer(1.0 / rate_hz, self.publish_frame)

    def publish_frame(self) -> None:
        """Publish the next frame, stamped now (wall clock)."""
        if not self.enabled:
            return
        color, depth, info = self._messages[self._next % len(self._messages)]
        self._next += 1
        stamp_ns = self.get_clock().now().nanoseconds
        for msg in (color, depth, info):
            msg.header.frame_id = FRAME_ID
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        self._ledger.sent(stamp_ns)
        for pub, message in zip(self._pubs, (color, depth, info)):
            pub.publish(message)


class GraspListener(Node):
    """Receives kufenet/grasp and records, per frame stamp, when the grasp arrived.

    Also records the per-frame work the detector in ``namespace`` reports on /diagnostics.
    """

    def __init__(self, ledger: LatencyLedger, namespace: str = '') -> None:
        super().__init__('kufenet_bench_listener', namespace=namespace)
        self._ledger = ledger
        self._detector_prefix = f"{namespace.rstrip('/')}/"
        self.create_subscription(GraspRectangle, 'kufenet/grasp', self._on_grasp, 50)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)

    def _on_grasp(self, msg: GraspRectangle) -> None:
        now_ns = self.get_clock().now().nanoseconds
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self._ledger.received(stamp_ns, now_ns)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        now_ns = self.get_clock().now().nanoseconds
        for status in msg.status:
            if not status.name.startswith(self._detector_prefix):
                continue
            report = detector_report({kv.key: kv.value for kv in status.values})
            if report is not None:
                self._ledger.in_node(now_ns, report)


def detector_command(settings: NodeBenchSettings, namespace: str, max_rate_hz: float,
                     t_base_camera: RigidTransform) -> list[str]:
    """Return grasp_detector process: this interpreter, the benchmark's settings as parameters."""
    xyz = [float(v) for v in t_base_camera.translation]
    quat = [float(v) for v in t_base_camera.quaternion_xyzw]
    params = {
        'backend': settings.backend, 'threads': settings.threads,
        'input_size': settings.input_size, 'max_rate_hz': float(max_rate_hz),
        'static_transform.enabled': 'true',
        'static_transform.translation': '[' + ','.join(f'{v:.9f}' for v in xyz) + ']',
        'static_transform.rotation': '[' + ','.join(f'{v:.9f}' for v in quat) + ']',
        'no_frame_warning_s': 3600.0, 'input_reliability': settings.reliability,
    }
    if settings.weights:
        params['weights'] = settings.weights
    cmd = [sys.executable, '-m', 'kufenet_grasp.nodes.grasp_detector', '--ros-args',
           '-r', f'__ns:={namespace}', '-r', '__node:=grasp_detector']
    for name, value in params.items():
        cmd += ['-p', f'{name}:={value}']
    return cmd


def detector_env(settings: NodeBenchSettings) -> dict[str, str]:
    """Environment of the detector process: this one's, the package first on PYTHONPATH."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(SOURCE_ROOT),
                                                    env.get('PYTHONPATH', '')) if p)
    if settings.detector_dds_profile:
        env['FASTRTPS_DEFAULT_PROFILES_FILE'] = str(Path(settings.detector_dds_profile))
    return env


class DetectorProcess:
    """The detector child process, its log file and its CPU clock."""

    def __init__(self, cmd: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.log_path = log_path
        self._log = log_path.open('wb')
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.cpu = ProcessCpu(self.proc.pid)

    def alive(self) -> bool:
        """Return True while the process runs."""
        return self.proc.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """Return the last lines of its output."""
        self._log.flush()
        text = self.log_path.read_text(errors='replace').splitlines()
        return '\n'.join(text[-lines:])

    def configure_error(self) -> str | None:
        """Why the detector refused to configure (from its log), or None while it has not."""
        self._log.flush()
        with self.log_path.open('r', errors='replace') as log:
            for line in log:
                if CONFIGURE_FAILED in line:
                    return line.split(CONFIGURE_FAILED, 1)[1].strip()
        return None

    def stop(self) -> None:
        """SIGINT (clean rclpy shutdown), then kill after 10 s."""
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def run_node_bench(settings: NodeBenchSettings, max_rates: list[float],
                   replay: ReplayFrames | None = None,
                   log: Callable[[str], None] = print) -> list[NodeBenchResult]:
    """Run one window per ``max_rates`` entry (0 = unlimited); returns their statistics.

    Raises RuntimeError (with the detector's log tail) when the detector dies or never
    answers within ``startup_timeout_s``.
    """
    replay = replay or render_scenes(settings.scenes, settings.seed)
    namespace = f'/kufenet_bench_{os.getpid()}'
    owns_context = not rclpy.ok()
    if owns_context:
        rclpy.init()
    ledger = LatencyLedger()
    camera = ReplayCamera(replay, settings.camera_rate_hz, ledger, settings.depth_encoding,
                          namespace, settings.reliability)
    listener = GraspListener(ledger, namespace)
    executor = SingleThreadedExecutor()
    executor.add_node(camera)
    executor.add_node(listener)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    results: list[NodeBenchResult] = []
    log_dir = Path(tempfile.mkdtemp(prefix='kufenet_bench_node_'))
    try:
        for rate in max_rates:
            cmd = detector_command(settings, namespace, rate, replay.t_base_camera)
            ledger.clear()
            started = time.monotonic()
            detector = DetectorProcess(cmd, log_dir / f'detector_{rate:g}hz.log',
                                       detector_env(settings))
            try:
                ready = wait_until(lambda: ledger.answered > 0 or not detector.alive()
                                   or detector.configure_error() is not None,
                                   settings.startup_timeout_s, 0.05)
                refused = detector.configure_error()
                if refused is not None:  # it stays unconfigured: waiting cannot help
                    raise RuntimeError(f'the detector (max_rate_hz={rate:g}) refused to '
                                       f'configure: {refused}')
                if not ready or not detector.alive():
                    raise RuntimeError(
                        f'the detector (max_rate_hz={rate:g}) published no grasp within '
                        f'{settings.startup_timeout_s:.0f} s; its log '
                        f'({detector.log_path}):\n{detector.log_tail()}')
                startup_s = time.monotonic() - started  # process start to first grasp
                time.sleep(settings.warmup_s)
                start_ns = camera.get_clock().now().nanoseconds
                cpu0, own0 = detector.cpu.seconds(), time.process_time()
                time.sleep(settings.duration_s)
                end_ns = camera.get_clock().now().nanoseconds
                cpu1, own1 = detector.cpu.seconds(), time.process_time()
                rss, peak = process_rss_mib(detector.proc.pid)
                time.sleep(0.5)  # answers to the last frames of the window
                cpu_s = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
                result = replace(ledger.summarise(start_ns, end_ns, rate, cpu_s, own1 - own0),
                                 startup_s=round(startup_s, 3), rss_mib=rss, peak_rss_mib=peak)
                results.append(result)
                log(f'max_rate_hz={rate:g}: {result.frames_answered}/{result.frames_sent} '
                    f'frames answered, p50 {result.p50_ms:.1f} ms, p95 {result.p95_ms:.1f} ms, '
                    f'start-up {startup_s:.2f} s, RSS {rss or float("nan"):.0f} MiB')
            finally:
                detector.stop()
    finally:
        camera.enabled = False
        executor.shutdown(timeout_sec=5.0)
        spinner.join(timeout=5.0)
        camera.destroy_node()
        listener.destroy_node()
        if owns_context:
            rclpy.try_shutdown()
    return results
