# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""grasp_executor parameters: YAML defaults, validation and the PickConfig built from them."""

import math
import pathlib

from kufenet_grasp.geometry.gripper import gripper_path, load_gripper
from kufenet_grasp.geometry.workspace import WorkspaceBounds
from kufenet_grasp.nodes import detector_params, executor_params
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def flatten(tree: dict, prefix: str = '') -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f'{prefix}{key}.'))
        else:
            out[f'{prefix}{key}'] = value
    return out


def defaults() -> dict:
    return {spec.name: spec.default for spec in executor_params.PARAMETERS}


def test_yaml_holds_every_parameter_with_its_default():
    data = yaml.safe_load((ROOT / 'config' / 'executor.yaml').read_text())
    values = flatten(data['/**/grasp_executor']['ros__parameters'])
    assert set(values) == set(defaults())
    for name, value in values.items():
        assert value == pytest.approx(defaults()[name]), name
    assert all(spec.description for spec in executor_params.PARAMETERS)


def test_validation_refuses_bad_values_naming_the_parameter():
    current = defaults()
    assert executor_params.validate('top_k', 5, current) is None
    assert 'top_k' in executor_params.validate('top_k', 0, current)
    assert 'motion_backend' in executor_params.validate('motion_backend', 'gazebo', current)
    assert '3 finite' in executor_params.validate('place.xyz', [0.1, 0.2], current)
    reason = executor_params.validate('workspace.max_xyz', [0.1, 1.0, 1.0], current)
    assert 'below' in reason
    assert 'finite' in executor_params.validate('lift_height_m', math.nan, current)


BOXES = [  # (min_xyz, max_xyz, is a box)
    ([0.2, -0.4, 0.0], [0.8, 0.4, 0.6], True),
    ([0.2, -0.4, 0.0], [0.8, 0.4, 0.0], False),  # flat: z not below
    ([0.8, -0.4, 0.0], [0.2, 0.4, 0.6], False),  # x swapped
    ([0.2, math.nan, 0.0], [0.8, 0.4, 0.6], False),
    ([0.2, -0.4, 0.0], [0.8, 0.4, math.inf], False),
]


@pytest.mark.parametrize('lo, hi, is_box', BOXES)
def test_executor_workspace_detector_roi_box_and_bounds_refuse_the_same_boxes(lo, hi, is_box):
    executor = executor_params.validate('workspace.max_xyz', hi, {'workspace.min_xyz': lo})
    detector = detector_params.validate('roi_workspace.max_xyz', hi,
                                        {'roi_workspace.min_xyz': lo})
    try:
        WorkspaceBounds(tuple(lo), tuple(hi))
        refused = None
    except ValueError as exc:
        refused = str(exc)
    assert (executor is None, detector is None, refused is None) == (is_box,) * 3, \
        (executor, detector, refused)
    if not is_box:  # one message, with each node's parameter names
        assert executor.replace('workspace.', '') == refused.replace('WorkspaceBounds: ', '')
        assert detector.startswith(executor.replace('workspace.', 'roi_workspace.'))


def test_pick_config_and_place_pose_follow_the_parameters():
    values = defaults()
    values['max_approach_angle_deg'] = 45.0
    config = executor_params.pick_config(values)
    assert config.max_approach_angle_rad == pytest.approx(math.pi / 4)
    assert config.tcp_offset.translation == pytest.approx([0.0, 0.0, 0.0])
    values['tcp_offset.xyz'] = [0.0, 0.0, -0.1034]
    assert executor_params.pick_config(values).tcp_offset.translation[2] == -0.1034
    assert config.workspace.contains((0.5, 0.0, 0.1))
    assert executor_params.pick_config(values, 0.0).quality_threshold == 0.0
    place = executor_params.place_pose(values)
    assert place.translation == pytest.approx([0.4, 0.3, 0.15])
    assert place.rotation[:, 2] == pytest.approx([0.0, 0.0, -1.0])  # approach straight down
    values['workspace.min_xyz'] = [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match='WorkspaceBounds'):
        executor_params.pick_config(values)


def test_gripper_config_names_resolve_to_the_shipped_files():
    for name in ('franka_hand', 'robotiq_2f85'):
        assert load_gripper(name).name == name
        assert gripper_path(name).name == f'{name}.yaml'
    assert gripper_path('/tmp/my.yaml') == pathlib.Path('/tmp/my.yaml')
    with pytest.raises(FileNotFoundError,
                       match="unknown gripper 'no_such_hand': the shipped ones are "
                             'franka_hand, robotiq_2f85; or give a gripper file'):
        load_gripper('no_such_hand')
