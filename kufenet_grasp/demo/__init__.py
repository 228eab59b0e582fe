# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The simulated pick-and-place demo (``kufenet demo`` / ``make demo``) and its report."""
