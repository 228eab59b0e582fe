# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""deploy."""
