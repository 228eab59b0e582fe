# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Pre-planning checks of a grasp: workspace, approach angle, age, quality, gripper width.

Pure functions returning a :class:`CheckResult` ``(ok, status, message)``. Poses and points
are in the arm's base frame (REP-105, z up), metres; angles in radians; times in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
import math
from typing import NamedTuple

from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.geometry.transforms import RigidTransform
from kufenet_grasp.geometry.workspace import WorkspaceBounds
import numpy as np

#: straight down in the base frame (z up)
DOWN = np.array([0.0, 0.0, -1.0])


class CheckResult(NamedTuple):
    """Result of one check: ``ok``, the status to report when not ok, and why."""

    ok: bool
    status: GraspStatus
    message: str


PASSED = CheckResult(True, GraspStatus.OK, '')


def check_workspace(point: Sequence[float] | np.ndarray, bounds: WorkspaceBounds,
                    what: str) -> CheckResult:
    """OUT_OF_WORKSPACE unless ``point`` (m, base frame) lies in ``bounds``; ``what`` names it."""
    if bounds.contains(point):
        return PASSED
    p = [round(float(v), 4) for v in np.asarray(point, dtype=float)]
    return CheckResult(False, GraspStatus.OUT_OF_WORKSPACE,
                       f'{what} at {p} m is outside the workspace bounds '
                       f'min {list(bounds.min_xyz)} max {list(bounds.max_xyz)} m (base frame)')


def approach_angle_rad(pose: RigidTransform) -> float:
    """Angle (rad) between the grasp's approach axis (its z) and straight down (base -z)."""
    z = pose.rotation[:, 2]
    return float(math.acos(float(np.clip(np.dot(z, DOWN), -1.0, 1.0))))


def check_approach_angle(pose: RigidTransform, max_angle_rad: float) -> CheckResult:
    """OUT_OF_WORKSPACE when the approach deviates from straight down by more than the limit."""
    angle = approach_angle_rad(pose)
    if angle <= max_angle_rad:
        return PASSED
    return CheckResult(False, GraspStatus.OUT_OF_WORKSPACE,
                       f'approach axis is {math.degrees(angle):.1f} deg from straight down; '
                       f'max_approach_angle_deg is {math.degrees(max_angle_rad):.1f}')


def check_age(stamp_s: float | None, now_s: float, max_age_s: float) -> CheckResult:
    """STALE_DATA when the grasp is older than ``max_age_s`` s (0 = no limit, None = unknown)."""
    if stamp_s is None or max_age_s <= 0.0:
        return PASSED
    age = now_s - stamp_s
    if age <= max_age_s:
        return PASSED
    return CheckResult(False, GraspStatus.STALE_DATA,
                       f'grasp is {age:.2f} s old; max_grasp_age_s is {max_age_s:.2f} s')


def check_quality(quality: float, threshold: float) -> CheckResult:
    """NO_GRASP when the predicted quality is below ``threshold``."""
    if quality >= threshold:
        return PASSED
    return CheckResult(False, GraspStatus.NO_GRASP,
                       f'grasp quality {quality:.3f} is below quality_threshold {threshold:.3f}')


def check_width(width_m: float, min_width_m: float, max_width_m: float,
                margin_m: float) -> CheckResult:
    """NO_GRASP when the object (``width_m`` + ``margin_m``) does not fit the gripper.

    NaN width (unknown) passes: the gripper then opens fully. A width below ``min_width_m``
    passes too (the fingers stop on the object or close completely).
    """
    if math.isnan(width_m) or width_m + margin_m <= max_width_m:
        return PASSED
    return CheckResult(False, GraspStatus.NO_GRASP,
                       f'object width {width_m:.4f} m + margin {margin_m:.4f} m exceeds the '
                       f"gripper's max opening {max_width_m:.4f} m")


def clamp_width(width_m: float, min_width_m: float, max_width_m: float) -> float:
    """``width_m`` clamped to [min_width_m, max_width_m] (m); NaN gives ``max_width_m``."""
    if math.isnan(width_m):
        return max_width_m
    return float(np.clip(width_m, min_width_m, max_width_m))
