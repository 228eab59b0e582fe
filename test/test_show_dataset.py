# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet show-dataset`` writes a readable PNG contact sheet."""

import cv2
from dataset_fixtures import write_cornell_fixture, write_jacquard_fixture
from kufenet_grasp.cli.main import main
from kufenet_grasp.data.contact_sheet import contact_sheet, pick_indices
import pytest


def test_jacquard_split_contact_sheet_to_named_file(tmp_path, capsys):
    write_jacquard_fixture(tmp_path / 'synth', n_objects=3, size=40, split='train')
    out = tmp_path / 'sheet.png'
    rc = main(['show-dataset', str(tmp_path / 'synth'), '--split', 'train', '--n', '4',
               '--seed', '1', '--out', str(out)])
    assert rc == 0
    assert capsys.readouterr().out.strip() == str(out)
    image = cv2.imread(str(out))
    assert image is not None and image.ndim == 3
    assert image.shape[0] >= 256 and image.shape[1] >= 2 * 256
    assert image.std() > 0


def test_cornell_default_output_name_is_printed(tmp_path, monkeypatch, capsys):
    write_cornell_fixture(tmp_path / 'cornell', n_images=2, with_pcd=False,
                          nan_rectangle=False)
    monkeypatch.chdir(tmp_path)
    rc = main(['show-dataset', str(tmp_path / 'cornell'), '--n', '16'])
    assert rc == 0
    printed = capsys.readouterr().out.strip()
    assert printed.endswith('.png') and 'cornell' in printed
    image = cv2.imread(str(tmp_path / printed))
    assert image is not None
    # two 640×480 scenes, each a colour and a depth panel of 256 px height
    assert image.shape[0] % 256 == 0 and image.shape[1] >= 2 * 341


def test_bad_paths_and_formats_fail_with_a_message(tmp_path, capsys):
    assert main(['show-dataset', str(tmp_path / 'absent')]) == 1
    assert 'absent' in capsys.readouterr().err
    assert main(['show-dataset', str(tmp_path)]) == 1
    assert '--format' in capsys.readouterr().err
    write_jacquard_fixture(tmp_path, n_objects=1, size=32, split='train')
    assert main(['show-dataset', str(tmp_path), '--format', 'jacquard',
                 '--split', 'test']) == 1
    assert 'train' in capsys.readouterr().err
    assert main(['show-dataset', str(tmp_path), '--split', 'val']) == 1
    assert "['train']" in capsys.readouterr().err


def test_sheet_helpers_check_their_arguments():
    with pytest.raises(ValueError, match='no samples'):
        contact_sheet([])
    with pytest.raises(ValueError, match='--n'):
        pick_indices(5, 0)
    assert pick_indices(5, 3, seed=2) == pick_indices(5, 3, seed=2)
    assert len(set(pick_indices(5, 9))) == 5
