# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Wait for a condition another thread makes true (a reply, a node becoming active)."""

from __future__ import annotations

from collections.abc import Callable
import time


def wait_until(predicate: Callable[[], bool], timeout_s: float, period_s: float = 0.02) -> bool:
    """Poll ``predicate`` every ``period_s`` seconds until it is true or ``timeout_s`` passed.

    Returns the predicate's last value: it is asked once more at the deadline, so a condition
    that came true during the last sleep still counts.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period_s)
    return bool(predicate())
