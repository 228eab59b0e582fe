# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The Jacquard reader and the dataset registry on fixtures in the released layout."""

import math

import cv2
from dataset_fixtures import write_jacquard_fixture
from kufenet_grasp.data.jacquard import JacquardDataset
from kufenet_grasp.data.registry import open_dataset
from kufenet_grasp.data.sample import DatasetError
import numpy as np
import pytest


def _angle_diff(a, b):
    """Difference of two grasp angles modulo pi, in [0, pi/2]."""
    d = abs(a - b) % math.pi
    return min(d, math.pi - d)


@pytest.fixture(scope='module')
def jacquard(tmp_path_factory):
    root = tmp_path_factory.mktemp('jacquard')
    return root, write_jacquard_fixture(root, n_objects=2, size=(48, 64), seed=3)


def test_reads_rgb_lzw_depth_mask_and_grasps(jacquard):
    root, truth = jacquard
    ds = JacquardDataset(root, dedupe=True)
    assert len(ds) == len(truth) == 4
    by_name = {t.name: t for t in truth}
    assert sorted(ds.names) == sorted(by_name)
    for i in range(len(ds)):
        sample = ds[i]
        gt = by_name[sample.name]
        assert sample.rgb.shape == (48, 64, 3) and sample.depth.shape == (48, 64)
        np.testing.assert_array_equal(sample.rgb, gt.rgb)
        # -1 holes of the file come back as NaN, the rest in metres
        assert np.isnan(sample.depth).any()
        np.testing.assert_array_equal(np.isnan(sample.depth), np.isnan(gt.depth))
        np.testing.assert_allclose(sample.depth, gt.depth, equal_nan=True)
        assert sample.mask is not None and (sample.mask > 0).sum() == (gt.mask > 0).sum()
        assert sample.object_id == gt.object_id == gt.rgb_path.parent.name
        # with dedupe, rows repeating a grasp with other jaw sizes are merged
        assert len(sample.rectangles) == len(gt.rectangles)
        for r, g in zip(sorted(sample.rectangles, key=lambda r: r.center),
                        sorted(gt.rectangles, key=lambda g: (g.x, g.y))):
            assert r.center == pytest.approx((g.x, g.y), abs=0.01)
            assert _angle_diff(r.angle, g.angle) < 1e-3  # theta in the file is -angle
            assert r.opening == pytest.approx(g.opening, abs=0.01)


def test_stereo_depth_and_undeduplicated_labels(jacquard):
    root, _truth = jacquard
    perfect = JacquardDataset(root, depth='perfect', dedupe=True)
    stereo = JacquardDataset(root, depth='stereo')
    a, b = perfect.load_depth(0), stereo.load_depth(0)
    assert np.nanmax(np.abs(a - b)) > 0
    first_rows = perfect.load_rectangles(0)
    every_row = stereo.load_rectangles(0)  # not deduplicated by default
    assert len(every_row) == 2 * len(first_rows)
    assert {r.jaw for r in first_rows} < {r.jaw for r in every_row}
    assert perfect.object_ids == stereo.object_ids
    assert len(set(perfect.object_ids)) == 2


def test_registry_opens_formats_and_split_folders(tmp_path):
    write_jacquard_fixture(tmp_path, n_objects=1, size=32, split='train')
    write_jacquard_fixture(tmp_path, n_objects=1, size=32, split='val', seed=1)
    train = open_dataset(f'jacquard:{tmp_path}', split='train')
    assert isinstance(train, JacquardDataset) and len(train) == 2
    assert len(open_dataset(f'jacquard:{tmp_path}')) == 4
    assert train[0].rgb.shape == (32, 32, 3)
    with pytest.raises(ValueError, match=r"test.*\['train', 'val'\]"):
        open_dataset(f'jacquard:{tmp_path}', split='test')
    with pytest.raises(ValueError, match='cornell.*jacquard'):
        open_dataset(f'graspnet:{tmp_path}')
    with pytest.raises(ValueError, match='FORMAT:PATH'):
        open_dataset(str(tmp_path))


def test_malformed_grasp_line_names_the_file(tmp_path):
    truth = write_jacquard_fixture(tmp_path, n_objects=1, size=32, images_per_object=1)
    path = truth[0].files['grasps.txt']
    path.write_text(path.read_text() + '10;12;oops;20\n')
    with pytest.raises(ValueError, match=path.name):
        JacquardDataset(tmp_path)[0]


def test_missing_or_wrong_depth_names_the_file(tmp_path):
    truth = write_jacquard_fixture(tmp_path, n_objects=1, size=32, images_per_object=1,
                                   stereo=False)
    with pytest.raises(DatasetError, match='stereo_depth.tiff'):
        JacquardDataset(tmp_path, depth='stereo')[0]
    depth_path = truth[0].files['perfect_depth.tiff']
    cv2.imwrite(str(depth_path), np.zeros((32, 32), np.uint16))
    with pytest.raises(DatasetError, match='perfect_depth.tiff.*floating point'):
        JacquardDataset(tmp_path)[0]
    cv2.imwrite(str(depth_path), np.zeros((16, 32), np.float32))
    with pytest.raises(DatasetError, match='differs'):
        JacquardDataset(tmp_path)[0]
    with pytest.raises(ValueError, match='depth must be one of'):
        JacquardDataset(tmp_path, depth='kinect')


def test_half_written_hidden_scene_folders_are_skipped(tmp_path):
    truth = write_jacquard_fixture(tmp_path, n_objects=1, size=32, split='train')
    hidden = tmp_path / 'train' / '.tmp-0001-123'
    hidden.mkdir()
    (hidden / '0_0001_grasps.txt').write_text(truth[0].files['grasps.txt'].read_text())
    ds = open_dataset(f'jacquard:{tmp_path}', split='train')
    assert len(ds) == len(truth) == 2
    assert '.tmp-0001-123' not in ds.object_ids


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match='_grasps.txt'):
        JacquardDataset(tmp_path)
