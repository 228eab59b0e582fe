# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""A worker thread fed through a latest-only slot (ROS-free).

Producers :meth:`LatestWorker.put` items from any thread; a newer item replaces one the worker
has not taken yet (counted in :attr:`LatestWorker.dropped`), so a slow consumer always works on
the newest item and nothing queues. ``max_rate_hz`` caps how often the consumer runs (compute
budget) by *skipping* items the budget does not cover (:attr:`LatestWorker.skipped`), never by
holding one back: an item that is processed is processed as soon as the thread is free, so the
cap costs no latency. While the slot is empty the thread sleeps on a condition variable (no CPU).
"""

from __future__ import annotations

from collections.abc import Callable
import threading
import time
from typing import Any


class RateBudget:
    """A token bucket that lets at most ``max_rate_hz`` events a second through on average.

    Tokens accrue at ``max_rate_hz`` per second up to ``burst``; an event passes when at least
    ``1 - tolerance`` tokens are there and costs one token. The tolerance absorbs camera jitter
    (a 30 Hz camera under a 15 Hz cap passes every second frame, not every third), and the
    long-run rate still never exceeds the cap (tokens stay >= -tolerance). ``max_rate_hz`` 0
    means unlimited. Times are monotonic seconds.
    """

    def __init__(self, max_rate_hz: float = 0.0, burst: float = 1.5,
                 tolerance: float = 0.25) -> None:
        if not burst >= 1.0 or not 0.0 <= tolerance < 1.0:
            raise ValueError(f'RateBudget: need burst >= 1 and 0 <= tolerance < 1, got '
                             f'{burst}, {tolerance}')
        self.burst, self.tolerance = float(burst), float(tolerance)
        self._tokens = self.burst
        self._last: float | None = None
        self.max_rate_hz = max_rate_hz

    @property
    def max_rate_hz(self) -> float:
        """The cap, Hz (0 = unlimited)."""
        return self._rate

    @max_rate_hz.setter
    def max_rate_hz(self, value: float) -> None:
        if not value >= 0:
            raise ValueError(f'max_rate_hz must be >= 0 Hz (0 = unlimited), got {value}')
        self._rate = float(value)

    def allow(self, now_s: float) -> bool:
        """Return True if an event at monotonic time ``now_s`` fits the budget (and spend it)."""
        if self._rate <= 0:
            return True
        if self._last is not None:
            self._tokens = min(self.burst,
                               self._tokens + (now_s - self._last) * self._rate)
        self._last = now_s
        if self._tokens < 1.0 - self.tolerance:
            return False
        self._tokens -= 1.0
        return True


class LatestWorker:
    """Run ``process(item)`` on the newest item, in one background thread."""

    def __init__(self, process: Callable[[Any], None], max_rate_hz: float = 0.0,
                 name: str = 'latest_worker',
                 on_error: Callable[[BaseException], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = RateBudget(max_rate_hz)
        self._process = process
        self._on_error = on_error
        self._clock = clock
        self._cond = threading.Condition()
        self._item: Any = None
        self._has_item = False
        self._stop = False
        self.dropped = 0  # replaced in the slot before the thread took them
        self.skipped = 0  # taken but not processed: over the max_rate_hz budget
        self.processed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: Any) -> None:
        """Offer ``item``; an item still waiting in the slot is dropped."""
        with self._cond:
            if self._stop:
                return
            if self._has_item:
                self.dropped += 1
            self._item, self._has_item = item, True
            self._cond.notify()

    def _take(self) -> tuple[bool, Any]:
        with self._cond:
            while not self._has_item and not self._stop:
                self._cond.wait()
            if self._stop:
                return False, None
            item, self._item, self._has_item = self._item, None, False
            return True, item

    @property
    def max_rate_hz(self) -> float:
        """The compute cap, Hz (0 = unlimited); may be changed while running."""
        return self.budget.max_rate_hz

    @max_rate_hz.setter
    def max_rate_hz(self, value: float) -> None:
        self.budget.max_rate_hz = value

    def _run(self) -> None:
        while True:
            ok, item = self._take()
            if not ok:
                return
            if not self.budget.allow(self._clock()):
                self.skipped += 1
                continue
            try:
                self._process(item)
            except Exception as exc:  # noqa: BLE001 -- keep the worker alive; owner logs it
                if self._on_error is not None:
                    self._on_error(exc)
            self.processed += 1

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop the thread (a running ``process`` call finishes first); True if it ended."""
        with self._cond:
            self._stop = True
            self._item, self._has_item = None, False
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()
