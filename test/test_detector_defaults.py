# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""One set of detector defaults: DetectorConfig, the node's parameter table, detector.yaml."""

import dataclasses
import pathlib

from kufenet_grasp.detection import builder
from kufenet_grasp.detection.detector import DetectorConfig
from kufenet_grasp.nodes import detector_params
from kufenet_grasp.offline.params_file import read_params_file
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULTS = {spec.name: spec.default for spec in detector_params.PARAMETERS}

#: a value other than the default for every parameter that reaches DetectorConfig
CHANGED = {
    'input_size': 160, 'crop_mode': 'full', 'roi_px': [10.0, 20.0, 300.0, 200.0],
    'quality_threshold': 0.55, 'top_k': 2, 'min_peak_distance_px': 4, 'depth_min_m': 0.3,
    'depth_max_m': 1.5, 'depth_search_radius_px': 2, 'gripper.min_width_m': 0.01,
    'gripper.max_width_m': 0.06, 'gripper.width_margin_m': 0.004,
    'gripper.fit_width_to_object': False, 'gripper.finger_check': False,
    'gripper.finger_thickness_m': 0.02, 'gripper.finger_width_m': 0.03,
    'gripper.finger_clearance_m': 0.01, 'gripper.finger_max_blocked_fraction': 0.3,
    'gripper.approach_margin_m': 0.01,
}


def test_the_parameter_table_defaults_are_the_detector_config_defaults():
    assert builder.detector_config(DEFAULTS) == DetectorConfig()


def test_the_shipped_params_file_writes_the_table_defaults():
    values = read_params_file(ROOT / 'config' / 'detector.yaml', 'grasp_detector')
    assert set(values) == set(DEFAULTS) - set(detector_params.FROM_GRIPPER_FILE)
    assert {name: value for name, value in values.items() if value != DEFAULTS[name]} == {}


@pytest.mark.parametrize('name', sorted(CHANGED))
def test_every_detection_parameter_reaches_the_detector_config(name):
    """A parameter the mapping forgot would keep DetectorConfig's default unseen."""
    assert CHANGED[name] != DEFAULTS[name]
    changed = builder.detector_config({**DEFAULTS, name: CHANGED[name]})
    if name.startswith('gripper.finger_') and name != 'gripper.finger_check' \
            or name == 'gripper.approach_margin_m':
        assert dataclasses.asdict(changed.fingers) != dataclasses.asdict(DetectorConfig().fingers)
    else:
        assert changed != DetectorConfig()
