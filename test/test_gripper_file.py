# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The gripper file is the one definition of the hand: finger check, markers, sim, parameters."""

import math
import pathlib

from builtin_interfaces.msg import Time
from kufenet_grasp.detection import builder
from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.finger_clearance import FingerModel, fingers_clear
from kufenet_grasp.geometry.gripper import default_gripper, load_gripper
from kufenet_grasp.geometry.transforms import from_xyz_rpy
from kufenet_grasp.nodes import detector_params
from kufenet_grasp.nodes.markers import grasp_marker_array
from kufenet_grasp.sim import gripper as sim_gripper
from kufenet_grasp.sim import motion_backend, panda
import numpy as np
import pytest
from visualization_msgs.msg import Marker
import yaml

FRANKA = pathlib.Path(__file__).resolve().parents[1] / 'config' / 'grippers' / 'franka_hand.yaml'
CAM = PinholeCamera(600.0, 600.0, 319.5, 239.5, 640, 480)


class _Rect:
    center = (319.5, 239.5)
    angle = 0.0  # closing axis along image x


def _hand_file(tmp_path, **changes) -> pathlib.Path:
    data = {**yaml.safe_load(FRANKA.read_text()), **changes}
    path = tmp_path / 'my_hand.yaml'
    path.write_text(yaml.safe_dump(data))
    return path


def test_every_user_takes_the_franka_hand_from_its_file():
    hand = load_gripper(FRANKA)
    assert default_gripper() == hand
    defaults = {spec.name: spec.default for spec in detector_params.PARAMETERS}
    assert defaults['gripper.max_width_m'] == hand.max_width_m
    assert defaults['gripper.min_width_m'] == hand.min_width_m
    assert defaults['gripper.finger_thickness_m'] == hand.finger_thickness_m
    assert defaults['gripper.finger_width_m'] == hand.finger_width_m
    assert defaults['gripper.approach_margin_m'] == hand.width_margin_m
    assert builder.gripper_config(defaults) == hand
    fingers = FingerModel()
    assert (fingers.thickness_m, fingers.width_m, fingers.opening_margin_m) == \
        (hand.finger_thickness_m, hand.finger_width_m, hand.width_margin_m)
    assert motion_backend.FRANKA_HAND == hand and panda.MAX_FINGER_WIDTH_M == hand.max_width_m
    assert (sim_gripper.FINGER_THICKNESS, sim_gripper.FINGER_WIDTH, sim_gripper.FINGER_LENGTH) \
        == (hand.finger_thickness_m, hand.finger_width_m, hand.finger_length_m)
    assert sim_gripper.MAX_OPENING > hand.max_width_m


def test_the_finger_check_follows_the_file(tmp_path):
    depth = np.full((480, 640), 0.60, np.float32)  # a table 0.6 m away
    depth[:, 360:] = 0.55  # something 5 cm up from 40 px (4 cm) right of the grasp centre
    shipped = FingerModel.from_gripper(load_gripper(FRANKA))
    # a 3 cm opening + 2 cm margin: the right finger spans 2.5-3.5 cm, clear of the step
    assert fingers_clear(_Rect(), 0.58, 0.03, depth, CAM, shipped)[0]
    thick = FingerModel.from_gripper(load_gripper(_hand_file(tmp_path, finger_thickness_m=0.03)))
    assert thick.thickness_m == 0.03
    assert not fingers_clear(_Rect(), 0.58, 0.03, depth, CAM, thick)[0]  # 2.5-5.5 cm
    wide_margin = load_gripper(_hand_file(tmp_path, width_margin_m=0.04))
    assert not fingers_clear(_Rect(), 0.58, 0.03, depth, CAM,
                             FingerModel.from_gripper(wide_margin))[0]  # 3.5-4.5 cm


def test_the_markers_follow_the_file(tmp_path):
    pose = from_xyz_rpy((0.4, 0.1, 0.2), (math.pi, 0.0, 0.3))
    hand = load_gripper(_hand_file(tmp_path, finger_thickness_m=0.015, finger_width_m=0.03,
                                   finger_length_m=0.07, max_width_m=0.1,
                                   command_at_max_width=0.05))
    for gripper, (thick, across, length) in ((None, (0.01, 0.02, 0.05)),
                                             (hand, (0.015, 0.03, 0.07))):
        markers = grasp_marker_array([(pose, 0.04), (pose, math.nan)], 'base_link', Time(),
                                     gripper=gripper).markers
        cubes = [m for m in markers if m.type == Marker.CUBE]
        finger = cubes[0]
        assert (finger.scale.x, finger.scale.y, finger.scale.z) == \
            pytest.approx((across, thick, length))
        centre = pose.inverse().apply([finger.pose.position.x, finger.pose.position.y,
                                       finger.pose.position.z])
        assert abs(centre[1]) == pytest.approx(0.02 + thick / 2)
        assert centre[2] == pytest.approx(-length / 2)
        # no width: half the largest opening between the fingers
        unknown = cubes[3]
        max_width = (gripper or default_gripper()).max_width_m
        centre = pose.inverse().apply([unknown.pose.position.x, unknown.pose.position.y,
                                       unknown.pose.position.z])
        assert abs(centre[1]) == pytest.approx(max_width / 4 + thick / 2)
