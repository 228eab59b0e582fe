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


def check_frame_ids(color_frame_id: str, depth_frame_id: str,
                    info_frame_id: str = '') -> list[FrameIssue]:
    """Colour, depth and camera info must share one optical frame (depth aligned to colour).

    Empty ids are not compared. The intrinsics themselves are checked against the image by
    :func:`check_intrinsics`, in the detector.
    """
    issues = []
    if color_frame_id and depth_frame_id and color_frame_id != depth_frame_id:
        issues.append(FrameIssue(GraspStatus.BAD_INPUT,
                                 f"colour frame_id '{color_frame_id}' differs from depth "
                                 f"frame_id '{depth_frame_id}': {ALIGN_HINT}"))
    if info_frame_id and color_frame_id and info_frame_id != color_frame_id:
        issues.append(FrameIssue(GraspStatus.BAD_INPUT,
                                 f"camera info frame_id '{info_frame_id}' differs from the image "
                                 f"frame_id '{color_frame_id}'"))
    return issues


def check_intrinsics(camera: PinholeCamera, image_hw: tuple[int, int]) -> list[FrameIssue]:
    """Camera info must describe the image: the same size (width, height px)."""
    height, width = image_hw
    if (camera.width, camera.height) != (width, height):
        return [FrameIssue(
            GraspStatus.BAD_INPUT,
            f'camera info is for {camera.width}x{camera.height} but the image is '
            f'{width}x{height}: use the camera_info published with this image (for aligned '
            f'depth: the colour camera_info)')]
    return []


def frame_age_s(stamp_s: float, now_s: float, arrival_s: float | None = None) -> float:
    """Age of a frame (s): time since its stamp, and at least the time since it arrived.

    ``arrival_s`` (same clock as ``now_s``) keeps a frame stamped ahead of this clock (camera
    computer without time synchronisation, a driver on its device clock) from staying fresh:
    it ages from its arrival even while its stamp is still in the future.
    """
    age = now_s - stamp_s
    if arrival_s is not None and math.isfinite(arrival_s):
        age = max(age, now_s - arrival_s)
    return age


def check_age(stamp_s: float, now_s: float, max_age_s: float,
              arrival_s: float | None = None) -> list[FrameIssue]:
    """Return frame must be at most ``max_age_s`` seconds old (``max_age_s`` <= 0 disables it).

    The age is :func:`frame_age_s`: since the stamp, and at least since ``arrival_s``.
    """
    if max_age_s <= 0:
        return []
    if not (math.isfinite(stamp_s) and math.isfinite(now_s)):
        return [FrameIssue(GraspStatus.BAD_INPUT, f'frame stamp {stamp_s} or clock {now_s} '
                           f'is not finite')]
    age = frame_age_s(stamp_s, now_s, arrival_s)
    if age > max_age_s:
        ahead = stamp_s - now_s
        clock = (f'; its stamp is {ahead:.3f} s ahead of this clock, so the age is counted '
                 f'from its arrival' if ahead > 0 else '')
        return [FrameIssue(GraspStatus.STALE_DATA,
                           f'newest frame is {age:.3f} s old (max_age {max_age_s:.3f} s){clock}: '
                           f'is the camera still publishing, and is use_sim_time set '
                           f'consistently?')]
    return []


def check_clock_skew(stamp_s: float, arrival_s: float, tolerance_s: float) -> list[FrameIssue]:
    """Report a frame stamped over ``tolerance_s`` seconds after it arrived (clocks disagree).

    Not a refusal (the status is only what to report if one were made): such frames are still
    processed, aged from their arrival (:func:`frame_age_s`).
    """
    ahead = stamp_s - arrival_s
    if not ahead > tolerance_s:
        return []
    return [FrameIssue(GraspStatus.STALE_DATA,
                       f"camera stamps are {ahead:.3f} s ahead of this node's clock (more than "
                       f'max_clock_skew_s {tolerance_s:.3f} s): synchronise the camera '
                       f"computer's clock with this one (chrony/NTP or PTP) or make the driver "
                       f'stamp with the host clock; frame age is counted from arrival meanwhile')]


def check_image_size(width: int, height: int, what: str, min_side_px: int,
                     max_pixels: int) -> list[FrameIssue]:
    """Check an image is ``min_side_px`` or more on each side, ``max_pixels`` pixels at most.

    ``what`` names the image ('colour', 'depth') in the message. Checked on the message's
    size fields, before any pixel is copied.
    """
    if width < min_side_px or height < min_side_px:
        return [FrameIssue(GraspStatus.BAD_INPUT,
                           f'{what} image is {width}x{height}, smaller than min_image_side_px '
                           f'{min_side_px} on a side: too small to detect a grasp in')]
    if width * height > max_pixels:
        return [FrameIssue(GraspStatus.BAD_INPUT,
                           f'{what} image is {width}x{height} = {width * height / 1e6:.1f} Mpx, '
                           f'more than max_image_pixels {max_pixels} '
                           f'({max_pixels / 1e6:.1f} Mpx): refused unread; lower the camera '
                           f'resolution (or raise max_image_pixels; note that images larger '
                           f'than the DDS shared-memory segment are often lost in transport)')]
    return []


def depth_unit_hint(raw: np.ndarray, encoding: str) -> str | None:
    """Likely sign or unit mistake in a depth image, from its raw (unscaled) values.

    ``raw`` holds the image as sent: ``16UC1`` millimetres (0 = invalid), ``32FC1`` metres.
    Returns a message with the observed range and the likely cause, or None when the values
    look like plausible depth. Meant for frames whose depth was found unusable.
    """
    values = np.asarray(raw)
    if encoding == '16UC1':
        valid = values[values > 0]
        if valid.size and int(valid.max()) < 10:
            return (f'16UC1 depth values are {int(valid.min())}-{int(valid.max())} (all < 10, '
                    f'i.e. under 1 cm): depth in metres written as millimetres? 16UC1 must '
                    f'hold millimetres (0 = invalid): scale by 1000 or publish 32FC1 metres')
        return None
    if encoding != '32FC1':
        return None
    finite = values[np.isfinite(values)]
    if not finite.size:
        return None
    lo, hi = float(finite.min()), float(finite.max())
    if hi <= 0 and lo < 0:
        return (f'32FC1 depth values are {lo:.3f} to {hi:.3f} m, none positive: the depth sign '
                f'is flipped? Depth is the positive distance along the optical z axis')
    positive = finite[finite > 0]
    if positive.size and float(np.median(positive)) > 100.0:
        return (f'32FC1 depth values are {lo:.1f} to {hi:.1f} (median '
                f'{float(np.median(positive)):.1f}): depth in millimetres written as metres? '
                f'32FC1 must hold metres: scale by 0.001 or publish 16UC1 millimetres')
    return None


def first_issue(issues: list[FrameIssue]) -> FrameIssue | None:
    """Return the issue to report: the first one, or None if the list is empty."""
    return issues[0] if issues else None
