# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Grasp candidates handed to the pick sequence: pose in the base frame, width, quality, stamp."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import math
from typing import Any

from kufenet_grasp.geometry.transforms import RigidTransform


@dataclass(frozen=True)
class GraspCandidate:
    """One grasp to try.

    Attributes:
        pose: the grasp frame (origin between the fingertips, z approach into the object,
            y closing axis) in the arm's base frame, metres.
        width_m: object width along the closing axis (m); NaN when unknown (the gripper then
            opens fully and closes completely).
        quality: predicted grasp quality in [0, 1].
        stamp_s: acquisition time of the source image (s, the node's clock); None = unknown,
            the age check is then skipped.
        source: the original detection (e.g. a GraspRectangle message), passed through.
    """

    pose: RigidTransform
    width_m: float = math.nan
    quality: float = 1.0
    stamp_s: float | None = None
    source: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.pose, RigidTransform):
            raise TypeError(f'GraspCandidate.pose must be a RigidTransform, '
                            f'got {type(self.pose).__name__}')
        if not (math.isfinite(self.quality) and 0.0 <= self.quality <= 1.0):
            raise ValueError(f'GraspCandidate.quality must be in [0, 1], got {self.quality!r}')
        if not math.isnan(self.width_m) and not (math.isfinite(self.width_m)
                                                 and self.width_m >= 0.0):
            raise ValueError(f'GraspCandidate.width_m must be >= 0 m or NaN, '
                             f'got {self.width_m!r}')


def rank_candidates(candidates: Iterable[GraspCandidate], top_k: int) -> list[GraspCandidate]:
    """Return the ``top_k`` best candidates, highest quality first (stable for equal qualities)."""
    if top_k < 1:
        raise ValueError(f'rank_candidates: top_k must be >= 1, got {top_k}')
    return sorted(candidates, key=lambda c: -c.quality)[:top_k]
