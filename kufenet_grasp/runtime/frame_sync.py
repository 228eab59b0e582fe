# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Approximate-time synchronisation of colour, depth and camera-info messages (no rclpy).

A replacement for ``message_filters.ApproximateTimeSynchronizer`` (not on PyPI) tuned for a
grasp detector, which must always act on the NEWEST frame:

* each stream keeps only its newest message (no queue grows);
* when the newest colour, depth and info stamps agree within ``slop_s`` seconds they form a
  :class:`FrameTriple`, which goes into a single "latest-only" slot;
* a matched triple still in the slot when a newer one arrives is dropped and counted, so a
  slow consumer always gets the newest frame.

Messages are duck-typed: each needs ``header.stamp`` with ``sec`` and ``nanosec`` (or a float
``stamp`` in seconds). Thread-safe: every state change happens under one lock, and the callback
runs outside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import threading
from typing import Any

STREAMS = ('color', 'depth', 'info')


def stamp_seconds(msg: Any) -> float:
    """Return a message's ``header.stamp`` in seconds (float)."""
    try:
        stamp = msg.header.stamp
    except AttributeError as exc:
        raise ValueError(f'frame_sync: message {type(msg).__name__} has no header.stamp') from exc
    if isinstance(stamp, (int, float)):
        return float(stamp)
    try:
        return float(stamp.sec) + 1e-9 * float(stamp.nanosec)
    except AttributeError as exc:
        raise ValueError(f'frame_sync: header.stamp of {type(msg).__name__} needs sec and '
                         f'nanosec') from exc


@dataclass(frozen=True)
class FrameTriple:
    """A synchronised colour image, depth image and camera info; ``stamp`` = colour stamp (s)."""

    color: Any
    depth: Any
    info: Any
    stamp: float


@dataclass(frozen=True)
class SyncStats:
    """Counters of a synchroniser (numbers of messages / frames)."""

    received: int
    matched: int
    delivered: int
    dropped_frames: int
    dropped_messages: int


class ApproximateFrameSync:
    """Match the newest colour, depth and info messages within ``slop_s`` seconds.

    Args:
        slop_s: the largest spread of the three stamps (seconds) that still counts as one frame.
        callback: called with each delivered :class:`FrameTriple`. If it is still running
            when newer frames match, only the newest of them is delivered after it returns
            (the others are dropped). Without a callback, consumers poll :meth:`take_latest`.

    """

    def __init__(self, slop_s: float = 0.05,
                 callback: Callable[[FrameTriple], None] | None = None) -> None:
        if not slop_s >= 0:
            raise ValueError(f'ApproximateFrameSync: slop_s must be >= 0 seconds, got {slop_s}')
        self.slop_s = float(slop_s)
        self._callback = callback
        self._lock = threading.Lock()
        self._latest: dict[str, tuple[float, Any] | None] = dict.fromkeys(STREAMS)
        self._slot: FrameTriple | None = None
        self._busy = False
        self._last_matched_stamp = float('-inf')
        self._received = self._matched = self._delivered = 0
        self._dropped_frames = self._dropped_messages = 0

    def add_color(self, msg: Any) -> None:
        """Add a colour image message."""
        self.add('color', msg)

    def add_depth(self, msg: Any) -> None:
        """Add a depth image message."""
        self.add('depth', msg)

    def add_info(self, msg: Any) -> None:
        """Add a camera info message."""
        self.add('info', msg)

    def add(self, stream: str, msg: Any) -> None:
        """Add a message to ``stream`` ('color', 'depth' or 'info'); may deliver a frame."""
        if stream not in STREAMS:
            raise ValueError(f'ApproximateFrameSync.add: stream must be one of {STREAMS}, '
                             f'got {stream!r}')
        stamp = stamp_seconds(msg)
        with self._lock:
            self._received += 1
            current = self._latest[stream]
            if stamp <= self._last_matched_stamp - self.slop_s or (
                    current is not None and stamp < current[0]):
                self._dropped_messages += 1  # older than what we already have
                return
            if current is not None:
                self._dropped_messages += 1  # replaced before it was matched
            self._latest[stream] = (stamp, msg)
            self._try_match()
        self._deliver()

    def _try_match(self) -> None:
        """Form a triple from the newest messages if they agree (call with the lock held)."""
        entries = [e for e in (self._latest[s] for s in STREAMS) if e is not None]
        if len(entries) < len(STREAMS):
            return
        stamps = [e[0] for e in entries]
        if max(stamps) - min(stamps) > self.slop_s:
            return
        triple = FrameTriple(entries[0][1], entries[1][1], entries[2][1], stamps[0])
        self._latest = dict.fromkeys(STREAMS)
        self._last_matched_stamp = max(stamps)
        self._matched += 1
        if self._slot is not None:
            self._dropped_frames += 1
        self._slot = triple

    def _deliver(self) -> None:
        """Run the callback on the newest matched frame until the slot is empty."""
        if self._callback is None:
            return
        with self._lock:
            if self._busy:
                return  # the thread already in the callback will pick the newest frame up
            self._busy = True
        while True:
            with self._lock:
                triple, self._slot = self._slot, None
                if triple is None:
                    self._busy = False  # same lock as the check above: no frame is stranded
                    return
                self._delivered += 1
            try:
                self._callback(triple)
            except BaseException:
                with self._lock:
                    self._busy = False
                raise

    def take_latest(self) -> FrameTriple | None:
        """Return the newest matched frame not yet delivered (then the slot is empty), or None."""
        with self._lock:
            triple, self._slot = self._slot, None
            if triple is not None:
                self._delivered += 1
            return triple

    @property
    def stats(self) -> SyncStats:
        """A snapshot of the counters."""
        with self._lock:
            return SyncStats(self._received, self._matched, self._delivered,
                             self._dropped_frames, self._dropped_messages)

    def reset(self) -> None:
        """Forget buffered messages and the pending frame (e.g. after a time jump)."""
        with self._lock:
            self._latest = dict.fromkeys(STREAMS)
            self._slot = None
            self._last_matched_stamp = float('-inf')
