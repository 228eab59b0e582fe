# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The detector's camera subscriptions and their approximate-time synchronisation.

Subscribes to the RELATIVE topics ``color/image_raw``, ``depth/image_raw`` (aligned to colour)
and ``color/camera_info``. Colour and depth are matched by stamp (``slop_s`` seconds) with
``message_filters.ApproximateTimeSynchronizer`` where it is installed, else with the
pure-Python :class:`~kufenet_grasp.runtime.frame_sync.ApproximateFrameSync`. CameraInfo is
constant for a camera: the newest one travels with each colour image (None until one arrives).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kufenet_grasp.nodes.ros_conversions import stamp_to_seconds
from kufenet_grasp.runtime.frame_sync import ApproximateFrameSync
from sensor_msgs.msg import CameraInfo, Image

COLOR_TOPIC, DEPTH_TOPIC, INFO_TOPIC = 'color/image_raw', 'depth/image_raw', 'color/camera_info'
#: a colour stamp this much older than the previous one (s) resets the synchroniser
TIME_JUMP_S = 1.0
#: called with each synchronised (colour, depth, newest camera info or None)
FrameCallback = Callable[[Image, Image, 'CameraInfo | None'], None]


@dataclass(frozen=True)
class _StampedInfo:
    """The newest CameraInfo (or None) stamped like the colour image it accompanies."""

    header: Any
    info: CameraInfo | None


class CameraInputs:
    """Synchronised colour + depth (+ newest info) from three subscriptions on ``node``."""

    def __init__(self, node: Any, qos: Any, slop_s: float, on_frame: FrameCallback) -> None:
        self._node = node
        self._on_frame = on_frame
        self._info: CameraInfo | None = None
        self._last_color_stamp = float('-inf')
        info_sub = node.create_subscription(CameraInfo, INFO_TOPIC, self._on_info, qos)
        try:
            import message_filters
        except ImportError:  # no wheel on PyPI: the pure-Python equivalent
            self._sync: Any = ApproximateFrameSync(slop_s, callback=self._on_triple)
            self._subs = [node.create_subscription(Image, COLOR_TOPIC, self._on_color, qos),
                          node.create_subscription(Image, DEPTH_TOPIC, self._sync.add_depth,
                                                   qos),
                          info_sub]
            return
        color = message_filters.Subscriber(node, Image, COLOR_TOPIC, qos_profile=qos)
        depth = message_filters.Subscriber(node, Image, DEPTH_TOPIC, qos_profile=qos)
        self._sync = message_filters.ApproximateTimeSynchronizer([color, depth], 2, slop_s)
        self._sync.registerCallback(lambda c, d: self._on_frame(c, d, self._info))
        self._subs = [color.sub, depth.sub, info_sub]

    def _on_info(self, msg: CameraInfo) -> None:
        self._info = msg

    def _on_color(self, msg: Image) -> None:
        stamp = stamp_to_seconds(msg.header.stamp)
        if stamp < self._last_color_stamp - TIME_JUMP_S:
            jump = self._last_color_stamp - stamp
            self._node.get_logger().info(f'colour stamps jumped back {jump:.1f} s (bag loop or '
                                         f'simulation reset): resetting the sync')
            self._sync.reset()
        self._last_color_stamp = stamp
        self._sync.add_info(_StampedInfo(msg.header, self._info))
        self._sync.add_color(msg)

    def _on_triple(self, triple: Any) -> None:
        self._on_frame(triple.color, triple.depth, triple.info.info)

    def close(self) -> None:
        """Destroy the subscriptions; no callback runs afterwards."""
        for sub in self._subs:
            self._node.destroy_subscription(sub)
        self._subs = []
