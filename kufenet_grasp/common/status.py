# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Outcome codes of grasp detection and execution, shared by the service, the action and CLI."""

from __future__ import annotations

from enum import IntEnum


class GraspStatus(IntEnum):
    """Why a detection or pick attempt ended; the values go into message ``status`` fields."""

    OK = 0  #: at least one grasp found (or executed)
    NO_GRASP = 1  #: valid frame, but no grasp passed the quality / depth / width checks
    NO_DATA = 2  #: no frame received yet, or the depth frame holds no valid pixel
    STALE_DATA = 3  #: the newest frame is older than the allowed age
    BAD_INPUT = 4  #: inconsistent inputs (size / frame id mismatch, wrong encoding, bad K)
    TF_FAILED = 5  #: the transform from the camera frame to the target frame is unavailable
    OUT_OF_WORKSPACE = 6  #: the grasp pose lies outside the robot's reachable workspace
    PLAN_FAILED = 7  #: motion planning to the grasp failed
    EXECUTION_FAILED = 8  #: the motion or gripper command failed during execution
    CANCELLED = 9  #: the request was cancelled by the client
    TIMEOUT = 10  #: the request did not finish within its deadline
    NOT_READY = 11  #: the node is not active (lifecycle) or its model is not loaded

    @property
    def meaning(self) -> str:
        """One-line description of the status."""
        return STATUS_MEANINGS[self]


STATUS_MEANINGS: dict[GraspStatus, str] = {
    GraspStatus.OK: 'at least one grasp found (or executed)',
    GraspStatus.NO_GRASP: 'valid frame, but no grasp passed the quality, depth and width checks',
    GraspStatus.NO_DATA: 'no frame received yet, or the depth frame holds no valid pixel',
    GraspStatus.STALE_DATA: 'the newest frame is older than the allowed age',
    GraspStatus.BAD_INPUT: 'inconsistent inputs (size or frame id mismatch, encoding, intrinsics)',
    GraspStatus.TF_FAILED: 'the transform from the camera frame to the target frame is missing',
    GraspStatus.OUT_OF_WORKSPACE: "the grasp pose lies outside the robot's reachable workspace",
    GraspStatus.PLAN_FAILED: 'motion planning to the grasp failed',
    GraspStatus.EXECUTION_FAILED: 'the motion or gripper command failed during execution',
    GraspStatus.CANCELLED: 'the request was cancelled by the client',
    GraspStatus.TIMEOUT: 'the request did not finish within its deadline',
    GraspStatus.NOT_READY: 'the node is not active (lifecycle) or its model is not loaded',
}
