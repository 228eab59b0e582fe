# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Gripper mapping (both directions, clamping, YAML) and the pure pre-planning checks."""

import math
import pathlib

from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.execution.checks import (
    approach_angle_rad,
    check_age,
    check_approach_angle,
    check_quality,
    check_width,
    check_workspace,
    clamp_width,
)
from kufenet_grasp.geometry.gripper import gripper_from_dict, GripperConfig, load_gripper
from kufenet_grasp.geometry.transforms import from_xyz_rpy
from kufenet_grasp.geometry.workspace import WorkspaceBounds
import numpy as np
import pytest

GRIPPERS = pathlib.Path(__file__).resolve().parents[1] / 'config' / 'grippers'


@pytest.fixture(scope='module')
def franka() -> GripperConfig:
    return load_gripper(GRIPPERS / 'franka_hand.yaml')


@pytest.fixture(scope='module')
def robotiq() -> GripperConfig:
    return load_gripper(GRIPPERS / 'robotiq_2f85.yaml')


def test_franka_command_is_half_the_width_per_finger(franka):
    for width in (0.0, 0.02, 0.05, 0.08):
        assert franka.command_for_width(width) == pytest.approx(width / 2)
        assert franka.width_for_command(width / 2) == pytest.approx(width)


def test_robotiq_maps_open_to_zero_and_closed_to_point_eight_rad(robotiq):
    assert robotiq.command_for_width(0.085) == pytest.approx(0.0)
    assert robotiq.command_for_width(0.0) == pytest.approx(0.8)
    mid = robotiq.command_for_width(0.0425)
    assert mid == pytest.approx(0.4)
    assert robotiq.width_for_command(mid) == pytest.approx(0.0425)


@pytest.mark.parametrize('name', ['franka_hand.yaml', 'robotiq_2f85.yaml'])
def test_round_trip_and_clamping(name):
    grip = load_gripper(GRIPPERS / name)
    for width in np.linspace(grip.min_width_m, grip.max_width_m, 7):
        assert grip.width_for_command(grip.command_for_width(width)) == pytest.approx(width)
    assert grip.command_for_width(1.0) == pytest.approx(grip.command_for_width(grip.max_width_m))
    assert grip.command_for_width(-1.0) == pytest.approx(
        grip.command_for_width(grip.min_width_m))
    assert grip.width_for_command(99.0) in (pytest.approx(grip.min_width_m),
                                            pytest.approx(grip.max_width_m))
    assert grip.command_for_width(math.nan) == pytest.approx(grip.release_command())


def test_open_close_commands_use_margin_and_squeeze(franka):
    assert franka.open_command(0.04) == pytest.approx((0.04 + franka.width_margin_m) / 2)
    assert franka.close_command(0.04) == pytest.approx((0.04 - franka.squeeze_m) / 2)
    assert franka.close_command(math.nan) == pytest.approx(0.0)
    assert franka.fits(0.06) and not franka.fits(0.075)


def test_bad_gripper_configs_raise_naming_the_problem(tmp_path):
    base = {'name': 'g', 'min_width_m': 0.0, 'max_width_m': 0.1, 'command_at_min_width': 0.0,
            'command_at_max_width': 1.0, 'width_margin_m': 0.02, 'squeeze_m': 0.005,
            'finger_thickness_m': 0.01, 'finger_width_m': 0.02, 'finger_length_m': 0.05}
    assert gripper_from_dict(base).finger_length_m == 0.05
    with pytest.raises(ValueError, match='lacks max_width_m'):
        gripper_from_dict({k: v for k, v in base.items() if k != 'max_width_m'})
    with pytest.raises(ValueError, match='min_width_m < max_width_m'):
        gripper_from_dict({**base, 'min_width_m': 0.2})
    with pytest.raises(ValueError, match='must differ'):
        gripper_from_dict({**base, 'command_at_max_width': 0.0})
    with pytest.raises(ValueError, match='unknown gripper keys'):
        gripper_from_dict({**base, 'colour': 'red'})
    with pytest.raises(ValueError, match='finger_width_m must be > 0 m'):
        gripper_from_dict({**base, 'finger_width_m': 0.0})
    with pytest.raises(ValueError, match='must be a mapping'):
        gripper_from_dict(['not', 'a', 'mapping'])
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_gripper(tmp_path / 'none.yaml')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('name: [unclosed\n')
    with pytest.raises(ValueError, match='bad.yaml'):
        load_gripper(bad)


BOUNDS = WorkspaceBounds((0.2, -0.3, 0.0), (0.8, 0.3, 0.5))


def test_workspace_box_contains_and_reports():
    assert check_workspace((0.5, 0.0, 0.1), BOUNDS, 'grasp').ok
    result = check_workspace((0.9, 0.0, 0.1), BOUNDS, 'grasp')
    assert not result.ok and result.status == GraspStatus.OUT_OF_WORKSPACE
    assert 'grasp' in result.message and 'outside' in result.message
    assert not check_workspace((0.5, 0.0, math.nan), BOUNDS, 'grasp').ok
    with pytest.raises(ValueError, match='below max_xyz'):
        WorkspaceBounds((0.0, 0.0, 0.0), (1.0, -1.0, 1.0))


def test_approach_angle_against_straight_down():
    down = from_xyz_rpy((0.5, 0, 0.1), (math.pi, 0.0, 0.0))
    tilted = from_xyz_rpy((0.5, 0, 0.1), (math.pi - math.radians(40), 0.0, 0.0))
    assert approach_angle_rad(down) == pytest.approx(0.0, abs=1e-9)
    assert approach_angle_rad(tilted) == pytest.approx(math.radians(40))
    assert check_approach_angle(down, math.radians(30)).ok
    result = check_approach_angle(tilted, math.radians(30))
    assert result.status == GraspStatus.OUT_OF_WORKSPACE and '40.0 deg' in result.message


def test_age_quality_width():
    assert check_age(10.0, 10.5, 1.0).ok
    assert check_age(10.0, 12.5, 1.0).status == GraspStatus.STALE_DATA
    assert check_age(10.0, 99.0, 0.0).ok and check_age(None, 99.0, 1.0).ok
    assert check_quality(0.5, 0.3).ok
    assert check_quality(0.2, 0.3).status == GraspStatus.NO_GRASP
    assert check_width(0.05, 0.0, 0.08, 0.01).ok and check_width(math.nan, 0, 0.08, 0.01).ok
    assert check_width(0.075, 0.0, 0.08, 0.01).status == GraspStatus.NO_GRASP
    assert clamp_width(0.2, 0.01, 0.08) == 0.08 and clamp_width(0.0, 0.01, 0.08) == 0.01
    assert clamp_width(math.nan, 0.01, 0.08) == 0.08
