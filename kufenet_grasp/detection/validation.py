# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Consistency checks of one RGB-D frame before detection; each problem carries a status.

Images are RGB ``uint8 H×W×3`` and depth ``float32 H×W`` metres (docs/ARCHITECTURE.md);
stamps and ages are in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.geometry.camera import PinholeCamera
import numpy as np

ALIGN_HINT = ('align depth to colour: for a RealSense launch it with align_depth.enable:=true '
              'and subscribe the depth input to aligned_depth_to_color/image_raw')


@dataclass(frozen=True)
class FrameIssue:
    """One problem of a frame: the status it maps to and a message saying how to fix it."""

    status: GraspStatus
    message: str


def check_images(rgb: np.ndarray, depth_m: np.ndarray) -> list[FrameIssue]:
    """Shape / dtype checks of the colour and depth arrays, and that they are the same size."""
    issues = []
    rgb = np.asarray(rgb)
    depth_m = np.asarray(depth_m)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        issues.append(FrameIssue(GraspStatus.BAD_INPUT, f'colour image must be uint8 H×W×3 RGB, '
                                 f'got shape {rgb.shape} dtype {rgb.dtype}'))
    if depth_m.ndim != 2 or not np.issubdtype(depth_m.dtype, np.floating):
        issues.append(FrameIssue(GraspStatus.BAD_INPUT, f'depth image must be float H×W metres, '
                                 f'got shape {depth_m.shape} dtype {depth_m.dtype}'))
    if not issues and rgb.shape[:2] != depth_m.shape:
        issues.append(FrameIssue(
            GraspStatus.BAD_INPUT,
            f'colour image is {rgb.shape[1]}x{rgb.shape[0]} but depth is '
            f'{depth_m.shape[1]}x{depth_m.shape[0]}: depth must be registered to the colour '
            f'image; {ALIGN_HINT}'))
    return issues


def check_frame_ids(color_frame_id: str, depth_frame_id: str) -> list[FrameIssue]:
    """Return colour and depth images must share one optical frame (depth aligned to colour)."""
    if color_frame_id and depth_frame_id and color_frame_id != depth_frame_id:
        return [FrameIssue(GraspStatus.BAD_INPUT,
                           f"colour frame_id '{color_frame_id}' differs from depth frame_id "
                           f"'{depth_frame_id}': {ALIGN_HINT}")]
    return []


def check_intrinsics(camera: PinholeCamera, image_hw: tuple[int, int],
                     image_frame_id: str = '') -> list[FrameIssue]:
    """Camera info must describe the image: same size (and frame id, if both are known)."""
    issues = []
    height, width = image_hw
    if (camera.width, camera.height) != (width, height):
        issues.append(FrameIssue(
            GraspStatus.BAD_INPUT,
            f'camera info is for {camera.width}x{camera.height} but the image is '
            f'{width}x{height}: use the camera_info published with this image (for aligned '
            f'depth: the colour camera_info)'))
    if image_frame_id and camera.frame_id and camera.frame_id != image_frame_id:
        issues.append(FrameIssue(
            GraspStatus.BAD_INPUT,
            f"camera info frame_id '{camera.frame_id}' differs from the image frame_id "
            f"'{image_frame_id}'"))
    return issues


def check_age(stamp_s: float, now_s: float, max_age_s: float) -> list[FrameIssue]:
    """Return frame must be at most ``max_age_s`` seconds old (``max_age_s`` <= 0 disables it)."""
    if max_age_s <= 0:
        return []
    if not (math.isfinite(stamp_s) and math.isfinite(now_s)):
        return [FrameIssue(GraspStatus.BAD_INPUT, f'frame stamp {stamp_s} or clock {now_s} '
                           f'is not finite')]
    age = now_s - stamp_s
    if age > max_age_s:
        return [FrameIssue(GraspStatus.STALE_DATA,
                           f'newest frame is {age:.3f} s old (max_age {max_age_s:.3f} s): is the '
                           f'camera still publishing, and is use_sim_time set consistently?')]
    return []


def first_issue(issues: list[FrameIssue]) -> FrameIssue | None:
    """Return the issue to report: the first one, or None if the list is empty."""
    return issues[0] if issues else None
