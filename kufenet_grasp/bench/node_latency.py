# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""End-to-end latency book-keeping of the detector node benchmark (no ROS imports).

A replay camera stamps every frame with the wall clock when it publishes it; the detector
copies that stamp into the ``GraspRectangle`` it publishes. :class:`LatencyLedger` pairs the
two by stamp: latency = time the grasp was received - frame stamp (ms, same clock), frames
with no answer are dropped (skipped by the detector's rate limit or latest-only queue, or
without a grasp). The detector's own figure for its per-frame work (decoding to pose, the
``latency (ms)`` of its ``/diagnostics``) is recorded alongside, with the frames' age when the
detector started on them (transport, synchronisation and queueing before the node's work) and
the node's time from that start to the best grasp going out, so the end-to-end time splits
into frame age + node work to the first grasp + the grasp message's way back.
:class:`ProcessCpu` reads a process's CPU time from ``/proc`` (Linux).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import math
import os
from pathlib import Path
import threading

import numpy as np


@dataclass(frozen=True)
class NodeBenchResult:
    """One benchmark window: counts, rates (Hz), latency stamp to grasp (ms), CPU (%)."""

    max_rate_hz: float
    duration_s: float
    frames_sent: int
    frames_answered: int
    frames_dropped: int
    sent_hz: float
    answered_hz: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    mean_ms: float
    detector_cpu_percent: float | None  #: CPU time of the detector process / wall, % of 1 core
    publisher_cpu_percent: float | None  #: the bench's own process (camera replay, listener)
    #: median of the detector's reported per-frame work (ms, its /diagnostics) in the window
    in_node_ms: float | None = None
    #: seconds from starting the detector process to the first grasp received
    startup_s: float | None = None
    #: the detector process's resident memory at the end of the window and its peak, MiB
    rss_mib: float | None = None
    peak_rss_mib: float | None = None
    #: medians of the detector's reports: frame age when its work started (ms, stamp to
    #: start) and its work from that start to the best grasp published (ms)
    frame_age_ms: float | None = None
    first_grasp_ms: float | None = None

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        return asdict(self)


@dataclass(frozen=True)
class DetectorReport:
    """One /diagnostics report of the detector (ms): per-frame work, frame age, first grasp."""

    work_ms: float
    frame_age_ms: float | None = None
    first_grasp_ms: float | None = None


class LatencyLedger:
    """Frames sent and grasps received, keyed by stamp (integer nanoseconds), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: list[int] = []
        self._received: dict[int, int] = {}
        self._in_node: list[tuple[int, DetectorReport]] = []

    def sent(self, stamp_ns: int) -> None:
        """Record a frame published with header stamp ``stamp_ns``."""
        with self._lock:
            self._sent.append(int(stamp_ns))

    def received(self, stamp_ns: int, now_ns: int) -> None:
        """Record a grasp for the frame ``stamp_ns`` received at ``now_ns`` (first one counts)."""
        with self._lock:
            self._received.setdefault(int(stamp_ns), int(now_ns))

    def in_node(self, now_ns: int, report: DetectorReport) -> None:
        """Record the detector's timing report received at ``now_ns``."""
        with self._lock:
            self._in_node.append((int(now_ns), report))

    def clear(self) -> None:
        """Forget everything (e.g. after warm-up)."""
        with self._lock:
            self._sent.clear()
            self._received.clear()
            self._in_node.clear()

    @property
    def answered(self) -> int:
        """Grasps received so far."""
        with self._lock:
            return len(self._received)

    def summarise(self, start_ns: int, end_ns: int, max_rate_hz: float,
                  detector_cpu_s: float | None = None,
                  publisher_cpu_s: float | None = None) -> NodeBenchResult:
        """Statistics of the frames stamped in ``[start_ns, end_ns)``.

        Raises ValueError when no frame was sent in the window.
        """
        with self._lock:
            sent = [s for s in self._sent if start_ns <= s < end_ns]
            answers = {s: self._received[s] for s in sent if s in self._received}
            reports = [r for t, r in self._in_node if start_ns <= t < end_ns]
        if not sent:
            raise ValueError('no frame was published in the measurement window')
        duration = (end_ns - start_ns) * 1e-9
        lat = np.array([(answers[s] - s) * 1e-6 for s in sorted(answers)], dtype=float)

        def pct(q: float) -> float:
            return float(np.percentile(lat, q)) if lat.size else float('nan')

        def share(cpu_s: float | None) -> float | None:
            return None if cpu_s is None else 100.0 * cpu_s / duration

        return NodeBenchResult(
            max_rate_hz=float(max_rate_hz), duration_s=duration, frames_sent=len(sent),
            frames_answered=len(answers), frames_dropped=len(sent) - len(answers),
            sent_hz=len(sent) / duration, answered_hz=len(answers) / duration,
            p50_ms=pct(50), p95_ms=pct(95), max_ms=float(lat.max()) if lat.size else float('nan'),
            mean_ms=float(lat.mean()) if lat.size else float('nan'),
            detector_cpu_percent=share(detector_cpu_s),
            publisher_cpu_percent=share(publisher_cpu_s),
            in_node_ms=_median([r.work_ms for r in reports]),
            frame_age_ms=_median([r.frame_age_ms for r in reports]),
            first_grasp_ms=_median([r.first_grasp_ms for r in reports]))


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.median(known)) if known else None


def detector_report(values: dict[str, str]) -> DetectorReport | None:
    """Return the timings of a detector's diagnostic key/values, or None (see reported_work_ms)."""
    work_ms = reported_work_ms(values)
    if work_ms is None:
        return None

    def optional(key: str) -> float | None:
        try:
            value = float(values.get(key, 'nan'))
        except ValueError:
            return None
        return value if math.isfinite(value) else None

    first = optional('time to first grasp (ms)')
    return DetectorReport(work_ms, optional('frame age at start (ms)'),
                          first if first is not None and first > 0 else None)


def reported_work_ms(values: dict[str, str]) -> float | None:
    """Per-frame work (ms) from a detector's diagnostic key/values, or None.

    None before the detector has processed a frame, and for missing or unreadable values
    (another node's status, a garbled message): the benchmark skips those reports.
    """
    try:
        work_ms = float(values.get('latency (ms)', 'nan'))
        processed = int(values.get('frames processed', '0'))
    except ValueError:
        return None
    return work_ms if processed > 0 and math.isfinite(work_ms) and work_ms > 0 else None


class ProcessCpu:
    """User + system CPU seconds of a process, from ``/proc/PID/stat`` (None elsewhere)."""

    def __init__(self, pid: int) -> None:
        self.path = Path(f'/proc/{int(pid)}/stat')
        self._ticks = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100

    def seconds(self) -> float | None:
        """CPU seconds used so far, or None when unreadable (no /proc, process gone)."""
        try:
            text = self.path.read_text()
        except OSError:
            return None
        # the command name (field 2) may hold spaces: split after its closing parenthesis
        fields = text[text.rindex(')') + 2:].split()
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / float(self._ticks)


def parse_rates(text: str) -> list[float]:
    """``"5,15,30"`` -> [5.0, 15.0, 30.0]; 0 means unlimited. Raises ValueError."""
    rates = []
    for item in text.split(','):
        item = item.strip()
        if not item:
            continue
        value = float(item)
        if not np.isfinite(value) or value < 0:
            raise ValueError(f'rates must be finite and >= 0 Hz, got {item!r}')
        rates.append(value)
    if not rates:
        raise ValueError('give at least one rate, e.g. 5,15,30')
    return rates
