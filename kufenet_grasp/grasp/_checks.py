# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Small argument checks shared by the grasp modules."""

from __future__ import annotations

import numbers


def is_whole(value: object) -> bool:
    """Whether ``value`` is an integer number (an int, or a float with no fraction); no bools."""
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Integral):
        return True
    return isinstance(value, numbers.Real) and float(value).is_integer()
