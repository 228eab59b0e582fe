# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Loading and validating camera mount calibration files."""

from __future__ import annotations

import pathlib

from kufenet_grasp.geometry.calibration import CalibrationError, load_static_mount
import numpy as np
import pytest

CONFIG = pathlib.Path(__file__).resolve().parents[1] / 'config' / 'calibration'


def test_shipped_examples_load_and_look_down():
    for name in ('example_static_mount.yaml', 'sim_camera.yaml'):
        mount = load_static_mount(CONFIG / name)
        assert mount.parent_frame and mount.child_frame.endswith('optical_frame')
        optical_axis = mount.transform.rotation[:, 2]
        assert optical_axis[2] < -0.99  # both examples look straight down


def test_rpy_and_quaternion_files_agree(tmp_path):
    q = tmp_path / 'q.yaml'
    q.write_text('parent_frame: base_link\nchild_frame: cam\ntranslation: [0.1, 0.2, 0.3]\n'
                 'rotation_quaternion: [0.0, 0.0, 0.7071068, 0.7071068]\n')
    r = tmp_path / 'r.yaml'
    r.write_text('parent_frame: base_link\nchild_frame: cam\ntranslation: [0.1, 0.2, 0.3]\n'
                 'rotation_rpy: [0.0, 0.0, 1.5707963]\n')
    a, b = load_static_mount(q), load_static_mount(r)
    assert np.allclose(a.transform.matrix, b.transform.matrix, atol=1e-6)
    assert np.allclose(a.transform.apply([1, 0, 0]), [0.1, 1.2, 0.3], atol=1e-6)


@pytest.mark.parametrize('body, match', [
    ('parent_frame: a\nchild_frame: b\ntranslation: [0, 0]\nrotation_rpy: [0, 0, 0]\n',
     "'translation' must be a list of 3"),
    ('parent_frame: a\nchild_frame: b\ntranslation: [0, 0, .nan]\nrotation_rpy: [0, 0, 0]\n',
     'finite'),
    (('parent_frame: a\nchild_frame: b\ntranslation: [0, 0, 0]\n'
      'rotation_quaternion: [0, 0, 0, 2]\n'), 'not unit length'),
    ('parent_frame: a\nchild_frame: b\ntranslation: [0, 0, 0]\n', 'exactly one'),
    ('parent_frame: a\ntranslation: [0, 0, 0]\nrotation_rpy: [0, 0, 0]\n', 'child_frame'),
    ('[1, 2', 'not valid YAML'),
])
def test_invalid_files_name_the_file(tmp_path, body, match):
    path = tmp_path / 'mount.yaml'
    path.write_text(body)
    with pytest.raises(CalibrationError, match=match) as info:
        load_static_mount(path)
    assert str(path) in str(info.value)


def test_missing_file_raises(tmp_path):
    with pytest.raises(CalibrationError, match='cannot read'):
        load_static_mount(tmp_path / 'absent.yaml')
