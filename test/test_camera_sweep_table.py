# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The camera sweep's per-cell interval and table (no rendering: results written here)."""

from kufenet_grasp.training.camera_sweep import accuracy_interval, markdown_table
import pytest


def test_interval_is_wilsons_and_stays_inside_zero_and_one():
    low, high = accuracy_interval(22, 30)
    assert low == pytest.approx(0.5555, abs=1e-3) and high == pytest.approx(0.8582, abs=1e-3)
    assert accuracy_interval(0, 30)[0] == 0.0 and accuracy_interval(0, 30)[1] > 0.05
    assert accuracy_interval(30, 30)[1] == 1.0 and accuracy_interval(30, 30)[0] < 0.95
    wide, narrow = accuracy_interval(15, 20), accuracy_interval(150, 200)
    assert wide[1] - wide[0] > 2 * (narrow[1] - narrow[0])  # 10x the images, ~1/3 the width


@pytest.mark.parametrize('correct, images', [(-1, 30), (31, 30), (0, 0)])
def test_interval_refuses_impossible_counts(correct, images):
    with pytest.raises(ValueError, match='accuracy_interval'):
        accuracy_interval(correct, images)


def test_table_has_a_row_per_distance_with_counts_and_interval():
    def entry(distance, tilt, correct):
        return {'accuracy': correct / 30, 'correct': correct, 'n_images': 30,
                'ci95': list(accuracy_interval(correct, 30)), 'distance_m': distance,
                'tilt_deg': tilt}

    results = {'w': {'d0.30_t0': entry(0.3, 0.0, 25), 'd0.30_t45': entry(0.3, 45.0, 22),
                     'd1.50_t0': entry(1.5, 0.0, 30)}}
    lines = markdown_table(results, 'w').splitlines()
    assert lines[0] == '| distance \\ tilt | 0° | 45° |'
    assert lines[2] == '| 0.3 m | 83% (25/30, 66-93%) | 73% (22/30, 56-86%) |'
    assert lines[3] == '| 1.5 m | 100% (30/30, 89-100%) | - |'
