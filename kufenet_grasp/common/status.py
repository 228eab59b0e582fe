# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Outcome codes of grasp detection and execution, shared by the service, the action and CLI."""

from __future__ import annotations

from enum import IntEnum


class GraspStatus(IntEnum):
    """Why a detection or pick attempt ended; the values go into message ``status`` fields.

    Values and meanings are those of ``kufenet_msgs/msg/GraspStatus.msg`` (the interface);
    :data:`STATUS_MEANINGS` holds the meanings once on the Python side, and a test keeps both
    equal to the message file.
    """

    OK = 0
    NO_GRASP = 1
    NO_DATA = 2
    STALE_DATA = 3
    BAD_INPUT = 4
    TF_FAILED = 5
    OUT_OF_WORKSPACE = 6
    PLAN_FAILED = 7
    EXECUTION_FAILED = 8
    CANCELLED = 9
    TIMEOUT = 10
    NOT_READY = 11

    @property
    def meaning(self) -> str:
        """One-line description of the status."""
        return STATUS_MEANINGS[self]


STATUS_MEANINGS: dict[GraspStatus, str] = {
    GraspStatus.OK: 'success',
    GraspStatus.NO_GRASP: 'a frame was processed but no grasp passed the filters',
    GraspStatus.NO_DATA: 'no synchronised color/depth/camera_info frame yet, or no valid depth',
    GraspStatus.STALE_DATA: 'the newest frame or grasp is older than the configured limit',
    GraspStatus.BAD_INPUT: 'the frame was refused (encoding, size, frame id or depth problems)',
    GraspStatus.TF_FAILED: 'no transform from the camera frame to the base frame',
    GraspStatus.OUT_OF_WORKSPACE: 'the grasp lies outside the configured workspace bounds',
    GraspStatus.PLAN_FAILED: 'motion planning failed for a stage of the pick',
    GraspStatus.EXECUTION_FAILED:
        'the arm or gripper failed while executing (e.g. object slipped)',
    GraspStatus.CANCELLED: 'the goal was cancelled; the arm returned home',
    GraspStatus.TIMEOUT: 'a wait exceeded its timeout parameter',
    GraspStatus.NOT_READY: 'the node is not active (lifecycle) or the model is not loaded',
}
