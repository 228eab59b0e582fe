# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Depth images from the Cornell PCD v0.7 ASCII point clouds (``pcdNNNN.txt``)."""

from __future__ import annotations

from pathlib import Path

from kufenet_grasp.data.sample import DatasetError
import numpy as np

#: fields a Cornell point cloud must have
REQUIRED_FIELDS = ('x', 'y', 'z', 'index')


def _parse_header(lines: list[str], path: Path) -> tuple[list[str], int]:
    """Return the field names and the number of header lines; raise on a wrong header."""
    fields: list[str] | None = None
    for number, line in enumerate(lines):
        words = line.split()
        if not words or words[0].startswith('#'):
            continue
        key = words[0].upper()
        if key == 'FIELDS':
            fields = [w.lower() for w in words[1:]]
        elif key == 'DATA':
            if len(words) < 2 or words[1].lower() != 'ascii':
                raise DatasetError(
                    f"{path}: line {number + 1}: only 'DATA ascii' point clouds are supported, "
                    f'got {line.strip()!r}'
                )
            if fields is None:
                raise DatasetError(f'{path}: PCD header has no FIELDS line before DATA')
            missing = [f for f in REQUIRED_FIELDS if f not in fields]
            if missing:
                raise DatasetError(
                    f'{path}: PCD FIELDS {fields} lack {missing}; expected x y z rgb index'
                )
            return fields, number + 1
        elif key not in ('VERSION', 'SIZE', 'TYPE', 'COUNT', 'WIDTH', 'HEIGHT',
                         'VIEWPOINT', 'POINTS'):
            raise DatasetError(
                f'{path}: line {number + 1}: not a PCD header line: {line.strip()[:60]!r}'
            )
    raise DatasetError(f"{path}: no 'DATA ascii' line; not a PCD v0.7 file")


def pcd_to_depth(path: str | Path, shape: tuple[int, int] = (480, 640)) -> np.ndarray:
    """Build a depth image from a Cornell ASCII point cloud.

    Each point's ``index`` field gives its pixel: ``row = index // width``,
    ``col = index % width`` (width 640 in the real release). Depth is the Euclidean norm of
    the point's (x, y, z), which Cornell gives in millimetres in the robot base frame,
    divided by 1000 (GG-CNN's convention). Pixels without a point are NaN.

    Args:
        path: the ``pcdNNNN.txt`` file.
        shape: ``(height, width)`` of the matching colour image in pixels.

    Returns:
        ``float32`` H×W depth in metres.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: point cloud not found')
    lines = path.read_text(errors='replace').splitlines()
    fields, start = _parse_header(lines, path)
    body = [line for line in lines[start:] if line.strip()]
    if not body:
        raise DatasetError(f'{path}: the point cloud has no points')
    try:
        points = np.loadtxt(body, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise DatasetError(f'{path}: bad point data after the header ({exc})') from None
    if points.shape[1] != len(fields):
        raise DatasetError(
            f'{path}: points have {points.shape[1]} values but FIELDS lists {len(fields)}'
        )
    height, width = shape
    index = points[:, fields.index('index')]
    if np.any(index < 0) or np.any(index >= height * width) or np.any(index != np.round(index)):
        raise DatasetError(
            f'{path}: point index outside 0..{height * width - 1} for a {width}×{height} image'
        )
    xyz = points[:, [fields.index('x'), fields.index('y'), fields.index('z')]]
    norm = np.linalg.norm(xyz, axis=1) / 1000.0
    depth = np.full(height * width, np.nan, dtype=np.float32)
    depth[index.astype(np.int64)] = norm.astype(np.float32)
    depth[~(depth > 0)] = np.nan
    return depth.reshape(height, width)
