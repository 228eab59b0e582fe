# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The workspace box projected into the image as the detector's region of interest."""

from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.transforms import RigidTransform
from kufenet_grasp.geometry.workspace import WorkspaceBounds
from kufenet_grasp.geometry.workspace_roi import workspace_roi_px
import numpy as np
import pytest

CAMERA = PinholeCamera(600.0, 600.0, 320.0, 240.0, 640, 480)
#: a thin 0.2 m square on the table (base z = 0) around the origin
SQUARE = WorkspaceBounds((-0.1, -0.1, 0.0), (0.1, 0.1, 0.0001))


def _looking_down(height_m: float, x_m: float = 0.0) -> RigidTransform:
    """T_camera_base of a camera at (x_m, 0, height_m) m looking straight down."""
    # optical axes in the base frame: x = -y_base, y = -x_base, z = -z_base (right-handed)
    base_R_camera = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
    return RigidTransform(base_R_camera, np.array([x_m, 0.0, height_m])).inverse()


def _size(roi):
    return roi[2] - roi[0], roi[3] - roi[1]


def test_a_box_below_the_camera_projects_to_its_pinhole_size_around_the_centre():
    roi = workspace_roi_px(SQUARE, _looking_down(1.0), CAMERA)
    assert roi is not None
    assert _size(roi) == pytest.approx((120.0, 120.0), abs=0.5)  # 0.2 m * 600 px / 1 m
    assert ((roi[0] + roi[2]) / 2, (roi[1] + roi[3]) / 2) == pytest.approx((320, 240), abs=0.5)


def test_the_region_grows_as_the_camera_comes_closer_and_moves_with_it():
    near = workspace_roi_px(SQUARE, _looking_down(0.3), CAMERA)
    far = workspace_roi_px(SQUARE, _looking_down(1.5), CAMERA)
    assert _size(near) == pytest.approx((400.0, 400.0), abs=0.5)
    assert _size(far) == pytest.approx((80.0, 80.0), abs=0.5)
    moved = workspace_roi_px(SQUARE, _looking_down(1.0, x_m=0.1), CAMERA)
    # the camera 0.1 m further along base x sees the box 60 px lower (optical y = -x_base)
    assert moved[1] == pytest.approx(180.0 + 60.0, abs=0.5)


def test_a_box_larger_than_the_view_is_clipped_to_the_image():
    table = WorkspaceBounds((-2.0, -2.0, 0.0), (2.0, 2.0, 0.5))
    assert workspace_roi_px(table, _looking_down(1.0), CAMERA) == (0.0, 0.0, 639.0, 479.0)


def test_a_box_behind_the_camera_or_beside_the_view_gives_no_region():
    above = WorkspaceBounds((-0.1, -0.1, 2.0), (0.1, 0.1, 2.5))
    assert workspace_roi_px(above, _looking_down(1.0), CAMERA) is None
    aside = WorkspaceBounds((5.0, 5.0, 0.0), (5.2, 5.2, 0.1))
    assert workspace_roi_px(aside, _looking_down(1.0), CAMERA) is None


def test_bad_boxes_are_refused_with_a_message():
    with pytest.raises(ValueError, match='below max_xyz'):
        WorkspaceBounds((0.0, 0.0, 0.0), (0.1, -0.1, 0.1))
    with pytest.raises(ValueError, match='finite'):
        WorkspaceBounds((0.0, float('nan'), 0.0), (0.1, 0.1, 0.1))
