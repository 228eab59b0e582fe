# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Camera intrinsics from a YAML file, in either of the two layouts ROS tools write.

* the calibration file of ``camera_calibration_parsers`` (what ``camera_calibration`` saves and
  camera drivers load): ``image_width``, ``image_height``, ``camera_matrix: {rows, cols,
  data}``, ``distortion_model``, ``distortion_coefficients``, ``rectification_matrix``,
  ``projection_matrix``;
* a ``sensor_msgs/CameraInfo`` message dumped to YAML (``ros2 topic echo --once
  /camera/color/camera_info > info.yaml``): ``header.frame_id``, ``width``, ``height``, ``k``,
  ``d``, ``r``, ``p``, ...

Intrinsics are pixels of the image the file describes; the frame is its optical frame
(REP-103). Distortion is not applied by the detector (it expects rectified images, as a
RealSense colour stream nearly is): non-zero coefficients give a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kufenet_grasp.geometry.camera import from_camera_info_k, PinholeCamera
import numpy as np
import yaml

DEFAULT_FRAME = 'camera_color_optical_frame'


class CameraInfoError(ValueError):
    """The camera info file is missing, not YAML, or holds no usable pinhole intrinsics."""


@dataclass(frozen=True)
class CameraInfoFile:
    """Intrinsics read from a file, and what the reader noticed about them."""

    camera: PinholeCamera
    layout: str  #: 'calibration' or 'camera_info'
    warnings: tuple[str, ...] = ()


def _matrix(path: Path, data: dict[str, Any], key: str, shape: tuple[int, int]) -> list[float]:
    """Row-major numbers of a ``{rows, cols, data}`` matrix of the calibration layout."""
    entry = data.get(key)
    if not isinstance(entry, dict) or 'data' not in entry:
        raise CameraInfoError(f'{path}: {key} must be a mapping with rows, cols and data')
    values = list(entry['data'] or [])
    rows, cols = entry.get('rows', shape[0]), entry.get('cols', shape[1])
    if (rows, cols) != shape or len(values) != shape[0] * shape[1]:
        raise CameraInfoError(f'{path}: {key} must be {shape[0]}x{shape[1]} '
                              f'({shape[0] * shape[1]} numbers), got rows={rows} cols={cols} '
                              f'with {len(values)} numbers')
    return values


def _int(path: Path, data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CameraInfoError(f'{path}: {key} must be a positive integer (pixels), '
                              f'got {value!r}')
    return value


def _first_document(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise CameraInfoError(f'{path}: cannot read the camera info ({exc.strerror})') from exc
    try:
        # `ros2 topic echo` ends each message with '---': take the first document
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise CameraInfoError(f'{path}: not a YAML file ({str(exc).splitlines()[0]})') from exc
    if not docs or not isinstance(docs[0], dict):
        raise CameraInfoError(f'{path}: expected a camera info mapping (camera_matrix or k)')
    return docs[0]


def read_camera_info(path: str | Path) -> CameraInfoFile:
    """Read the intrinsics of ``path`` (either layout, told apart by its keys).

    Raises:
        CameraInfoError: missing or unreadable file, neither layout, malformed matrices,
            a K that is not a pinhole matrix.

    """
    path = Path(path)
    data = _first_document(path)
    if 'camera_matrix' in data:
        layout = 'calibration'
        width, height = _int(path, data, 'image_width'), _int(path, data, 'image_height')
        k = _matrix(path, data, 'camera_matrix', (3, 3))
        dist = data.get('distortion_coefficients')
        d = list(dist.get('data') or []) if isinstance(dist, dict) else []
        frame_id = DEFAULT_FRAME
    elif 'k' in data or 'K' in data:
        layout = 'camera_info'
        width, height = _int(path, data, 'width'), _int(path, data, 'height')
        k = list(data.get('k', data.get('K')) or [])
        d = list(data.get('d', data.get('D')) or [])
        header = data.get('header')
        frame_id = (header.get('frame_id') if isinstance(header, dict) else None) \
            or DEFAULT_FRAME
    else:
        raise CameraInfoError(f'{path}: neither a camera calibration file (camera_matrix, '
                              f'image_width, image_height) nor a CameraInfo message (k, '
                              f'width, height)')
    try:
        camera = from_camera_info_k([float(v) for v in k], width, height, str(frame_id))
    except (TypeError, ValueError) as exc:
        raise CameraInfoError(f'{path}: {exc}') from exc
    warnings = []
    try:
        distorted = bool(np.any(np.abs(np.asarray(d, dtype=float)) > 1e-9))
    except (TypeError, ValueError):
        raise CameraInfoError(f'{path}: distortion coefficients must be numbers, got {d!r}')
    if distorted:
        warnings.append(f'{path}: non-zero distortion coefficients are ignored: the detector '
                        f'expects rectified images')
    return CameraInfoFile(camera, layout, tuple(warnings))
