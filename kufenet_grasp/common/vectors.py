# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Fixed-length float tuples (positions, quaternions, colours) from any sequence of numbers.

Frozen dataclasses hold 3-vectors and quaternions as ``tuple[float, float, float]`` and the
like; these build such a tuple from a list, an array or a generator and check its length.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import SupportsFloat


def floats(values: Iterable[SupportsFloat], count: int, name: str = 'value'
           ) -> tuple[float, ...]:
    """``values`` as a tuple of ``count`` Python floats; ValueError naming ``name`` otherwise."""
    out = tuple(float(v) for v in values)
    if len(out) != count:
        raise ValueError(f'{name} must have {count} numbers, got {len(out)}')
    return out


def float2(values: Iterable[SupportsFloat], name: str = 'value') -> tuple[float, float]:
    """Two numbers as a tuple of floats."""
    a, b = floats(values, 2, name)
    return a, b


def float3(values: Iterable[SupportsFloat], name: str = 'value'
           ) -> tuple[float, float, float]:
    """Three numbers (a position in metres, an RGB colour, ...) as a tuple of floats."""
    a, b, c = floats(values, 3, name)
    return a, b, c


def float4(values: Iterable[SupportsFloat], name: str = 'value'
           ) -> tuple[float, float, float, float]:
    """Four numbers (a quaternion x, y, z, w, an RGBA colour) as a tuple of floats."""
    a, b, c, d = floats(values, 4, name)
    return a, b, c, d
