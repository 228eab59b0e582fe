# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""A parallel-jaw gripper's geometry and command mapping: the ONE place that knows the hand.

Loaded from ``config/grippers/<name>.yaml`` and used by the detector's finger check, the RViz
markers, the simulator and the executor. The command mapping is linear between two
calibration points (opening m -> command), which covers the Franka hand (command = finger
joint position = width / 2, 0-0.08 m), the Robotiq 2F-85 (0 m -> 0.8 rad, 0.085 m -> 0 rad)
and any linear gripper. The file::

    name: franka_hand
    joint: panda_finger_joint1      # the commanded joint (informational)
    command_unit: m                 # unit of the command (m per finger, rad, ...)
    min_width_m: 0.0                # smallest opening between the finger pads (m)
    max_width_m: 0.08               # largest opening (m)
    command_at_min_width: 0.0       # command that gives min_width_m
    command_at_max_width: 0.04      # command that gives max_width_m
    width_margin_m: 0.02            # opening added to the object width before the approach
    squeeze_m: 0.005                # the close command aims this far inside the object width
    max_effort_n: 70.0              # grasp force (N), for backends that take one
    finger_thickness_m: 0.01        # finger size along the closing axis (m)
    finger_width_m: 0.02            # finger size across the closing axis (m)
    finger_length_m: 0.05           # finger length along the approach axis (m)

Every key but ``joint``, ``command_unit`` and ``max_effort_n`` is required.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
import math
from pathlib import Path
from typing import Any

from kufenet_grasp.common.package_files import find_package_file
import numpy as np
import yaml

#: the gripper of the shipped configuration (the Panda's Franka hand)
DEFAULT_GRIPPER = 'franka_hand'

_NUMBERS = ('min_width_m', 'max_width_m', 'command_at_min_width', 'command_at_max_width',
            'width_margin_m', 'squeeze_m', 'max_effort_n', 'finger_thickness_m',
            'finger_width_m', 'finger_length_m')
_REQUIRED = ('name', 'min_width_m', 'max_width_m', 'command_at_min_width',
             'command_at_max_width', 'width_margin_m', 'squeeze_m', 'finger_thickness_m',
             'finger_width_m', 'finger_length_m')


@dataclass(frozen=True)
class GripperConfig:
    """A gripper file: openings (m, between the finger pads), command mapping, finger sizes (m)."""

    name: str
    min_width_m: float
    max_width_m: float
    command_at_min_width: float
    command_at_max_width: float
    width_margin_m: float
    squeeze_m: float
    finger_thickness_m: float
    finger_width_m: float
    finger_length_m: float
    max_effort_n: float = 0.0
    joint: str = ''
    command_unit: str = ''

    def __post_init__(self) -> None:
        for key in _NUMBERS:
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f'gripper {self.name!r}: {key} must be a finite number, '
                                 f'got {value!r}')
        if not 0.0 <= self.min_width_m < self.max_width_m:
            raise ValueError(f'gripper {self.name!r}: need 0 <= min_width_m < max_width_m, got '
                             f'{self.min_width_m} and {self.max_width_m}')
        if self.command_at_min_width == self.command_at_max_width:
            raise ValueError(f'gripper {self.name!r}: command_at_min_width and '
                             f'command_at_max_width must differ')
        for key in ('width_margin_m', 'squeeze_m', 'max_effort_n'):
            if getattr(self, key) < 0:
                raise ValueError(f'gripper {self.name!r}: {key} must be >= 0, '
                                 f'got {getattr(self, key)}')
        for key in ('finger_thickness_m', 'finger_width_m', 'finger_length_m'):
            if getattr(self, key) <= 0:
                raise ValueError(f'gripper {self.name!r}: {key} must be > 0 m, '
                                 f'got {getattr(self, key)}')

    def clamp_width(self, width_m: float) -> float:
        """``width_m`` clamped to [min_width_m, max_width_m]; NaN gives max_width_m."""
        if math.isnan(width_m):
            return self.max_width_m
        return float(np.clip(width_m, self.min_width_m, self.max_width_m))

    def command_for_width(self, width_m: float) -> float:
        """Command (the gripper's unit) for an opening of ``width_m`` m (clamped to limits)."""
        w = self.clamp_width(width_m)
        t = (w - self.min_width_m) / (self.max_width_m - self.min_width_m)
        return float(self.command_at_min_width
                     + t * (self.command_at_max_width - self.command_at_min_width))

    def width_for_command(self, command: float) -> float:
        """Return the opening (m) that ``command`` gives (clamped to its range first)."""
        lo, hi = sorted((self.command_at_min_width, self.command_at_max_width))
        c = float(np.clip(command, lo, hi))
        t = (c - self.command_at_min_width) / (self.command_at_max_width
                                               - self.command_at_min_width)
        return float(self.min_width_m + t * (self.max_width_m - self.min_width_m))

    def fits(self, object_width_m: float) -> bool:
        """Whether an object of this width (m) plus the margin fits between open fingers."""
        return math.isnan(object_width_m) or \
            object_width_m + self.width_margin_m <= self.max_width_m

    def open_command(self, object_width_m: float = math.nan) -> float:
        """Command opening to the object width plus margin (fully open when NaN)."""
        if math.isnan(object_width_m):
            return self.command_for_width(self.max_width_m)
        return self.command_for_width(object_width_m + self.width_margin_m)

    def close_command(self, object_width_m: float = math.nan) -> float:
        """Command closing to the object width minus the squeeze (fully closed when NaN)."""
        if math.isnan(object_width_m):
            return self.command_for_width(self.min_width_m)
        return self.command_for_width(object_width_m - self.squeeze_m)

    def release_command(self) -> float:
        """Command opening the gripper fully (release at the place pose)."""
        return self.command_for_width(self.max_width_m)


def gripper_from_dict(data: dict[str, Any], source: str = '<dict>') -> GripperConfig:
    """Return a GripperConfig from a mapping with the YAML keys (see module docstring)."""
    if not isinstance(data, dict):
        raise ValueError(f'{source}: gripper config must be a mapping, got '
                         f'{type(data).__name__}')
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ValueError(f"{source}: gripper config lacks {', '.join(missing)}")
    known = set(GripperConfig.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f'{source}: unknown gripper keys {unknown}; known: {sorted(known)}')
    try:
        values: dict[str, Any] = {k: (float(v) if k in _NUMBERS else str(v))
                                  for k, v in data.items()}
        return GripperConfig(**values)
    except (TypeError, ValueError) as err:
        raise ValueError(f'{source}: {err}') from err


def gripper_path(name_or_path: str | Path) -> Path:
    """Return a gripper file: a path (``.yaml``/``.yml`` or with a ``/``) or a shipped name.

    A name is ``config/grippers/<name>.yaml`` in the installed share, else in the source
    checkout (:mod:`kufenet_grasp.common.package_files`).
    """
    value = str(name_or_path)
    if isinstance(name_or_path, Path) or value.endswith(('.yaml', '.yml')) or '/' in value:
        return Path(value)
    found = find_package_file('config', 'grippers', f'{value}.yaml')
    if found is None:
        raise FileNotFoundError(f"unknown gripper '{value}': the shipped ones are "
                                f"{', '.join(shipped_grippers()) or 'none'}; or give a gripper "
                                f'file (.yaml path)')
    return found


def shipped_grippers() -> list[str]:
    """Names of the gripper files shipped in ``config/grippers/`` (sorted)."""
    folder = find_package_file('config', 'grippers')
    return sorted(p.stem for p in folder.glob('*.yaml')) if folder is not None else []


def load_gripper(name_or_path: str | Path) -> GripperConfig:
    """Load a GripperConfig from a YAML file or a shipped name (see :func:`gripper_path`).

    Raises:
        FileNotFoundError: no such file or shipped name; ValueError: unreadable, not YAML or
            not a valid gripper (each with a one-line message naming the file).

    """
    p = gripper_path(name_or_path)
    if not p.is_file():
        raise FileNotFoundError(f'gripper config {str(p)!r} does not exist')
    try:
        data = yaml.safe_load(p.read_text())
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f'{p}: cannot read the gripper file: {err}') from err
    except yaml.YAMLError as err:
        raise ValueError(f'{p}: not valid YAML: {" ".join(str(err).split())}') from err
    return gripper_from_dict(data, str(p))


@lru_cache(maxsize=None)
def default_gripper() -> GripperConfig:
    """Return the shipped configuration's gripper (:data:`DEFAULT_GRIPPER`), read once."""
    return load_gripper(DEFAULT_GRIPPER)
