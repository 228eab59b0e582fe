# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""sim_world: the PyBullet world (Panda, table, objects, tray) as a RealSense-like ROS camera.

Publishes, like ``realsense2_camera`` with ``align_depth.enable``, one stamp and one frame id
(``camera_frame``, default ``camera_color_optical_frame``) on all three topics:
``color/image_raw`` (rgb8), ``depth/image_raw`` (16UC1 millimetres aligned to colour, 0 =
hole, sensor noise) and ``color/camera_info`` (plumb_bob, zero distortion, K/P/R, size) at
``publish_rate_hz``. The camera-to-base transform (the numbers of
``config/calibration/sim_camera.yaml``) goes to ``/tf_static`` when tf2_ros is importable.
``publish_clock``: publish ``/clock`` with the simulation time and let the physics run in real
time while the arm is idle (for ``use_sim_time`` in the other nodes).

Services: ``sim_world/reset`` (std_srvs/Trigger: a new scene with new objects) and
``sim_world/check`` (std_srvs/Trigger: ``success`` when an object lies in the place tray, the
message lists held / lifted / placed / remaining objects as JSON). The node hosts the
simulated arm's MotionBackend (``node.world.backend``); :func:`main` runs an in-process
``grasp_executor`` on it unless ``host_executor`` is false.
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any

from kufenet_grasp.nodes.grasp_executor import GraspExecutorNode
from kufenet_grasp.runtime.image_encoding import numpy_to_image_fields
from kufenet_grasp.sim.world import CameraFrame, SimWorld, WorldConfig
import numpy as np
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import CameraInfo, Image
from std_srvs.srv import Trigger

#: world settings exposed as parameters (name -> WorldConfig field), defaults from WorldConfig
WORLD_PARAMETERS = ('scene_type', 'clutter_count', 'object_split', 'seed', 'spread_m',
                    'base_xyz', 'base_yaw', 'tray_xyz', 'camera_xyz', 'camera_rpy', 'width',
                    'height', 'fx', 'fy', 'cx', 'cy', 'depth_noise', 'rgb_noise', 'base_frame',
                    'camera_frame')
NODE_PARAMETERS: dict[str, Any] = {
    'publish_rate_hz': 5.0,  # camera frames per second (wall clock)
    'publish_clock': False,  # publish /clock and run the physics in real time when idle
    'host_executor': True,  # main(): also run grasp_executor in this process on the sim arm
}
CLOCK_PERIOD_S = 0.01


def camera_info_msg(config: WorldConfig, header: Any) -> CameraInfo:
    """Build the simulated camera's CameraInfo (pixels; no distortion, plumb_bob)."""
    fx, fy, cx, cy = config.fx, config.fy, config.cx, config.cy
    return CameraInfo(header=header, width=config.width, height=config.height,
                      distortion_model='plumb_bob', d=[0.0] * 5,
                      k=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0],
                      r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                      p=[fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0])


def frame_messages(frame: CameraFrame, config: WorldConfig, header: Any
                   ) -> tuple[Image, Image, CameraInfo]:
    """(colour rgb8, depth 16UC1 mm, camera_info) messages of ``frame``, sharing ``header``."""
    color = Image(header=header, **numpy_to_image_fields(frame.rgb, 'rgb8'))
    depth = Image(header=header, **numpy_to_image_fields(frame.depth_m, '16UC1'))
    return color, depth, camera_info_msg(config, header)


class SimWorldNode(Node):
    """Publishes the simulated camera; owns the :class:`SimWorld` (``self.world``)."""

    def __init__(self, world: SimWorld | None = None, *,
                 parameter_defaults: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__('sim_world', **kwargs)
        defaults_given = parameter_defaults or {}
        defaults = WorldConfig()
        for name in WORLD_PARAMETERS:
            value = getattr(defaults, name)
            value = [float(v) for v in value] if isinstance(value, tuple) else value
            self.declare_parameter(name, defaults_given.get(name, value))
        for name, value in NODE_PARAMETERS.items():
            self.declare_parameter(name, defaults_given.get(name, value))
        rate = float(self._param('publish_rate_hz'))
        if not 0.0 < rate <= 100.0:
            raise ValueError(f'sim_world: publish_rate_hz must be in (0, 100] Hz, got {rate}')
        config = WorldConfig.from_dict({n: self._param(n) for n in WORLD_PARAMETERS})
        self.world = world if world is not None else SimWorld(config)
        self.frames_published = 0
        # held while a frame renders and publishes, so destroy_node never pulls the
        # publishers or the simulation from under a frame that another thread is sending
        self._frame_lock = threading.Lock()
        self._closing = False
        self._rng = np.random.default_rng(int(config.seed) + 1)
        reliable = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
        self._color = self.create_publisher(Image, 'color/image_raw', reliable)
        self._depth = self.create_publisher(Image, 'depth/image_raw', reliable)
        self._info = self.create_publisher(CameraInfo, 'color/camera_info', reliable)
        wall = Clock(clock_type=ClockType.STEADY_TIME)
        self._camera_timer = self.create_timer(1.0 / rate, self.publish_frame,
                                               callback_group=MutuallyExclusiveCallbackGroup(),
                                               clock=wall)
        self._clock_pub = None
        self._last_wall = time.monotonic()
        if self._param('publish_clock'):
            self._clock_pub = self.create_publisher(ClockMsg, '/clock', 10)
            self.create_timer(CLOCK_PERIOD_S, self._tick_clock,
                              callback_group=MutuallyExclusiveCallbackGroup(), clock=wall)
        group = MutuallyExclusiveCallbackGroup()
        self.create_service(Trigger, 'sim_world/reset', self._on_reset, callback_group=group)
        self.create_service(Trigger, 'sim_world/check', self._on_check, callback_group=group)
        self._tf_broadcaster = self._broadcast_static_tf()
        t = self.world.camera_in_base()
        self.get_logger().info(
            f'sim_world ready: {config.scene_type} scene, {config.width}x{config.height} camera '
            f"'{config.camera_frame}' at {np.round(t.translation, 4).tolist()} m in "
            f"'{config.base_frame}' (quaternion {np.round(t.quaternion_xyzw, 6).tolist()}), "
            f'{rate:g} Hz, tf2 static transform '
            f"{'broadcast' if self._tf_broadcaster else 'unavailable (tf2_ros missing)'}")

    def _param(self, name: str) -> Any:
        return self.get_parameter(name).value

    # ----------------------------------------------------------------- camera
    def publish_frame(self) -> None:
        """Render one frame and publish colour, depth and camera_info with one stamp."""
        from std_msgs.msg import Header

        with self._frame_lock:
            if self._closing:
                return
            frame = self.world.capture(self._rng)
            header = Header(stamp=self.get_clock().now().to_msg(),
                            frame_id=self.world.config.camera_frame)
            color, depth, info = frame_messages(frame, self.world.config, header)
            self._info.publish(info)
            self._depth.publish(depth)
            self._color.publish(color)
            self.frames_published += 1

    def _broadcast_static_tf(self) -> Any:
        try:
            from geometry_msgs.msg import TransformStamped
            from tf2_ros import StaticTransformBroadcaster
        except ImportError:
            return None
        t = self.world.camera_in_base()
        msg = TransformStamped()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.world.config.base_frame
        msg.child_frame_id = self.world.config.camera_frame
        x, y, z = (float(v) for v in t.translation)
        msg.transform.translation.x, msg.transform.translation.y = x, y
        msg.transform.translation.z = z
        qx, qy, qz, qw = (float(v) for v in t.quaternion_xyzw)
        rot = msg.transform.rotation
        rot.x, rot.y, rot.z, rot.w = qx, qy, qz, qw
        broadcaster = StaticTransformBroadcaster(self)
        broadcaster.sendTransform(msg)
        return broadcaster

    # ------------------------------------------------------------------ clock
    def _tick_clock(self) -> None:
        if self._clock_pub is None:  # the timer exists only with publish_clock
            return
        now = time.monotonic()
        elapsed, self._last_wall = now - self._last_wall, now
        steps = min(round(elapsed * 240.0), 24)
        backend = self.world.backend
        if steps > 0 and backend is not None and not backend.busy.is_set():
            self.world.settle(steps)
        sim = self.world.sim_time_s
        msg = ClockMsg()
        msg.clock.sec = math.floor(sim)
        msg.clock.nanosec = int((sim - math.floor(sim)) * 1e9)
        self._clock_pub.publish(msg)

    # --------------------------------------------------------------- services
    def _on_reset(self, request: Any, response: Any) -> Any:
        ids = self.world.reset()
        response.success = True
        response.message = json.dumps({'objects': ids})
        return response

    def check(self) -> dict[str, list[int]]:
        """Catalogue ids of held / lifted / placed / workspace objects (-1 for added boxes)."""
        w = self.world
        return {name: [w.object_catalogue_id(b) for b in bodies] for name, bodies in (
            ('held', w.held_objects()), ('lifted', w.lifted_objects()),
            ('placed', w.placed_objects()), ('workspace', w.workspace_objects()))}

    def _on_check(self, request: Any, response: Any) -> Any:
        state = self.check()
        response.success = bool(state['placed'])
        response.message = json.dumps(state)
        return response

    def destroy_node(self) -> None:
        """Stop publishing (after the frame in flight, if any) and close the simulation."""
        with self._frame_lock:
            self._closing = True
        self.destroy_timer(self._camera_timer)
        super().destroy_node()
        self.world.close()


def main(args: list[str] | None = None) -> None:
    """Run sim_world (and, with ``host_executor``, grasp_executor on the sim arm) until Ctrl-C."""
    rclpy.init(args=args)
    nodes: list[Node] = []
    try:
        sim = SimWorldNode()
        nodes.append(sim)
        if sim.get_parameter('host_executor').value:
            nodes.append(GraspExecutorNode(sim.world.backend))
        executor = MultiThreadedExecutor()
        for node in nodes:
            executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for node in reversed(nodes):
            node.destroy_node()
        rclpy.try_shutdown()
