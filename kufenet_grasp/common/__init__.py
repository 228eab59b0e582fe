# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Types every layer shares: the grasp status codes of the detector, the service and the action."""
