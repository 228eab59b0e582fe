# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Read a node's parameters from a ROS 2 parameters YAML file (``--params-file`` layout).

The file maps node names to ``ros__parameters``; nested keys become dotted parameter names
(``gripper: {max_width_m: 0.08}`` -> ``gripper.max_width_m``), as rclpy declares them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class ParamsFileError(ValueError):
    """The parameters file is missing, not YAML, or not in the ROS 2 layout."""


def _flatten(values: dict[str, Any], prefix: str = '') -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            out.update(_flatten(value, name + '.'))
        else:
            out[name] = value
    return out


def _matches(key: str, node_name: str) -> bool:
    """Return whether the file's node key applies to ``node_name`` in any namespace."""
    last = key.rstrip('/').rsplit('/', 1)[-1]
    return key in ('/**', '**') or last in (node_name, '*')


def read_params_file(path: str | Path, node_name: str) -> dict[str, Any]:
    """Parameter values the file gives ``node_name`` (dotted names; later keys win).

    Keys such as ``/**/grasp_detector``, ``grasp_detector``, ``/arm1/grasp_detector`` and
    ``/**`` all apply; the file's other nodes are ignored.

    Raises:
        ParamsFileError: unreadable file, bad YAML, or no ``ros__parameters`` for the node.

    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ParamsFileError(f'{path}: cannot read the parameters file ({exc.strerror})') \
            from exc
    except yaml.YAMLError as exc:
        raise ParamsFileError(f'{path}: not a YAML file ({str(exc).splitlines()[0]})') from exc
    if not isinstance(data, dict):
        raise ParamsFileError(f'{path}: expected a mapping of node names to ros__parameters')
    values: dict[str, Any] = {}
    found = False
    for key, entry in data.items():
        if not _matches(str(key), node_name):
            continue
        params = entry.get('ros__parameters') if isinstance(entry, dict) else None
        if not isinstance(params, dict):
            raise ParamsFileError(f"{path}: entry '{key}' has no ros__parameters mapping")
        values.update(_flatten(params))
        found = True
    if not found:
        raise ParamsFileError(f'{path}: no parameters for {node_name} (expected a key such as '
                              f"'/**/{node_name}' with ros__parameters)")
    return values
