# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``make demo``: sim_world, grasp_detector and grasp_executor in ONE process, picking objects.

The three nodes run on one rclpy ``MultiThreadedExecutor`` (``ros2 launch`` is not needed) in
a private rclpy context, with the parameter files of ``launch/sim_pipeline.launch.py``
(``config/detector.yaml``, ``config/executor.yaml``, ``config/sim_world.yaml``, in that order)
plus a small overrides file the run writes into its report folder (weights, scene type, seed).
Each attempt sends a PickAndPlace goal without a grasp: the executor asks the detector for the
newest frame's best grasps, picks and places into the tray; the world then checks that an
object really lies in the tray. With ``grasp_source="labeller"`` the goal instead carries a
grasp verified by the dataset's physics labeller (``demo/oracle.py``): a measure of the robot
side alone, for when no trained weights exist. Results go to ``reports/demo-<UTC timestamp>/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, UTC
import math
from pathlib import Path
import threading
import time
from typing import Any

from kufenet_grasp.common.package_files import package_roots, SOURCE_ROOT
from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.common.waiting import wait_until
from kufenet_grasp.demo.oracle import labelled_grasp, ReferenceGrasp
from kufenet_grasp.demo.report import attempt_tile, AttemptRecord, summarise, write_report
from kufenet_grasp.detection.builder import shipped_weights
from kufenet_grasp.nodes.grasp_detector import GraspDetectorNode
from kufenet_grasp.nodes.grasp_executor import GraspExecutorNode
from kufenet_grasp.nodes.ros_conversions import pose_stamped
from kufenet_grasp.nodes.sim_world import SimWorldNode
from kufenet_grasp.runtime.image_encoding import image_to_numpy
import numpy as np
import yaml

PARAM_FILES = ('detector.yaml', 'executor.yaml', 'sim_world.yaml')
GRASP_SOURCES = ('detector', 'labeller')


def default_config_dir() -> Path:
    """Return the ``config/`` that holds the demo's parameter files: installed, else source."""
    return next((root / 'config' for root in package_roots()
                 if all((root / 'config' / name).is_file() for name in PARAM_FILES)),
                SOURCE_ROOT / 'config')  # DemoOptions reports the missing files


class DemoError(RuntimeError):
    """The demo could not start (missing config, detector not ready, ...)."""


@dataclass
class DemoOptions:
    """Settings of one demo run (counts, seconds, paths)."""

    attempts: int = 20
    clutter: int = 0  #: 0: one object per scene; N: scenes of N objects cleared one by one
    seed: int = 0
    object_split: str = 'test'
    weights: str = ''  #: "" = models/kufenet-80k.safetensors if present, else the default
    out_root: Path = Path('reports')  #: relative to the working directory (git-ignored)
    config_dir: Path = field(default_factory=default_config_dir)
    namespace: str = ''
    attempt_timeout_s: float = 60.0
    startup_timeout_s: float = 120.0
    max_failures_per_scene: int = 3
    grasp_source: str = 'detector'  #: detector | labeller (reference grasps, see oracle.py)
    progress: bool = True
    #: extra sim_world parameters (e.g. a smaller camera for tests)
    sim_overrides: dict[str, Any] = field(default_factory=dict)
    #: grasp_detector parameters over config/detector.yaml (e.g. gripper.finger_check)
    detector_overrides: dict[str, Any] = field(default_factory=dict)
    #: the detector's inference backend factory (None = the project's backends; tests inject)
    backend_factory: Any = None

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f'--attempts must be >= 1, got {self.attempts}')
        if not 0 <= self.clutter <= 15:
            raise ValueError(f'--clutter must be 0 (single objects) or 1..15, got '
                             f'{self.clutter}')
        for name in PARAM_FILES:
            if not (Path(self.config_dir) / name).is_file():
                raise ValueError(f'demo: parameter file {Path(self.config_dir) / name} is '
                                 f'missing')
        if self.grasp_source not in GRASP_SOURCES:
            raise ValueError(f"--grasps must be one of {', '.join(GRASP_SOURCES)}, got "
                             f'{self.grasp_source!r}')
        if self.weights and not Path(self.weights).is_file() and '/' in self.weights:
            raise ValueError(f'--weights {self.weights}: no such file')


def resolve_weights(requested: str) -> str:
    """Return the detector's ``weights``.

    The request, else the shipped trained file when it exists, else "" (the detector's default).
    """
    if requested:
        return requested
    source, is_random = shipped_weights()
    return '' if is_random else source


def _overrides(options: DemoOptions, weights: str) -> dict[str, Any]:
    sim = {'scene_type': 'clutter' if options.clutter else 'single',
           'clutter_count': max(options.clutter, 1), 'seed': int(options.seed),
           'object_split': options.object_split, 'host_executor': False,
           **options.sim_overrides}
    out: dict[str, Any] = {'/**/sim_world': {'ros__parameters': sim}}
    detector = dict(options.detector_overrides)
    if weights:
        detector['weights'] = weights
    if detector:
        out['/**/grasp_detector'] = {'ros__parameters': detector}
    return out


class _Client:
    """Action client + latest colour image (in the demo's rclpy context)."""

    def __init__(self, context: Any, namespace: str) -> None:
        from kufenet_msgs.action import PickAndPlace
        from rclpy.action import ActionClient
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image

        self.node = Node('kufenet_demo', namespace=namespace, context=context)
        self.action = ActionClient(self.node, PickAndPlace, 'kufenet/pick_and_place')
        self.goal_type = PickAndPlace.Goal
        self._lock = threading.Lock()
        self._image: Any = None
        self.node.create_subscription(Image, 'color/image_raw', self._on_image,
                                      qos_profile_sensor_data)

    def _on_image(self, msg: Any) -> None:
        with self._lock:
            self._image = msg

    def latest_rgb(self) -> np.ndarray | None:
        """Return the newest colour image (RGB uint8) or None."""
        with self._lock:
            msg = self._image
        return image_to_numpy(msg) if msg is not None else None

    def goal_for(self, grasp: ReferenceGrasp | None) -> Any:
        """Build a goal with ``grasp`` (base_link), or without (the executor asks the detector)."""
        if grasp is None:
            return self.goal_type(use_grasp=False, use_place_pose=False)
        from kufenet_msgs.msg import GraspRectangle

        stamp = self.node.get_clock().now().to_msg()
        rect = GraspRectangle(center_x=grasp.center[0], center_y=grasp.center[1],
                              angle=grasp.angle, opening_px=grasp.opening_px,
                              jaw_px=grasp.jaw_px, quality=1.0, width_m=grasp.width_m,
                              depth_m=grasp.depth_m)
        rect.header.stamp = stamp
        return self.goal_type(use_grasp=True, grasp=rect,
                              grasp_pose=pose_stamped(grasp.pose, 'base_link', stamp),
                              use_place_pose=False)

    def pick(self, goal: Any, timeout_s: float) -> tuple[Any, float]:
        """Send ``goal``; (result or None on timeout, seconds)."""
        start = time.monotonic()
        if not self.action.wait_for_server(timeout_sec=10.0):
            return None, time.monotonic() - start
        sent = self.action.send_goal_async(goal)
        if not wait_until(sent.done, 10.0) or not sent.result().accepted:
            return None, time.monotonic() - start
        handle = sent.result()
        done = handle.get_result_async()
        if not wait_until(done.done, timeout_s):
            handle.cancel_goal_async()
            wait_until(done.done, 10.0)
            return None, time.monotonic() - start
        return done.result().result, time.monotonic() - start


def _grasp_fields(result: Any) -> tuple[dict[str, float] | None, dict[str, list] | None]:
    if result is None or result.grasp_pose_used.header.frame_id == '':
        return None, None
    g = result.grasp_used
    grasp = {k: float(getattr(g, k)) for k in ('center_x', 'center_y', 'angle', 'opening_px',
                                               'jaw_px', 'quality', 'width_m', 'depth_m')}
    p = result.grasp_pose_used.pose
    pose = {'xyz': [p.position.x, p.position.y, p.position.z],
            'quaternion_xyzw': [p.orientation.x, p.orientation.y, p.orientation.z,
                                p.orientation.w]}
    return grasp, pose


def _nearest(objects: dict[int, np.ndarray], pose: dict[str, list] | None) -> int:
    """Catalogue id of the object (base-frame positions, m) nearest the grasp; -1 if none."""
    if len(objects) == 1:
        return next(iter(objects))
    if not objects or pose is None:
        return -1
    xy = np.asarray(pose['xyz'][:2])
    return min(objects, key=lambda oid: float(np.linalg.norm(objects[oid][:2] - xy)))


class DemoRun:
    """The nodes of one demo run and the attempt loop (see :func:`run_demo`)."""

    def __init__(self, options: DemoOptions, folder: Path, log: Callable[[str], None]) -> None:
        self.options = options
        self.folder = folder
        self.log = log
        self.records: list[AttemptRecord] = []
        self.tiles: list[np.ndarray] = []
        self.scene_index = -1
        self.scene_failures = 0
        self.rng = np.random.default_rng(options.seed)

    # ------------------------------------------------------------------ nodes
    def start(self, param_files: list[Path]) -> None:
        """Create the context, the three nodes and the demo client; spin them."""
        import rclpy
        from rclpy.executors import MultiThreadedExecutor

        args = ['kufenet_demo', '--ros-args', '--log-level', 'warn']
        for path in param_files:
            args += ['--params-file', str(path)]
        self.context = rclpy.Context()
        rclpy.init(args=args, context=self.context)
        ns = self.options.namespace
        self.sim = SimWorldNode(context=self.context, namespace=ns)
        self.detector = GraspDetectorNode(context=self.context, namespace=ns,
                                          backend_factory=self.options.backend_factory)
        self.executor_node = GraspExecutorNode(self.sim.world.backend, context=self.context,
                                               namespace=ns)
        self.client = _Client(self.context, ns)
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        for node in (self.sim, self.detector, self.executor_node, self.client.node):
            self.executor.add_node(node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        # a failed configure is final (the node stays unconfigured): stop waiting on it
        wait_until(lambda: self.detector.active or self.detector.configure_error is not None,
                   self.options.startup_timeout_s)
        if self.detector.configure_error is not None:
            raise DemoError(f'grasp_detector failed to configure: '
                            f'{self.detector.configure_error}')
        if not self.detector.active:
            raise DemoError(f'grasp_detector did not become active within '
                            f'{self.options.startup_timeout_s} s (still configuring)')

    def stop(self) -> None:
        """Stop spinning, destroy the nodes, shut the context down."""
        import rclpy

        executor = getattr(self, 'executor', None)
        if executor is not None:
            executor.shutdown(timeout_sec=5.0)
            self.thread.join(timeout=5.0)
        for name in ('client', 'executor_node', 'detector', 'sim'):
            node = getattr(self, name, None)
            if node is not None:
                (node.node if name == 'client' else node).destroy_node()
        if getattr(self, 'context', None) is not None:
            rclpy.try_shutdown(context=self.context)

    # -------------------------------------------------------------- attempts
    def _fresh_frames(self, count: int = 2) -> None:
        start = self.sim.frames_published
        rate = float(self.sim.get_parameter('publish_rate_hz').value)
        wait_until(lambda: self.sim.frames_published >= start + count, 5.0 + count / rate)

    def _new_scene(self) -> None:
        self.scene_index += 1
        self.scene_failures = 0
        self.sim.world.reset(seed=self.options.seed * 100003 + self.scene_index)

    def _needs_scene(self) -> bool:
        world = self.sim.world
        return (self.scene_index < 0 or not self.options.clutter or not world.workspace_objects()
                or self.scene_failures >= self.options.max_failures_per_scene)

    def attempt(self, index: int) -> AttemptRecord:
        """Run one pick (a new scene first when needed); record and return its outcome."""
        world = self.sim.world
        if self._needs_scene():
            self._new_scene()
        self._fresh_frames()
        rgb = self.client.latest_rgb()
        before = {world.object_catalogue_id(b): world.world_to_base(world.object_position(b))
                  for b in world.workspace_objects()}
        reference = None
        if self.options.grasp_source == 'labeller':
            reference = labelled_grasp(world, self.rng)
            if reference is None:
                return self._record(index, rgb, None, 0.0, before, 'the labeller found no grasp')
        result, seconds = self.client.pick(self.client.goal_for(reference),
                                           self.options.attempt_timeout_s)
        return self._record(index, rgb, result, seconds, before)

    def _record(self, index: int, rgb: np.ndarray | None, result: Any, seconds: float,
                before: dict[int, np.ndarray], reason: str = '') -> AttemptRecord:
        world = self.sim.world
        world.settle(120)
        placed = world.placed_objects()
        if result is None and reason:
            status, stage, message = 'NO_GRASP', 'checking', reason
        elif result is None:
            status, stage, message = 'TIMEOUT', '', 'no action result within the timeout'
        else:
            status = GraspStatus(result.status.code).name
            stage, message = result.failed_stage, result.status.message
        success = result is not None and result.success and bool(placed)
        if result is not None and result.success and not placed:
            stage, message = 'place_check', 'the action succeeded but no object is in the tray'
        grasp, pose = _grasp_fields(result)
        object_id = world.object_catalogue_id(placed[0]) if placed else _nearest(before, pose)
        world.remove_objects(placed + [b for b in world.object_bodies()
                                       if b not in world.workspace_objects()])
        self.scene_failures = 0 if success else self.scene_failures + 1
        record = AttemptRecord(index=index, scene=self.scene_index, success=success,
                               status=status, failed_stage=stage, message=message,
                               object_id=int(object_id), grasp=grasp, grasp_pose=pose,
                               duration_s=round(seconds, 3),
                               objects_left=len(world.workspace_objects()))
        self.records.append(record)
        if rgb is not None:
            self.tiles.append(attempt_tile(rgb, record))
        return record


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, unit='pick', dynamic_ncols=True)


def run_demo(options: DemoOptions, log: Callable[[str], None] = print
             ) -> tuple[Path, dict[str, Any]]:
    """Run the demo; returns (report folder, summary). Writes report.json + contact sheet."""
    stamp = datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')
    folder = Path(options.out_root) / f'demo-{stamp}'
    suffix = 1
    while folder.exists():
        folder = Path(options.out_root) / f'demo-{stamp}-{suffix}'
        suffix += 1
    folder.mkdir(parents=True)
    weights = resolve_weights(options.weights)
    overrides = folder / 'demo_overrides.yaml'
    overrides.write_text(yaml.safe_dump(_overrides(options, weights), sort_keys=False))
    param_files = [Path(options.config_dir) / n for n in PARAM_FILES] + [overrides]
    run = DemoRun(options, folder, log)
    started = time.monotonic()
    kind = f'clutter of {options.clutter}' if options.clutter else 'single-object'
    log(f'kufenet demo: {options.attempts} pick attempts, {kind} scenes of held-out '
        f"'{options.object_split}' objects, weights: {weights or 'detector default'}")
    try:
        run.start(param_files)
        bar = _progress(options.attempts, options.progress)
        try:
            for i in range(options.attempts):
                rec = run.attempt(i)
                rate = summarise(run.records)['success_rate']
                line = (f'attempt {i + 1}/{options.attempts}: '
                        f"{'SUCCESS' if rec.success else 'FAILED '} {rec.status:<16} "
                        f'object {rec.object_id:>4} {rec.duration_s:5.1f} s '
                        f"{rec.failed_stage and 'stage ' + rec.failed_stage} "
                        f'| success rate {rate:.0%}')
                bar.write(line) if options.progress else log(line)
                bar.set_postfix(success=f'{rate:.0%}')
                bar.update(1)
        finally:
            bar.close()
    finally:
        run.stop()
    summary = summarise(run.records)
    meta = {'created_utc': stamp,
            'options': {k: (v if isinstance(v, (int, float, str, bool, dict)) else str(v))
                        for k, v in asdict(options).items()},
            'weights': weights or 'detector default',
            'param_files': [str(p) for p in param_files],
            'wall_time_s': round(time.monotonic() - started, 1),
            'placed_means': 'an object lies in the tray after the action succeeded'}
    json_path, png_path = write_report(folder, run.records, run.tiles, meta)
    log(f"success rate {summary['success_rate']:.1%} ({summary['successes']}/"
        f"{summary['attempts']}); report: {json_path}"
        + (f', contact sheet: {png_path}' if png_path else ''))
    if not math.isfinite(summary['success_rate']):
        raise DemoError('demo: no attempt was recorded')
    return folder, summary
