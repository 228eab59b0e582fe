# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Fixed-length float tuples (common.vectors) and the range of a parameter-table row."""

from kufenet_grasp.common.vectors import float2, float3, float4
from kufenet_grasp.runtime.parameter_table import check_spec, ParamSpec
import numpy as np
import pytest


def test_float_tuples_convert_any_sequence_and_check_its_length():
    assert float3(np.array([1, 2, 3], dtype=np.int64)) == (1.0, 2.0, 3.0)
    assert all(type(v) is float for v in float3(np.float32(v) for v in (0.5, 1, 2)))
    assert float2([0.5, 1]) == (0.5, 1.0)
    assert float4((0, 0, 0, 1)) == (0.0, 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match='tcp_offset.xyz must have 3 numbers, got 2'):
        float3([0.1, 0.2], 'tcp_offset.xyz')
    with pytest.raises(ValueError, match='must have 4 numbers, got 5'):
        float4(range(5))


def test_a_parameter_range_needs_both_bounds():
    spec = ParamSpec('rate_hz', 5.0, 'frames per second', low=0.1, high=30.0)
    assert spec.bounds == (0.1, 30.0)
    assert check_spec(spec, 40.0) == 'rate_hz must be in [0.1, 30.0], got 40.0'
    assert check_spec(spec, 30.0) is None
    assert ParamSpec('name', 'x', 'free text').bounds is None
    with pytest.raises(ValueError, match='rate_hz: give both low and high, or neither'):
        ParamSpec('rate_hz', 5.0, 'frames per second', low=0.1)
