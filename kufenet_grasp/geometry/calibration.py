# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Static camera mount calibration (camera frame in a parent frame) loaded from YAML.

File format (translation in metres; exactly one of the two rotation keys, radians)::

    parent_frame: base_link
    child_frame: camera_color_optical_frame
    translation: [0.5, 0.0, 0.6]
    rotation_quaternion: [x, y, z, w]     # or: rotation_rpy: [roll, pitch, yaw]

The transform is T_parent_child: it maps points in ``child_frame`` into ``parent_frame``.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from pathlib import Path
from typing import Any

from kufenet_grasp.geometry.transforms import from_xyz_quat, from_xyz_rpy, RigidTransform
import yaml


class CalibrationError(ValueError):
    """A calibration file is missing, unreadable or invalid (the message names the file)."""


@dataclass(frozen=True)
class StaticMount:
    """A static transform T_parent_child between two named frames."""

    parent_frame: str
    child_frame: str
    transform: RigidTransform


def _numbers(path: Path, key: str, value: Any, count: int) -> list[float]:
    if not isinstance(value, (list, tuple)) or len(value) != count:
        raise CalibrationError(f"{path}: '{key}' must be a list of {count} numbers, "
                               f'got {value!r}')
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, float)) \
                or not math.isfinite(item):
            raise CalibrationError(f"{path}: '{key}' must hold finite numbers, got {value!r}")
        out.append(float(item))
    return out


def parse_static_mount(data: Any, path: str | Path = '<calibration>') -> StaticMount:
    """Validate a parsed calibration mapping (see module docstring) into a :class:`StaticMount`."""
    path = Path(path)
    if not isinstance(data, dict):
        raise CalibrationError(f'{path}: expected a YAML mapping with parent_frame, child_frame, '
                               f'translation and a rotation, got {type(data).__name__}')
    for key in ('parent_frame', 'child_frame'):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise CalibrationError(f"{path}: '{key}' must be a non-empty frame name")
    if data['parent_frame'] == data['child_frame']:
        raise CalibrationError(f'{path}: parent_frame and child_frame are both '
                               f"'{data['parent_frame']}'")
    if 'translation' not in data:
        raise CalibrationError(f"{path}: missing 'translation: [x, y, z]' (metres)")
    xyz = _numbers(path, 'translation', data['translation'], 3)
    has_q, has_rpy = 'rotation_quaternion' in data, 'rotation_rpy' in data
    if has_q == has_rpy:
        raise CalibrationError(f"{path}: give exactly one of 'rotation_quaternion: [x, y, z, w]' "
                               f"or 'rotation_rpy: [roll, pitch, yaw]' (radians)")
    try:
        if has_q:
            q = _numbers(path, 'rotation_quaternion', data['rotation_quaternion'], 4)
            transform = from_xyz_quat(xyz, q)
        else:
            transform = from_xyz_rpy(xyz, _numbers(path, 'rotation_rpy', data['rotation_rpy'], 3))
    except ValueError as exc:
        if isinstance(exc, CalibrationError):
            raise
        raise CalibrationError(f'{path}: {exc}') from exc
    return StaticMount(data['parent_frame'].strip(), data['child_frame'].strip(), transform)


def load_static_mount(path: str | Path) -> StaticMount:
    """Load and validate a camera mount calibration YAML file.

    Raises:
        CalibrationError: the file is missing, is not valid YAML, or its content is invalid.

    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise CalibrationError(f'{path}: cannot read calibration file ({exc.strerror})') from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CalibrationError(f'{path}: not valid YAML: {exc}') from exc
    return parse_static_mount(data, path)
