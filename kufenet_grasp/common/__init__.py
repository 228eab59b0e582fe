# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Types every layer shares: grasp status codes, fixed-length float tuples, package files."""
