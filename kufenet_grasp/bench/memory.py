# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Resident memory of this process, from /proc/self/status (Linux) or getrusage.

``psutil`` is not a dependency. On Linux the peak (VmHWM) can be reset to the current
resident size by writing ``5`` to /proc/self/clear_refs, which lets a benchmark attribute
peak memory to one step at a time.
"""

from __future__ import annotations

from pathlib import Path
import resource
import sys

_STATUS = Path('/proc/self/status')
_CLEAR_REFS = Path('/proc/self/clear_refs')


def _status_kib(field: str, status: Path = _STATUS) -> int | None:
    """Value of ``field`` (e.g. 'VmRSS') in KiB, or None where /proc is unavailable."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith(field + ':'):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mib() -> float:
    """Return current resident set size in MiB (falls back to the peak where /proc is missing)."""
    kib = _status_kib('VmRSS')
    return kib / 1024.0 if kib is not None else peak_rss_mib()


def peak_rss_mib() -> float:
    """Peak resident set size in MiB since start or since the last :func:`reset_peak`."""
    kib = _status_kib('VmHWM')
    if kib is not None:
        return kib / 1024.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == 'darwin' else peak / 1024.0


def reset_peak() -> bool:
    """Reset the peak RSS to the current RSS; False if the OS does not support it."""
    try:
        _CLEAR_REFS.write_text('5')
    except OSError:
        return False
    return True


def process_rss_mib(pid: int) -> tuple[float | None, float | None]:
    """Return (current, peak) resident set size of process ``pid`` in MiB (VmRSS, VmHWM).

    None where /proc is unavailable or the process has gone.
    """
    status = Path(f'/proc/{int(pid)}/status')
    current, peak = _status_kib('VmRSS', status), _status_kib('VmHWM', status)
    return (None if current is None else current / 1024.0,
            None if peak is None else peak / 1024.0)
