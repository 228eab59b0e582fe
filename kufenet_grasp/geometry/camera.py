# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Pinhole camera model in the REP-103 optical frame (x right, y down, z forward).

Pixel coordinates follow docs/ARCHITECTURE.md: ``u`` = column (x, right), ``v`` = row (y, down),
origin at the top-left pixel's centre. Depth ``z`` is in metres along the optical axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PinholeCamera:
    """Intrinsics of an undistorted (rectified) pinhole camera.

    Attributes:
        fx, fy: focal lengths in pixels.
        cx, cy: principal point in pixels.
        width, height: image size in pixels.
        frame_id: the camera's optical frame (REP-103), e.g. ``camera_color_optical_frame``.

    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    frame_id: str = 'camera_color_optical_frame'

    def __post_init__(self) -> None:
        for name in ('fx', 'fy', 'cx', 'cy'):
            value = getattr(self, name)
            if not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(
                    value):
                raise ValueError(f'PinholeCamera: {name} must be a finite number, got {value!r}')
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError(f'PinholeCamera: focal lengths must be > 0 px, got fx={self.fx}, '
                             f'fy={self.fy} (is the CameraInfo K matrix all zeros?)')
        for name in ('width', 'height'):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value <= 0:
                raise ValueError(f'PinholeCamera: {name} must be a positive integer, '
                                 f'got {value!r}')
        object.__setattr__(self, 'width', int(self.width))
        object.__setattr__(self, 'height', int(self.height))
        if not isinstance(self.frame_id, str):
            raise TypeError(f'PinholeCamera: frame_id must be a string, got {self.frame_id!r}')

    @property
    def size(self) -> tuple[int, int]:
        """Image size ``(width, height)`` in pixels."""
        return self.width, self.height

    @property
    def k(self) -> np.ndarray:
        """The 3×3 intrinsic matrix K (pixels)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def deproject(self, u: float | np.ndarray, v: float | np.ndarray,
                  z: float | np.ndarray) -> np.ndarray:
        """Pixel ``(u, v)`` px at depth ``z`` m → point(s) (..., 3) m in the optical frame."""
        u, v, z = np.broadcast_arrays(np.asarray(u, float), np.asarray(v, float),
                                      np.asarray(z, float))
        x = (u - self.cx) * z / self.fx
        y = (v - self.cy) * z / self.fy
        return np.stack([x, y, z], axis=-1)

    def deproject_point(self, u: float, v: float, z: float) -> np.ndarray:
        """One pixel ``(u, v)`` px at depth ``z`` m → point (3,) m; :meth:`deproject` for scalars.

        Plain float arithmetic: the per-grasp geometry calls it a dozen times a frame.
        """
        z = float(z)
        return np.array([(float(u) - self.cx) * z / self.fx, (float(v) - self.cy) * z / self.fy,
                         z])

    def project(self, points: np.ndarray | Sequence[float]) -> np.ndarray:
        """Point(s) (..., 3) m in the optical frame → pixel(s) (..., 2) ``(u, v)`` px.

        Raises:
            ValueError: if the points are not (..., 3) or lie at z <= 0 (behind the camera).

        """
        pts = np.asarray(points, dtype=float)
        if pts.shape[-1:] != (3,):
            raise ValueError(f'PinholeCamera.project: points must have shape (..., 3), '
                             f'got {pts.shape}')
        z = pts[..., 2]
        if np.any(~(z > 0)):
            raise ValueError('PinholeCamera.project: every point needs z > 0 m (in front of the '
                             'camera)')
        u = self.fx * pts[..., 0] / z + self.cx
        v = self.fy * pts[..., 1] / z + self.cy
        return np.stack([u, v], axis=-1)

    def scaled(self, scale_x: float, scale_y: float | None = None) -> PinholeCamera:
        """Return the camera for the image resized by ``scale_x`` (columns) and ``scale_y`` (rows).

        Pixel centres map as ``u' = (u + 0.5) * s - 0.5`` (OpenCV ``resize`` convention).
        """
        sy = scale_x if scale_y is None else scale_y
        if not scale_x > 0 or not sy > 0:
            raise ValueError(f'PinholeCamera.scaled: scales must be > 0, got {scale_x}, {sy}')
        return PinholeCamera(self.fx * scale_x, self.fy * sy, (self.cx + 0.5) * scale_x - 0.5,
                             (self.cy + 0.5) * sy - 0.5, max(1, round(self.width * scale_x)),
                             max(1, round(self.height * sy)), self.frame_id)

    def cropped(self, x0: int, y0: int, width: int, height: int) -> PinholeCamera:
        """Return the camera of the sub-image with top-left pixel ``(x0, y0)`` and size px."""
        if width <= 0 or height <= 0:
            raise ValueError(f'PinholeCamera.cropped: size must be > 0, got {width}x{height}')
        return PinholeCamera(self.fx, self.fy, self.cx - x0, self.cy - y0, width, height,
                             self.frame_id)


def from_camera_info_k(k: Sequence[float], width: int, height: int,
                       frame_id: str = 'camera_color_optical_frame') -> PinholeCamera:
    """Build a camera from a row-major CameraInfo ``k`` (9 numbers, pixels) and image size px."""
    values = np.asarray(list(k), dtype=float)
    if values.shape != (9,):
        raise ValueError(f'from_camera_info_k: k must hold 9 numbers (row-major 3x3), '
                         f'got {values.size}')
    if not np.all(np.isfinite(values)):
        raise ValueError('from_camera_info_k: k holds non-finite values')
    if not np.any(values):
        raise ValueError('from_camera_info_k: k is all zeros: the camera is not calibrated '
                         '(CameraInfo without intrinsics)')
    if values[1] != 0.0 or values[3] != 0.0 or values[6] != 0.0 or values[7] != 0.0 \
            or values[8] != 1.0:
        raise ValueError(f'from_camera_info_k: k is not a pinhole intrinsic matrix '
                         f'[fx 0 cx; 0 fy cy; 0 0 1] (skew unsupported), got {values.tolist()}')
    return PinholeCamera(float(values[0]), float(values[4]), float(values[2]), float(values[5]),
                         width, height, frame_id)


def from_camera_info_msg(msg: Any) -> PinholeCamera:
    """Build a camera from a duck-typed ``sensor_msgs/CameraInfo`` (``k``, size, frame id).

    Distortion (``d``) is ignored: use rectified images, or aligned depth whose colour
    stream has negligible distortion.
    """
    try:
        k, width, height = msg.k, msg.width, msg.height
        frame_id = msg.header.frame_id
    except AttributeError as exc:
        raise ValueError(f'from_camera_info_msg: {type(msg).__name__} lacks CameraInfo fields '
                         f'(k, width, height, header.frame_id): {exc}') from exc
    return from_camera_info_k(k, width, height, frame_id)
