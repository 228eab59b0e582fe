# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Declare a parameter table (:class:`ParamSpec` rows) on a node with ParameterDescriptors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kufenet_grasp.runtime.parameter_table import ParamSpec
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor


def declare_specs(node: Any, specs: Iterable[ParamSpec],
                  defaults: dict[str, Any] | None = None, *, strict: bool = False) -> None:
    """Declare every spec on ``node`` with a ParameterDescriptor (description, range, read-only).

    ``defaults`` replaces the table's defaults (e.g. from a test or the demo). Unlike rclpy's
    ``parameter_overrides``, values from YAML or the command line still win, as for any
    declared parameter. ``strict``: unknown names in ``defaults`` are an error.
    """
    specs = tuple(specs)
    defaults = defaults or {}
    if strict:
        unknown = sorted(set(defaults) - {spec.name for spec in specs})
        if unknown:
            raise ValueError(f'{node.get_name()}: unknown parameter defaults {unknown}')
    for spec in specs:
        text = spec.description
        if spec.choices:
            text += f" (one of: {', '.join(spec.choices)})"
        descriptor = ParameterDescriptor(description=text, read_only=spec.read_only)
        bounds = spec.bounds
        if bounds is not None and not isinstance(spec.default, bool):
            low, high = bounds
            if isinstance(spec.default, int):
                descriptor.integer_range = [IntegerRange(from_value=int(low),
                                                         to_value=int(high), step=1)]
            elif isinstance(spec.default, float):
                descriptor.floating_point_range = [FloatingPointRange(
                    from_value=float(low), to_value=float(high), step=0.0)]
        node.declare_parameter(spec.name, defaults.get(spec.name, spec.default), descriptor)
