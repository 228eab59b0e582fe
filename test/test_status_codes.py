# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The Python status enum and the GraspStatus message define the same codes and meanings."""

import pathlib
import re

from kufenet_grasp.common.status import GraspStatus, STATUS_MEANINGS

MSG = pathlib.Path(__file__).resolve().parents[1] / 'kufenet_msgs' / 'msg' / 'GraspStatus.msg'


def test_enum_matches_message_constants():
    constants = dict(re.findall(r'^uint8 ([A-Z_]+)=(\d+)', MSG.read_text(), flags=re.M))
    assert {k: int(v) for k, v in constants.items()} == {s.name: s.value for s in GraspStatus}


def test_every_status_has_a_meaning():
    for status in GraspStatus:
        assert status.meaning and status.meaning[0].islower()


def test_meanings_are_the_message_comments():
    """One meaning per status: the comment of its constant in GraspStatus.msg."""
    comments = dict(re.findall(r'^uint8 ([A-Z_]+)=\d+\s+# (.+)$', MSG.read_text(), flags=re.M))
    assert {s.name: STATUS_MEANINGS[s] for s in GraspStatus} == {
        k: v.strip() for k, v in comments.items()}


def test_a_status_becomes_its_message_and_back_in_one_place():
    from kufenet_grasp.nodes.ros_conversions import status_msg, status_of
    from kufenet_msgs.msg import GraspStatus as GraspStatusMsg

    for status in GraspStatus:
        msg = status_msg(status, status.meaning)
        assert msg.code == getattr(GraspStatusMsg, status.name) and msg.message == status.meaning
        assert status_of(msg) is status
    assert status_of(GraspStatusMsg(code=200)) is GraspStatus.BAD_INPUT  # a newer peer's code
