# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Declarative node parameters: one table row per parameter, declared with a descriptor.

Shared by ``detector_params`` and ``executor_params``. The table (:class:`ParamSpec`) is
ROS-free so tests and docs can read it; :func:`declare_specs` imports rcl_interfaces lazily.
"""

from __future__ import annotations

from collections.abc import Iterable
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


def declare_specs(node: Any, specs: Iterable[ParamSpec],
                  overrides: dict[str, Any] | None = None, *, strict: bool = False) -> None:
    """Declare every spec on ``node`` with a ParameterDescriptor (description, range, read-only).

    ``overrides`` replaces defaults (e.g. from a test); values from YAML or the command line
    still win, as for any declared parameter. ``strict``: unknown override names are an error.
    """
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

    specs = tuple(specs)
    overrides = overrides or {}
    if strict:
        unknown = sorted(set(overrides) - {spec.name for spec in specs})
        if unknown:
            raise ValueError(f'{node.get_name()}: unknown parameter overrides {unknown}')
    for spec in specs:
        text = spec.description
        if spec.choices:
            text += f" (one of: {', '.join(spec.choices)})"
        descriptor = ParameterDescriptor(description=text, read_only=spec.read_only)
        if spec.low is not None and not isinstance(spec.default, bool):
            if isinstance(spec.default, int):
                descriptor.integer_range = [IntegerRange(from_value=int(spec.low),
                                                         to_value=int(spec.high), step=1)]
            elif isinstance(spec.default, float):
                descriptor.floating_point_range = [FloatingPointRange(
                    from_value=float(spec.low), to_value=float(spec.high), step=0.0)]
        node.declare_parameter(spec.name, overrides.get(spec.name, spec.default), descriptor)


def check_spec(spec: ParamSpec, value: Any) -> str | None:
    """Reason why ``value`` breaks the spec's choices, finiteness or range; None when it fits."""
    if spec.choices and value not in spec.choices:
        return f"{spec.name} must be one of {', '.join(spec.choices)}, got {value!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(float(value)):
            return f'{spec.name} must be finite, got {value!r}'
        if spec.low is not None and not spec.low <= value <= spec.high:
            return f'{spec.name} must be in [{spec.low}, {spec.high}], got {value!r}'
    return None
