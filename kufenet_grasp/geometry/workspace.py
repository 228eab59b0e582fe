# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The workspace: the axis-aligned box in the robot's base frame where grasps may be.

The executor refuses grasps outside it and the detector can look only where it projects into
the image (:mod:`kufenet_grasp.geometry.workspace_roi`). Base frame REP-103/105 (z up), metres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import itertools
import math
from typing import Any

import numpy as np


def corner_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is not a box corner (3 finite numbers, metres), or None when it is one."""
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return f'{name} must hold 3 finite numbers (x, y, z metres), got {value!r}'
    if len(numbers) != 3 or not all(math.isfinite(v) for v in numbers):
        return f'{name} must hold 3 finite numbers (x, y, z metres), got {numbers!r}'
    return None


def bounds_problem(min_xyz: Any, max_xyz: Any, names: tuple[str, str] = ('min_xyz', 'max_xyz')
                   ) -> str | None:
    """Why the corners ``min_xyz``, ``max_xyz`` (m) are not a box, or None when they are one.

    ``names`` are the corners' names in the message (a node's parameter names). Shared by
    :class:`WorkspaceBounds` and the nodes' parameter checks, so they refuse the same boxes.
    """
    for name, corner in zip(names, (min_xyz, max_xyz)):
        problem = corner_problem(name, corner)
        if problem:
            return problem
    lo, hi = [float(v) for v in min_xyz], [float(v) for v in max_xyz]
    if not all(a < b for a, b in zip(lo, hi)):
        return f'{names[0]} {lo} must be below {names[1]} {hi} on every axis'
    return None


@dataclass(frozen=True)
class WorkspaceBounds:
    """Axis-aligned box ``min_xyz <= p <= max_xyz`` in the base frame (metres)."""

    min_xyz: tuple[float, float, float]
    max_xyz: tuple[float, float, float]

    def __post_init__(self) -> None:
        problem = bounds_problem(self.min_xyz, self.max_xyz)
        if problem:
            raise ValueError(f'WorkspaceBounds: {problem}')
        object.__setattr__(self, 'min_xyz', tuple(float(v) for v in self.min_xyz))
        object.__setattr__(self, 'max_xyz', tuple(float(v) for v in self.max_xyz))

    def contains(self, point: Sequence[float] | np.ndarray) -> bool:
        """Return True if ``point`` (3,) m lies inside the box (borders included)."""
        p = np.asarray(point, dtype=float)
        return bool(np.all(np.isfinite(p)) and np.all(p >= self.min_xyz)
                    and np.all(p <= self.max_xyz))

    def corners(self) -> np.ndarray:
        """Return the eight corners of the box, shape (8, 3), metres in the base frame."""
        return np.array(list(itertools.product(*zip(self.min_xyz, self.max_xyz))),
                        dtype=float)
