# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Where the package's data files (``config/``, ``models/``) are: installed share or source tree.

An installed package (``colcon build``, a Debian package) has them under
``<prefix>/share/kufenet_grasp``; a source checkout has them next to the ``kufenet_grasp``
folder. The share is found as ``ament_index_python.get_package_share_directory`` finds it (the
first prefix on ``AMENT_PREFIX_PATH`` that registers the package in the ament resource
index), read here directly so that the layers without ROS find the same files.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = 'kufenet_grasp'
#: the source checkout's root (its ``config/`` and ``models/`` exist in a checkout only)
SOURCE_ROOT = Path(__file__).resolve().parents[2]


def share_dir() -> Path | None:
    """Return the installed ``share/kufenet_grasp`` folder, or None when it is not installed."""
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        if prefix and (Path(prefix) / 'share' / 'ament_index' / 'resource_index' / 'packages'
                       / PACKAGE).is_file():
            return Path(prefix) / 'share' / PACKAGE
    return None


def package_roots() -> list[Path]:
    """Folders searched for data files, in order: the installed share, the source checkout."""
    share = share_dir()
    return ([share] if share is not None else []) + [SOURCE_ROOT]


def find_package_file(*parts: str) -> Path | None:
    """Return the first existing ``<root>/<parts...>`` of :func:`package_roots`, or None."""
    return next((root.joinpath(*parts) for root in package_roots()
                 if root.joinpath(*parts).exists()), None)


def package_file(*parts: str) -> Path:
    """Like :func:`find_package_file`, but a missing file raises a one-line FileNotFoundError."""
    found = find_package_file(*parts)
    if found is None:
        where = ', '.join(str(root) for root in package_roots())
        raise FileNotFoundError(f"{'/'.join(parts)} not found under {where}")
    return found
