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

import numpy as np


@dataclass(frozen=True)
class WorkspaceBounds:
    """Axis-aligned box ``min_xyz <= p <= max_xyz`` in the base frame (metres)."""

    min_xyz: tuple[float, float, float]
    max_xyz: tuple[float, float, float]

    def __post_init__(self) -> None:
        lo = np.asarray(self.min_xyz, dtype=float)
        hi = np.asarray(self.max_xyz, dtype=float)
        if lo.shape != (3,) or hi.shape != (3,) or not (np.all(np.isfinite(lo))
                                                        and np.all(np.isfinite(hi))):
            raise ValueError(f'WorkspaceBounds: min_xyz and max_xyz must be 3 finite numbers '
                             f'(m), got {self.min_xyz!r} and {self.max_xyz!r}')
        if not np.all(lo < hi):
            raise ValueError(f'WorkspaceBounds: min_xyz {lo.tolist()} must be below max_xyz '
                             f'{hi.tolist()} on every axis')
        object.__setattr__(self, 'min_xyz', tuple(float(v) for v in lo))
        object.__setattr__(self, 'max_xyz', tuple(float(v) for v in hi))

    def contains(self, point: Sequence[float] | np.ndarray) -> bool:
        """Return True if ``point`` (3,) m lies inside the box (borders included)."""
        p = np.asarray(point, dtype=float)
        return bool(np.all(np.isfinite(p)) and np.all(p >= self.min_xyz)
                    and np.all(p <= self.max_xyz))

    def corners(self) -> np.ndarray:
        """Return the eight corners of the box, shape (8, 3), metres in the base frame."""
        return np.array(list(itertools.product(*zip(self.min_xyz, self.max_xyz))),
                        dtype=float)
