# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The detector's camera subscriptions, their synchronisation and what each stream delivers.

Subscribes to the RELATIVE topics ``color/image_raw``, ``depth/image_raw`` (aligned to colour)
and ``color/camera_info``. Colour and depth are matched by stamp (``slop_s`` seconds) with
``message_filters.ApproximateTimeSynchronizer`` where it is installed, else with the
pure-Python :class:`~kufenet_grasp.runtime.frame_sync.ApproximateFrameSync`. CameraInfo is
constant for a camera: the newest one travels with each colour image (None until one arrives).

Each stream is accounted for (:class:`StreamCounts`): messages received, messages DDS announced
but never delivered whole (the subscription's message-lost event: e.g. images larger than the
shared-memory segment), images refused unread for having more than ``max_pixels`` pixels, and
the newest stamp, so the node can say why no frame forms.

An oversize image (refused, or lost in transport) leaves its size behind in the DDS reader's
buffers (Fast DDS keeps the largest sample's payload for reuse):
:meth:`CameraInputs.renew_after_oversize` re-creates the subscription it came through once
such images stop, which returns that memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
import math
import statistics
import threading
import time
from typing import Any

from kufenet_grasp.detection import validation
from kufenet_grasp.nodes.ros_conversions import stamp_to_seconds
from kufenet_grasp.runtime.frame_sync import ApproximateFrameSync
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.exceptions import InvalidHandle
from sensor_msgs.msg import CameraInfo, Image

COLOR_TOPIC, DEPTH_TOPIC, INFO_TOPIC = 'color/image_raw', 'depth/image_raw', 'color/camera_info'
STREAM_TOPICS = {'colour': COLOR_TOPIC, 'depth': DEPTH_TOPIC, 'camera_info': INFO_TOPIC}
#: a colour stamp this much older than the previous one (s) resets the synchroniser
TIME_JUMP_S = 1.0
#: called with each synchronised (colour, depth, newest camera info or None)
FrameCallback = Callable[[Image, Image, 'CameraInfo | None'], None]
#: called with (stream name, why the message was refused)
RefusedCallback = Callable[[str, str], None]
#: called with (stream name, messages lost now, lost so far on that stream)
LostCallback = Callable[[str, int, int], None]
#: a subscription that carried oversize images is re-created after this long without one (s)
OVERSIZE_QUIET_S = 1.0
#: messages per stream whose stamp-to-arrival offset the stamp-gap warning takes the median of
RECENT_OFFSETS = 5


@dataclass
class StreamCounts:
    """What one input stream delivered since activation (guarded by CameraInputs' lock)."""

    received: int = 0
    lost: int = 0  #: announced by DDS but never complete (message-lost events)
    refused: int = 0  #: more than max_pixels pixels: dropped unread
    last_stamp_s: float = math.nan  #: newest header stamp (s)
    last_arrival: float = -math.inf  #: monotonic time (s) of the newest message
    #: stamp minus middleware arrival (s) of the newest messages: clock offset, transport delay
    recent_offsets_s: deque[float] = field(
        default_factory=lambda: deque(maxlen=RECENT_OFFSETS))

    def describe(self, name: str, now: float) -> str:
        """One clause: '<name> <n> received (last x s ago), <n> lost in transport, ...'."""
        text = f'{name} {self.received} received'
        if self.received:
            text += f' (last {now - self.last_arrival:.1f} s ago)'
        if self.lost:
            text += f', {self.lost} announced but never complete (lost in transport)'
        if self.refused:
            text += f', {self.refused} refused as larger than max_image_pixels'
        return text


@dataclass(frozen=True)
class _StampedInfo:
    """The newest CameraInfo (or None) stamped like the colour image it accompanies."""

    header: Any
    info: CameraInfo | None


class CameraInputs:
    """Synchronised colour + depth (+ newest info) from three subscriptions on ``node``.

    Args:
        node: the rclpy node that owns the subscriptions.
        qos: QoS of the three subscriptions.
        slop_s: largest stamp difference (s) of colour and depth in one frame.
        on_frame: receives each synchronised frame.
        max_pixels: colour or depth images with more pixels are refused before they reach
            the synchroniser (0 = no limit); may be changed while running.
        on_refused: told about each refused image (stream, reason).
        on_lost: told about messages DDS lost (stream, lost now, lost so far).

    """

    def __init__(self, node: Any, qos: Any, slop_s: float, on_frame: FrameCallback,
                 max_pixels: int = 0, on_refused: RefusedCallback | None = None,
                 on_lost: LostCallback | None = None) -> None:
        self._node = node
        self._on_frame = on_frame
        self._on_refused = on_refused
        self._on_lost = on_lost
        self.max_pixels = int(max_pixels)
        self.slop_s = float(slop_s)
        self._info: CameraInfo | None = None
        self._last_color_stamp = float('-inf')
        self._lock = threading.Lock()
        self._counts = {name: StreamCounts() for name in STREAM_TOPICS}
        #: oversize images per stream since its subscription was (re-)created
        self._oversize: dict[str, int] = {}
        self._last_oversize = -math.inf  # monotonic time (s) of the newest one
        #: destroyed subscriptions, by stream, to re-create once their readers are gone
        self._retired: dict[str, Any] = {}
        try:
            import message_filters
        except ImportError:  # no wheel on PyPI: the pure-Python equivalent
            self._sync: Any = ApproximateFrameSync(slop_s, callback=self._on_triple)
            self._add_color, self._add_depth = self._sync.add_color, self._sync.add_depth
            self.synchroniser = 'ApproximateFrameSync'
        else:
            # our own subscriptions feed the synchroniser, so each message is counted and
            # size-checked first, and the message-lost events are ours
            color, depth = message_filters.SimpleFilter(), message_filters.SimpleFilter()
            self._sync = message_filters.ApproximateTimeSynchronizer([color, depth], 2, slop_s)
            self._sync.registerCallback(lambda c, d: self._on_frame(c, d, self._info))
            self._add_color, self._add_depth = color.signalMessage, depth.signalMessage
            self.synchroniser = 'message_filters.ApproximateTimeSynchronizer'
        # camera_info first: the executor serves ready subscriptions in creation order, so
        # the info published with a frame is taken before that frame's colour image
        self._qos = qos
        self._subs = {stream: self._subscribe(stream)
                      for stream in ('camera_info', 'colour', 'depth')}

    def _subscribe(self, stream: str) -> Any:
        # each callback takes (msg, info): rclpy then passes the middleware's MessageInfo too
        msg_type, callback = {'camera_info': (CameraInfo, self._on_info),
                              'colour': (Image, self._on_color),
                              'depth': (Image, self._on_depth)}[stream]
        events = SubscriptionEventCallbacks(
            message_lost=lambda status: self._lost(stream, status))
        return self._node.create_subscription(msg_type, STREAM_TOPICS[stream], callback,
                                              self._qos, event_callbacks=events)

    @property
    def camera_info(self) -> CameraInfo | None:
        """The newest CameraInfo received (None before the first)."""
        return self._info

    def topic_names(self) -> list[str]:
        """Return three input topics as resolved by the node (namespace and remapping applied)."""
        return [self._node.resolve_topic_name(t) for t in (COLOR_TOPIC, DEPTH_TOPIC, INFO_TOPIC)]

    # ------------------------------------------------------------ accounting
    def _arrived(self, stream: str, msg: Any, info: dict[str, int] | None) -> str | None:
        """Count ``msg``; the reason it is refused (too many pixels), or None.

        ``info`` is rclpy's MessageInfo: its ``received_timestamp`` (ns) is when the middleware
        took the message in, so a callback that the executor serves late does not shift the
        stamp-to-arrival offset. Without one (a middleware that does not fill it: then no
        stream has it, so the offsets compared never mix clocks) the callback's monotonic
        time stands in.
        """
        reason = None
        if self.max_pixels > 0 and stream != 'camera_info':
            issue = validation.first_issue(validation.check_image_size(
                int(msg.width), int(msg.height), stream, 1, self.max_pixels))
            reason = issue.message if issue else None
        with self._lock:
            counts = self._counts[stream]
            counts.received += 1
            counts.refused += reason is not None
            counts.last_stamp_s = stamp_to_seconds(msg.header.stamp)
            counts.last_arrival = time.monotonic()
            received_ns = (info or {}).get('received_timestamp', 0)
            received_s = received_ns * 1e-9 if received_ns > 0 else counts.last_arrival
            counts.recent_offsets_s.append(counts.last_stamp_s - received_s)
            if reason is not None:
                self._oversize_seen(stream, 1)
        if reason is not None and self._on_refused is not None:
            self._on_refused(stream, reason)
        return reason

    def _lost(self, stream: str, status: Any) -> None:
        lost_now = int(status.total_count_change)
        with self._lock:
            counts = self._counts[stream]
            counts.lost += lost_now  # summed: a re-created subscription counts from 0
            lost_total = counts.lost
            if stream != 'camera_info':  # images are lost for their size, mostly
                self._oversize_seen(stream, lost_now)
        if self._on_lost is not None:
            self._on_lost(stream, lost_now, lost_total)

    def _oversize_seen(self, stream: str, count: int) -> None:
        """Note ``count`` oversize images on ``stream`` (call with the lock held)."""
        self._oversize[stream] = self._oversize.get(stream, 0) + count
        self._last_oversize = time.monotonic()

    def renew_after_oversize(self, quiet_s: float = OVERSIZE_QUIET_S) -> dict[str, int]:
        """Renew the subscriptions oversize images came through, once ``quiet_s`` passed.

        Destroying a subscription's DDS reader frees the buffers it kept at the largest
        sample's size, but only once no reader of the topic is left in the process (they
        share one payload pool): so this call destroys, and a later one re-creates when the
        old reader is gone (an executor waiting on it defers its destruction). Call it
        periodically from the node's executor. Returns the number of oversize images per
        stream whose subscription was destroyed now ({} when none).
        """
        for stream, sub in list(self._retired.items()):
            if _destroyed(sub):
                del self._retired[stream]
                self._subs[stream] = self._subscribe(stream)
        with self._lock:
            if not self._oversize or time.monotonic() - self._last_oversize < quiet_s:
                return {}
            renewed, self._oversize = self._oversize, {}
        for stream in renewed:
            if stream in self._subs:
                self._retired[stream] = self._subs.pop(stream)
                self._node.destroy_subscription(self._retired[stream])
        return renewed

    def counts(self) -> dict[str, StreamCounts]:
        """Return copies of the per-stream counts, by stream name (colour, depth, camera_info)."""
        with self._lock:
            return {name: replace(c, recent_offsets_s=deque(c.recent_offsets_s,
                                                            maxlen=RECENT_OFFSETS))
                    for name, c in self._counts.items()}

    def describe(self) -> str:
        """Say what each stream delivered, e.g. 'colour 0 received, 7 announced but never ...'."""
        now = time.monotonic()
        return '; '.join(c.describe(name, now) for name, c in self.counts().items())

    def stamp_gap_s(self, within_s: float) -> float | None:
        """Return colour minus depth stamp (s) of messages that arrive together, or None.

        Each stream's median of (stamp - arrival) over its newest messages, so the figure does
        not depend on which stream's newest message came last, nor on one delayed callback.
        None when either stream has been silent for ``within_s``: then the stamps are not what
        keeps frames apart.
        """
        counts, now = self.counts(), time.monotonic()
        color, depth = counts['colour'], counts['depth']
        if now - color.last_arrival > within_s or now - depth.last_arrival > within_s:
            return None
        return (statistics.median(color.recent_offsets_s)
                - statistics.median(depth.recent_offsets_s))

    # ------------------------------------------------------------- callbacks
    def _on_info(self, msg: CameraInfo, info: dict[str, int] | None) -> None:
        self._arrived('camera_info', msg, info)
        self._info = msg

    def _on_depth(self, msg: Image, info: dict[str, int] | None) -> None:
        if self._arrived('depth', msg, info) is None:
            self._add_depth(msg)

    def _on_color(self, msg: Image, info: dict[str, int] | None) -> None:
        if self._arrived('colour', msg, info) is not None:
            return
        if self.synchroniser != 'ApproximateFrameSync':
            self._add_color(msg)
            return
        stamp = stamp_to_seconds(msg.header.stamp)
        if stamp < self._last_color_stamp - TIME_JUMP_S:
            jump = self._last_color_stamp - stamp
            self._node.get_logger().info(f'colour stamps jumped back {jump:.1f} s (bag loop or '
                                         f'simulation reset): resetting the sync')
            self._sync.reset()
        self._last_color_stamp = stamp
        self._sync.add_info(_StampedInfo(msg.header, self._info))
        self._add_color(msg)

    def _on_triple(self, triple: Any) -> None:
        self._on_frame(triple.color, triple.depth, triple.info.info)

    def close(self) -> None:
        """Destroy the subscriptions; no callback runs afterwards."""
        for sub in self._subs.values():
            self._node.destroy_subscription(sub)
        self._subs, self._retired = {}, {}


def _destroyed(sub: Any) -> bool:
    """Tell whether the rclpy subscription ``sub``'s handle (and DDS reader) is destroyed."""
    try:
        with sub.handle:
            return False
    except InvalidHandle:
        return True
