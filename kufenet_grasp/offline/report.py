# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""One detection as a JSON-ready record and as an overlay image.

Rectangles are in full-resolution image pixels (x right, y down); ``width_m`` (the commanded
opening) and ``depth_m`` in metres; poses are the grasp frame (through the TCP offset, as
the node publishes it) in the camera optical frame, metres and a unit quaternion (x, y, z, w).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.detection.detector import DetectedGrasp, DetectionResult
from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.transforms import RigidTransform
from kufenet_grasp.grasp.drawing import draw_grasps
from kufenet_grasp.grasp.rectangle import clamp_quality, GraspRectangle
import numpy as np

BEST_COLOUR = (0, 255, 0)
OTHER_COLOUR = (255, 160, 0)
#: rejected candidates listed one by one in a record, best first (all are counted by reason)
MAX_REJECTED_LISTED = 20


def _number(value: float | None, digits: int = 4) -> float | None:
    """JSON has no NaN: None for a missing or non-finite value."""
    if value is None or not math.isfinite(float(value)):
        return None
    return round(float(value), digits)


def quality(grasp: DetectedGrasp) -> float:
    """Quality of ``grasp`` clamped to [0, 1], as the node's messages carry it."""
    return clamp_quality(grasp.rect_image_px.quality)


def rectangle_record(rect: GraspRectangle) -> dict[str, Any]:
    """JSON-ready dict of a rectangle in image pixels, with its quality."""
    return {
        'quality': _number(clamp_quality(rect.quality)),
        'center_px': [_number(c, 2) for c in rect.center],
        'angle_rad': _number(rect.angle),
        'opening_px': _number(rect.opening, 2),
        'jaw_px': _number(rect.jaw, 2),
        'corners_px': [[_number(v, 2) for v in corner] for corner in rect.corners()],
    }


def grasp_record(rank: int, grasp: DetectedGrasp, offset: RigidTransform,
                 frame_id: str | None) -> dict[str, Any]:
    """JSON-ready dict of one grasp (``rank`` 1 = best)."""
    record: dict[str, Any] = {
        'rank': rank,
        **rectangle_record(grasp.rect_image_px),
        'width_m': _number(grasp.width_m),
        'depth_m': _number(grasp.depth_m),
        'pose': None,
    }
    if grasp.pose_camera is not None:
        pose = grasp.pose_camera.compose(offset)
        record['pose'] = {
            'frame_id': frame_id,
            'position_m': [_number(v, 5) for v in pose.translation],
            'orientation_xyzw': [_number(v, 6) for v in pose.quaternion_xyzw],
        }
    return record


def result_record(name: str, result: DetectionResult, offset: RigidTransform,
                  camera: PinholeCamera | None, **extra: Any) -> dict[str, Any]:
    """JSON-ready dict of one frame's detection; ``extra`` adds fields (paths, stamps, ...)."""
    frame_id = camera.frame_id if camera is not None else None
    status = GraspStatus(result.status)
    return {
        'name': name,
        **extra,
        'status': status.name,
        'status_code': int(status),
        'message': result.message,
        'camera_frame': frame_id,
        'grasps': [grasp_record(i + 1, g, offset, frame_id)
                   for i, g in enumerate(result.grasps)],
        'rejected': [{'reason': r.reason, **rectangle_record(r.rect_image_px)}
                     for r in result.rejected_grasps[:MAX_REJECTED_LISTED]],
        'rejected_by_reason': dict(result.rejected),
        'support': result.support,
        'plane_inliers': _number(result.plane_inliers, 3),
        'timings_ms': {k: _number(v, 3) for k, v in result.timings_ms.items()},
    }


def _label(rank: int, grasp: DetectedGrasp) -> str:
    text = f'#{rank} q{quality(grasp):.2f}'
    if grasp.width_m is not None and math.isfinite(grasp.width_m):
        text += f' w{grasp.width_m:.3f}m'
    return text


def _text(image: np.ndarray, text: str, org: tuple[int, int], colour: tuple[int, int, int],
          scale: float) -> None:
    """Text with a dark outline, readable on any background."""
    thickness = max(1, round(scale * 2))
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2,
                cv2.LINE_AA)
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness,
                cv2.LINE_AA)


def draw_result(rgb: np.ndarray, result: DetectionResult, title: str = '') -> np.ndarray:
    """Copy of ``rgb`` with the ranked grasps (best in green) labelled and the status on top.

    Each grasp is labelled with its rank, quality and, with intrinsics, its opening in metres.
    """
    scale = max(0.4, rgb.shape[1] / 1600)
    thickness = max(2, round(rgb.shape[1] / 640))
    grasps = result.grasps
    canvas = draw_grasps(rgb, [g.rect_image_px for g in grasps[1:]], color=OTHER_COLOUR,
                         thickness=thickness, label_quality=False)
    canvas = draw_grasps(canvas, [g.rect_image_px for g in grasps[:1]], color=BEST_COLOUR,
                         thickness=thickness, label_quality=False)
    for rank, grasp in reversed(list(enumerate(grasps, start=1))):
        x, y = grasp.rect_image_px.center
        colour = BEST_COLOUR if rank == 1 else OTHER_COLOUR
        _text(canvas, _label(rank, grasp), (round(x) + 6, round(y) - 6), colour, scale)
    status = GraspStatus(result.status).name
    head = f'{title}  {status}: {result.message}' if title else f'{status}: {result.message}'
    _text(canvas, head[:120], (8, round(24 * scale / 0.5)), (255, 255, 255), scale)
    return canvas
