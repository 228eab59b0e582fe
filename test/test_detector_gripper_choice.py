# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The detector's gripper_config: which gripper file the finger check and the markers use.

The same parameter as grasp_executor's (a shipped name or a YAML path); the openings, finger
sizes and approach margin default to the chosen file's values; a bad choice is refused in one
line.
"""

from kufenet_grasp.cli.detect import detector_settings, UsageError
from kufenet_grasp.detection import builder
from kufenet_grasp.geometry.gripper import load_gripper
from kufenet_grasp.nodes import detector_params, executor_params
import pytest

DEFAULTS = {spec.name: spec.default for spec in detector_params.PARAMETERS}
ROBOTIQ = load_gripper('robotiq_2f85')


def _settings(gripper: str, **changes) -> dict:
    """Table defaults with ``gripper``'s file values, as the node declares them."""
    return {**DEFAULTS, 'gripper_config': gripper,
            **detector_params.gripper_defaults(load_gripper(gripper)), **changes}


def test_detector_and_executor_name_and_default_the_gripper_file_alike():
    detector = detector_params.SPECS['gripper_config']
    executor = executor_params.SPECS['gripper_config']
    assert detector.default == executor.default == 'franka_hand'
    assert detector.read_only and executor.read_only


def test_the_chosen_file_gives_the_finger_check_and_the_openings():
    settings = _settings('robotiq_2f85')
    assert settings['gripper.max_width_m'] == 0.085 and settings['gripper.finger_width_m'] == 0.022
    gripper = builder.gripper_config(settings)
    assert gripper == ROBOTIQ  # nothing changed: the file as it is
    config = builder.detector_config(settings)
    assert config.max_width_m == ROBOTIQ.max_width_m
    assert config.fingers is not None
    assert (config.fingers.thickness_m, config.fingers.width_m, config.fingers.opening_margin_m) \
        == (ROBOTIQ.finger_thickness_m, ROBOTIQ.finger_width_m, ROBOTIQ.width_margin_m)
    franka = builder.detector_config(_settings('franka_hand'))
    assert franka.fingers is not None and franka.fingers.width_m != config.fingers.width_m


def test_parameters_set_explicitly_override_the_file():
    gripper = builder.gripper_config(_settings('robotiq_2f85', **{'gripper.max_width_m': 0.07}))
    assert gripper.max_width_m == 0.07 and gripper.finger_length_m == ROBOTIQ.finger_length_m


@pytest.mark.parametrize('value, words', [
    ('no_such_gripper', ["unknown gripper 'no_such_gripper'", 'franka_hand, robotiq_2f85']),
    ('/nonexistent/hand.yaml', ['/nonexistent/hand.yaml', 'does not exist']),
])
def test_an_unknown_name_or_a_missing_file_is_refused_in_one_line(value, words):
    reason = detector_params.validate('gripper_config', value, DEFAULTS)
    assert reason is not None and '\n' not in reason and reason.startswith('gripper_config:')
    assert all(word in reason for word in words), reason
    with pytest.raises(FileNotFoundError):
        builder.gripper_config({**DEFAULTS, 'gripper_config': value})


@pytest.mark.parametrize('text, words', [
    ('name: [unclosed\n', ['not valid YAML']),
    ('name: hand\nmax_width_m: 0.08\n', ['lacks', 'min_width_m']),
    (b'\xff\xfe\x00 not text', ['cannot read']),
])
def test_an_unreadable_or_invalid_file_is_refused_in_one_line(tmp_path, text, words):
    path = tmp_path / 'hand.yaml'
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    reason = detector_params.validate('gripper_config', str(path), DEFAULTS)
    assert reason is not None and '\n' not in reason and str(path) in reason, reason
    assert all(word in reason for word in words), reason
    assert detector_params.validate('gripper_config', 'robotiq_2f85', DEFAULTS) is None


def test_kufenet_detect_takes_the_openings_of_the_chosen_file(tmp_path):
    settings, _ = detector_settings(None, None, ['gripper_config=robotiq_2f85'])
    assert settings['gripper.max_width_m'] == ROBOTIQ.max_width_m
    assert builder.gripper_config(settings) == ROBOTIQ
    settings, _ = detector_settings(None, None, ['gripper_config=robotiq_2f85',
                                                 'gripper.max_width_m=0.07'])
    assert settings['gripper.max_width_m'] == 0.07
    with pytest.raises(UsageError, match="unknown gripper 'nope'"):
        detector_settings(None, None, ['gripper_config=nope'])
