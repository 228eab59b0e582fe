# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The Python status enum and the GraspStatus message define the same codes."""

import pathlib
import re

from kufenet_grasp.common.status import GraspStatus

MSG = pathlib.Path(__file__).resolve().parents[1] / 'kufenet_msgs' / 'msg' / 'GraspStatus.msg'


def test_enum_matches_message_constants():
    constants = dict(re.findall(r'^uint8 ([A-Z_]+)=(\d+)', MSG.read_text(), flags=re.M))
    assert {k: int(v) for k, v in constants.items()} == {s.name: s.value for s in GraspStatus}


def test_every_status_has_a_meaning():
    for status in GraspStatus:
        assert status.meaning and status.meaning[0].islower()
