# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""ROS-free frame checks behind the detector node's robustness.

Age, clock skew, image size, depth sign and unit hints, and raw depth values of a message.
"""

from types import SimpleNamespace

from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.detection.validation import (
    check_age,
    check_clock_skew,
    check_image_size,
    depth_unit_hint,
    frame_age_s,
)
from kufenet_grasp.runtime.image_encoding import depth_raw, ImageEncodingError
import numpy as np
import pytest


def test_age_counts_from_arrival_when_the_stamp_is_ahead():
    assert frame_age_s(10.0, 12.0) == pytest.approx(2.0)
    assert frame_age_s(100.0, 12.0, arrival_s=10.5) == pytest.approx(1.5)
    assert frame_age_s(10.0, 12.0, arrival_s=11.9) == pytest.approx(2.0)  # the older wins
    assert frame_age_s(10.0, 12.0, arrival_s=float('nan')) == pytest.approx(2.0)
    assert check_age(100.0, 12.0, 1.0, arrival_s=11.5) == []
    stale = check_age(100.0, 12.0, 1.0, arrival_s=10.5)
    assert stale[0].status == GraspStatus.STALE_DATA
    assert '1.500 s old' in stale[0].message and '88.000 s ahead' in stale[0].message


def test_clock_skew_is_reported_above_the_tolerance_only():
    assert check_clock_skew(10.4, 10.0, 0.5) == []
    assert check_clock_skew(5.0, 10.0, 0.5) == []  # late frames are the age check's business
    issue = check_clock_skew(3610.0, 10.0, 0.5)[0]
    assert '3600.000 s ahead' in issue.message and 'max_clock_skew_s 0.500' in issue.message


@pytest.mark.parametrize('size, fragment', [((1, 1), 'smaller than min_image_side_px 32'),
                                            ((640, 20), '640x20'),
                                            ((4000, 3000), '12.0 Mpx, more than')])
def test_image_size_limits(size, fragment):
    issue = check_image_size(*size, 'colour', 32, 3_145_728)[0]
    assert issue.status == GraspStatus.BAD_INPUT and fragment in issue.message
    assert check_image_size(2048, 1536, 'colour', 32, 3_145_728) == []


def test_depth_hints_name_the_range_and_the_likely_cause():
    assert 'sign is flipped' in depth_unit_hint(np.full((4, 4), -0.7, np.float32), '32FC1')
    assert '-0.700 to -0.700 m' in depth_unit_hint(np.full((4, 4), -0.7, np.float32), '32FC1')
    metres = np.array([[0, 1], [2, 1]], np.uint16)
    assert '16UC1 depth values are 1-2' in depth_unit_hint(metres, '16UC1')
    assert 'millimetres written as metres' in depth_unit_hint(
        np.full((4, 4), 750.0, np.float32), '32FC1')
    # plausible depth, all-invalid images and colour get no hint
    assert depth_unit_hint(np.full((4, 4), 700, np.uint16), '16UC1') is None
    assert depth_unit_hint(np.zeros((4, 4), np.uint16), '16UC1') is None
    assert depth_unit_hint(np.full((4, 4), np.nan, np.float32), '32FC1') is None
    assert depth_unit_hint(np.full((4, 4), 0.7, np.float32), '32FC1') is None
    assert depth_unit_hint(np.zeros((4, 4, 3), np.uint8), 'rgb8') is None


def _msg(array: np.ndarray, encoding: str, bigendian: bool = False) -> SimpleNamespace:
    data = array.astype(array.dtype.newbyteorder('>' if bigendian else '<')).tobytes()
    return SimpleNamespace(encoding=encoding, height=array.shape[0], width=array.shape[1],
                           step=len(data) // array.shape[0], data=data, is_bigendian=bigendian)


@pytest.mark.parametrize('bigendian', [False, True])
def test_depth_raw_returns_the_values_as_sent(bigendian):
    mm = np.array([[0, 700], [65535, 3]], np.uint16)
    np.testing.assert_array_equal(depth_raw(_msg(mm, '16UC1', bigendian)), mm)
    metres = np.array([[-0.5, np.nan], [0.0, 1.25]], np.float32)
    np.testing.assert_array_equal(depth_raw(_msg(metres, '32FC1', bigendian)), metres)
    with pytest.raises(ImageEncodingError, match='not a depth encoding'):
        depth_raw(_msg(np.zeros((2, 2), np.uint8), 'mono8'))
