# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Declarative node parameters: one table row per parameter, declared with a descriptor.

Shared by ``detector_params`` and ``executor_params``. The table (:class:`ParamSpec`) and
its check are ROS-free so tests and docs can read them;
``kufenet_grasp.nodes.parameter_declaration`` declares a table on a node.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: default (its type is the parameter type), range, choices, read-only."""

    name: str
    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    read_only: bool = False

    def __post_init__(self) -> None:
        if (self.low is None) != (self.high is None):
            raise ValueError(f'ParamSpec {self.name}: give both low and high, or neither')

    @property
    def bounds(self) -> tuple[float, float] | None:
        """(low, high) when the parameter has a range, else None."""
        if self.low is None or self.high is None:
            return None
        return self.low, self.high


def check_spec(spec: ParamSpec, value: Any) -> str | None:
    """Reason why ``value`` breaks the spec's choices, finiteness or range; None when it fits."""
    if spec.choices and value not in spec.choices:
        return f"{spec.name} must be one of {', '.join(spec.choices)}, got {value!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(float(value)):
            return f'{spec.name} must be finite, got {value!r}'
        bounds = spec.bounds
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            return f'{spec.name} must be in [{spec.low}, {spec.high}], got {value!r}'
    return None
