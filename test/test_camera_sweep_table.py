# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The camera sweep's per-cell interval and table (no rendering: results written here)."""

from pathlib import Path

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


def test_several_seeds_pool_their_images_each_in_its_own_folder(tmp_path, monkeypatch):
    from kufenet_grasp.training import camera_sweep

    rendered = []

    def fake_cell(root, cell, scenes, seed, workers, progress):
        rendered.append((root, seed))
        return root / cell.folder

    right = {7: 22, 11: 27}  # images right of 30 in each seed's draw

    def fake_eval(weights, dataset, **_):
        seed = int(Path(dataset.split(':', 1)[1]).parent.name.removeprefix('seed'))
        return {'per_image': [{'correct': i < right[seed]} for i in range(30)]}

    monkeypatch.setattr(camera_sweep, 'generate_cell', fake_cell)
    monkeypatch.setattr(camera_sweep, 'evaluate_weights', fake_eval)
    results = camera_sweep.run_sweep(['w'], tmp_path, scenes=30, seeds=(7, 11),
                                     cells=[camera_sweep.SweepCell(1.0, 25.0)])
    assert rendered == [(tmp_path / 'seed7', 7), (tmp_path / 'seed11', 11)]
    cell = results['w']['d1.00_t25']
    assert (cell['correct'], cell['n_images'], cell['seeds']) == (49, 60, [7, 11])
    assert cell['accuracy'] == pytest.approx(49 / 60)
    assert cell['ci95'] == pytest.approx(list(accuracy_interval(49, 60)))
    with pytest.raises(ValueError, match='distinct'):
        camera_sweep.run_sweep(['w'], tmp_path, seeds=(7, 7))


def test_one_seed_renders_into_the_folder_itself(tmp_path, monkeypatch):
    from kufenet_grasp.training import camera_sweep

    roots = []
    monkeypatch.setattr(camera_sweep, 'generate_cell',
                        lambda root, cell, *a: roots.append(root) or root / cell.folder)
    monkeypatch.setattr(camera_sweep, 'evaluate_weights',
                        lambda *a, **k: {'per_image': [{'correct': c} for c in (1, 0, 1, 0)]})
    results = camera_sweep.run_sweep(['w'], tmp_path, seeds=(3,),
                                     cells=[camera_sweep.SweepCell(0.3, 0.0)])
    assert roots == [tmp_path] and results['w']['d0.30_t0']['correct'] == 2


def test_cli_seed_list_is_checked(capsys):
    from kufenet_grasp.cli.main import main

    for bad in ('7,x', '7,-1'):
        with pytest.raises(SystemExit):
            main(['camera-sweep', 'w.safetensors', '--out', 'x', '--seed', bad])
        assert 'seed' in capsys.readouterr().err
    assert main(['camera-sweep', 'w.safetensors', '--out', 'x', '--seed', '7,7']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'seeds must be distinct' in err
