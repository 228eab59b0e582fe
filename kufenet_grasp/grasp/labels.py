# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Read and write grasp label files: Cornell ``cpos.txt`` and Jacquard ``_grasps.txt``.

All coordinates are image pixels (x right, y down); angles in our convention (rad,
counter-clockwise as displayed). A Jacquard ``theta`` (degrees) is the same angle negated.
"""

from __future__ import annotations

from collections.abc import Iterable
import math

from kufenet_grasp.grasp.rectangle import GraspRectangle
import numpy as np

_DECIMALS = 6


def _fmt(value: float) -> str:
    """Shortest text of ``value`` rounded to 1e-6 (no ``-0.0``)."""
    return repr(round(float(value), _DECIMALS) + 0.0)


def _content_lines(text: str) -> list[tuple[int, str]]:
    """Non-blank lines with their 1-based line numbers."""
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)
            if line.strip()]


def parse_cornell_rectangles(text: str, source: str = '<text>'
                             ) -> tuple[list[GraspRectangle], int]:
    """Parse a Cornell rectangle file: 4 lines ``"x y"`` (pixels) per rectangle.

    Args:
        text: file contents.
        source: file name used in error messages.

    Returns:
        ``(rectangles, n_dropped)``: rectangles whose corners are all finite, and how many
        were dropped because a corner was NaN/inf.

    Raises:
        ValueError: a line is not two numbers, or the line count is not a multiple of 4.
    """
    lines = _content_lines(text)
    if len(lines) % 4:
        raise ValueError(f'{source}: {len(lines)} non-blank lines is not a multiple of 4 '
                         f'(4 corner lines per rectangle)')
    points = np.empty((len(lines), 2), dtype=np.float64)
    for i, (number, line) in enumerate(lines):
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"{source}:{number}: expected 'x y', got {line!r}")
        try:
            points[i] = [float(fields[0]), float(fields[1])]
        except ValueError as exc:
            raise ValueError(f'{source}:{number}: not a number in {line!r}') from exc
    rects: list[GraspRectangle] = []
    dropped = 0
    for corners in points.reshape(-1, 4, 2):
        if not np.all(np.isfinite(corners)):
            dropped += 1
            continue
        rects.append(GraspRectangle.from_corners(corners))
    return rects, dropped


def format_cornell_rectangles(rects: Iterable[GraspRectangle]) -> str:
    """Cornell text for ``rects``: 4 lines ``"x y"`` (pixels) per rectangle, p0 first."""
    out = []
    for rect in rects:
        for x, y in rect.corners():
            out.append(f'{_fmt(x)} {_fmt(y)}\n')
    return ''.join(out)


def parse_jacquard_grasps(text: str, source: str = '<text>', dedupe: bool = False
                          ) -> list[GraspRectangle]:
    """Parse Jacquard lines ``"x;y;theta_deg;opening;jaw"`` (pixels, y down).

    The angle is ``-radians(theta_deg)`` (GR-ConvNet). With ``dedupe`` a row repeating an
    earlier grasp (same x, y, theta and opening, another jaw size) is skipped, keeping the
    first row (Jacquard's default jaw).

    Raises:
        ValueError: naming ``source`` and the line for a malformed or non-finite row.
    """
    rects: list[GraspRectangle] = []
    seen: set[tuple[float, float, float, float]] = set()
    for number, line in _content_lines(text):
        fields = line.split(';')
        if len(fields) != 5:
            raise ValueError(f"{source}:{number}: expected 'x;y;theta;opening;jaw', "
                             f'got {line!r}')
        try:
            x, y, theta, opening, jaw = (float(f) for f in fields)
        except ValueError as exc:
            raise ValueError(f'{source}:{number}: not a number in {line!r}') from exc
        if not all(math.isfinite(v) for v in (x, y, theta, opening, jaw)):
            raise ValueError(f'{source}:{number}: non-finite value in {line!r}')
        if opening < 0 or jaw < 0:
            raise ValueError(f'{source}:{number}: negative opening or jaw in {line!r}')
        if dedupe:
            key = (x, y, theta, opening)
            if key in seen:
                continue
            seen.add(key)
        rects.append(GraspRectangle(center=(x, y), angle=-math.radians(theta),
                                    opening=opening, jaw=jaw))
    return rects


def format_jacquard_grasps(rects: Iterable[GraspRectangle]) -> str:
    """Jacquard text for ``rects``, the inverse of :func:`parse_jacquard_grasps`.

    Values are rounded to 1e-6; ``theta`` (degrees) = ``-degrees(angle)`` in (-90, 90].
    """
    out = []
    for r in rects:
        values = (r.center[0], r.center[1], -math.degrees(r.angle), r.opening, r.jaw)
        out.append(';'.join(_fmt(v) for v in values) + '\n')
    return ''.join(out)
