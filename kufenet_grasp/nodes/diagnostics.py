# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Runtime statistics of the detector and their diagnostic_msgs/DiagnosticArray form.

``DetectorStats`` is ROS-free (monotonic seconds in, rates in Hz, latencies in milliseconds);
``diagnostic_array`` converts a snapshot to the message published on ``/diagnostics``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import threading

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue


@dataclass(frozen=True)
class StatsSnapshot:
    """Counters at one instant: rates in Hz, latency in ms, counts since activation."""

    input_rate_hz: float
    detection_rate_hz: float
    latency_ms: float
    frames_received: int
    frames_processed: int
    frames_dropped: int
    frames_rejected: int
    model_loaded: bool
    last_status: str
    #: support plane of the last frame: 'plane', 'none' (fallback), 'off', '' (no frame)
    last_support: str = ''
    #: mean ms from a frame's processing start to its best grasp going out (frames with one)
    first_grasp_ms: float = 0.0
    #: mean age (ms) of a frame when its processing starts: node clock minus header stamp,
    #: i.e. transport, synchronisation and queueing (negative if the camera clock is ahead)
    frame_age_ms: float = 0.0


class DetectorStats:
    """Thread-safe counters: frames received/processed/dropped and a sliding-window rate."""

    def __init__(self, window: int = 30) -> None:
        self._lock = threading.Lock()
        self._inputs: deque[float] = deque(maxlen=window)
        self._outputs: deque[float] = deque(maxlen=window)
        self._latencies: deque[float] = deque(maxlen=window)
        self._first_grasp: deque[float] = deque(maxlen=window)
        self._ages: deque[float] = deque(maxlen=window)
        self.received = self.processed = self.dropped = self.rejected = 0
        self.model_loaded = False
        self.last_status = 'no frame yet'
        self.last_support = ''

    def frame_in(self, now_s: float) -> None:
        """Count a synchronised frame arrived at monotonic time ``now_s`` (seconds)."""
        with self._lock:
            self.received += 1
            self._inputs.append(now_s)

    def frame_refused(self, status: str) -> None:
        """Count an input image refused before it formed a frame (e.g. too many pixels)."""
        with self._lock:
            self.rejected += 1
            self.last_status = status

    def frame_done(self, now_s: float, latency_ms: float, status: str, ok: bool,
                   support: str = '', first_grasp_ms: float | None = None,
                   frame_age_ms: float | None = None) -> None:
        """Count one finished frame (``ok`` False when it was rejected).

        ``first_grasp_ms``: ms from the frame's start to its best grasp going out (None
        without a grasp); ``frame_age_ms``: the frame's age when its processing started.
        """
        with self._lock:
            self.last_support = support
            self.processed += 1
            self.rejected += 0 if ok else 1
            self._outputs.append(now_s)
            self._latencies.append(latency_ms)
            if first_grasp_ms is not None:
                self._first_grasp.append(first_grasp_ms)
            if frame_age_ms is not None:
                self._ages.append(frame_age_ms)
            self.last_status = status

    @staticmethod
    def _mean(values: deque[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    @staticmethod
    def _rate(times: deque[float]) -> float:
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def snapshot(self) -> StatsSnapshot:
        """Return the current counters and rates."""
        with self._lock:
            return StatsSnapshot(self._rate(self._inputs), self._rate(self._outputs),
                                 self._mean(self._latencies), self.received, self.processed,
                                 self.dropped, self.rejected, self.model_loaded,
                                 self.last_status, self.last_support,
                                 self._mean(self._first_grasp), self._mean(self._ages))


def diagnostic_array(snap: StatsSnapshot, node_name: str, stamp: Time,
                     warn_below_hz: float = 0.0) -> DiagnosticArray:
    """Build the DiagnosticArray with one status named ``<node_name>: grasp detection``.

    Level ERROR when the model is not loaded, WARN when no frame was processed or the
    detection rate is below ``warn_below_hz``, else OK.
    """
    status = DiagnosticStatus()
    status.name = f'{node_name}: grasp detection'
    status.hardware_id = 'kufenet_grasp'
    if not snap.model_loaded:
        status.level, status.message = DiagnosticStatus.ERROR, 'model not loaded'
    elif snap.frames_processed == 0:
        status.level, status.message = DiagnosticStatus.WARN, 'no synchronised frame processed'
    elif warn_below_hz > 0 and snap.detection_rate_hz < warn_below_hz:
        status.level = DiagnosticStatus.WARN
        status.message = f'detection rate {snap.detection_rate_hz:.1f} Hz is low'
    else:
        status.level, status.message = DiagnosticStatus.OK, snap.last_status
    values = {
        'input rate (Hz)': f'{snap.input_rate_hz:.2f}',
        'detection rate (Hz)': f'{snap.detection_rate_hz:.2f}',
        'latency (ms)': f'{snap.latency_ms:.1f}',
        'time to first grasp (ms)': f'{snap.first_grasp_ms:.1f}',
        'frame age at start (ms)': f'{snap.frame_age_ms:.1f}',
        'frames received': str(snap.frames_received),
        'frames processed': str(snap.frames_processed),
        'frames dropped': str(snap.frames_dropped),
        'frames rejected': str(snap.frames_rejected),
        'model loaded': str(snap.model_loaded).lower(),
        'last status': snap.last_status,
        'support plane': {'plane': 'found', 'none': 'not found: depth used as seen',
                          'off': 'not used by this model'}.get(snap.last_support, 'no frame yet'),
    }
    status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
    out = DiagnosticArray()
    out.header.stamp = stamp
    out.status = [status]
    return out
