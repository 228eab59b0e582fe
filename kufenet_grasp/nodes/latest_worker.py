"""A worker thread fed through a latest-only slot (ROS-free).

Producers :meth:`LatestWorker.put` items from any thread; a newer item replaces one the worker
has not taken yet (counted in :attr:`LatestWorker.dropped`), so a slow consumer always works on
the newest item and nothing queues. ``min_period_s`` caps how often the consumer runs (compute
budget, seconds). While the slot is empty the thread sleeps on a condition variable (no CPU).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class LatestWorker:
    """Run ``process(item)`` on the newest item, in one background thread."""

    def __init__(self, process: Callable[[Any], None], min_period_s: float = 0.0,
                 name: str = "latest_worker",
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        if not min_period_s >= 0:
            raise ValueError(f"LatestWorker: min_period_s must be >= 0 s, got {min_period_s}")
        self._process = process
        self._on_error = on_error
        self.min_period_s = float(min_period_s)
        self._cond = threading.Condition()
        self._item: Any = None
        self._has_item = False
        self._stop = False
        self.dropped = 0
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

    def _pause(self, seconds: float) -> None:
        with self._cond:
            if seconds > 0 and not self._stop:
                self._cond.wait_for(lambda: self._stop, timeout=seconds)

    def _run(self) -> None:
        while True:
            ok, item = self._take()
            if not ok:
                return
            started = time.monotonic()
            try:
                self._process(item)
            except Exception as exc:  # noqa: BLE001 -- keep the worker alive; owner logs it
                if self._on_error is not None:
                    self._on_error(exc)
            self.processed += 1
            self._pause(self.min_period_s - (time.monotonic() - started))

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
