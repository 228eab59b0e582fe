# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The Cornell reader on fixtures written in the released on-disk format."""

import math
import warnings

from dataset_fixtures import write_cornell_fixture
from kufenet_grasp.data.cornell import CornellDataset
from kufenet_grasp.data.pcd import pcd_to_depth
from kufenet_grasp.data.sample import DatasetError
import numpy as np
import pytest


def _angle_diff(a, b):
    """Difference of two grasp angles modulo pi, in [0, pi/2]."""
    d = abs(a - b) % math.pi
    return min(d, math.pi - d)


@pytest.fixture(scope='module')
def cornell(tmp_path_factory):
    root = tmp_path_factory.mktemp('cornell')
    return root, write_cornell_fixture(root, n_images=3, start=108)


def test_reads_every_image_with_colour_depth_and_rectangles(cornell):
    root, truth = cornell
    ds = CornellDataset(root)
    assert len(ds) == 3
    assert ds.names == [t.name for t in truth]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        samples = [ds[i] for i in range(3)]
    for sample, gt in zip(samples, truth):
        assert sample.rgb.dtype == np.uint8 and sample.rgb.shape == (480, 640, 3)
        np.testing.assert_array_equal(sample.rgb, gt.rgb)
        assert sample.depth.dtype == np.float32
        np.testing.assert_array_equal(np.isnan(sample.depth), np.isnan(gt.depth))
        np.testing.assert_allclose(sample.depth, gt.depth, rtol=1e-5, equal_nan=True)
        assert len(sample.rectangles) == len(gt.rectangles)
        for r, g in zip(sample.rectangles, gt.rectangles):
            assert r.center == pytest.approx((g.x, g.y), abs=0.01)
            assert _angle_diff(r.angle, g.angle) < 1e-3
            assert r.opening == pytest.approx(g.opening, abs=0.01)
            assert r.jaw == pytest.approx(g.jaw, abs=0.01)


def test_nan_rectangle_is_dropped_with_a_warning_naming_the_file(cornell):
    root, truth = cornell
    with pytest.warns(UserWarning, match=f'{truth[0].name}cpos.txt'):
        rects = CornellDataset(root).load_rectangles(0)
    assert truth[0].n_nan_rectangles == 1
    assert len(rects) == len(truth[0].rectangles)
    assert all(np.isfinite(r.center).all() for r in rects)


def test_depth_from_point_cloud_equals_depth_from_tiff(cornell):
    root, _truth = cornell
    tiff = CornellDataset(root, depth_source='tiff').load_depth(1)
    pcd = CornellDataset(root, depth_source='pcd').load_depth(1)
    assert np.isnan(pcd).any() and np.isfinite(pcd).any()
    np.testing.assert_array_equal(np.isnan(pcd), np.isnan(tiff))
    np.testing.assert_allclose(pcd, tiff, rtol=1e-5, equal_nan=True)


def test_object_ids_group_consecutive_numbers_and_map_file_overrides(cornell, tmp_path):
    root, truth = cornell
    ids = CornellDataset(root).object_ids  # pcd0108, pcd0109, pcd0110
    assert ids[0] == ids[1] != ids[2]
    assert ids == [t.object_id for t in truth]
    mapping = tmp_path / 'objects.txt'
    mapping.write_text('# image object\npcd0108 mug\n0109 bowl\n')
    ids = CornellDataset(root, object_map=mapping).object_ids
    assert ids[:2] == ['mug', 'bowl']
    mapping.write_text('pcd0108\n')
    with pytest.raises(DatasetError, match='objects.txt'):
        CornellDataset(root, object_map=mapping)


def test_auto_uses_the_point_cloud_when_the_tiff_is_missing(tmp_path):
    truth = write_cornell_fixture(tmp_path, n_images=1, with_tiff=True, nan_rectangle=False)
    truth[0].files['tiff'].unlink()
    depth = CornellDataset(tmp_path).load_depth(0)
    np.testing.assert_allclose(depth, truth[0].depth, rtol=1e-5, equal_nan=True)


def test_missing_depth_names_the_image(tmp_path):
    write_cornell_fixture(tmp_path, n_images=1, with_tiff=False, with_pcd=False)
    with pytest.raises(DatasetError, match='pcd0100'):
        CornellDataset(tmp_path)[0]
    with pytest.raises(DatasetError, match=r'pcd0100d\.tiff'):
        CornellDataset(tmp_path, depth_source='tiff').load_depth(0)


@pytest.mark.parametrize('bad_header', [
    ('DATA ascii', 'DATA binary'),
    ('FIELDS x y z rgb index', 'FIELDS x y z rgb'),
    ('FIELDS x y z rgb index\n', 'FIELDS x y z rgb index\nGARBAGE 1\n'),
])
def test_wrong_pcd_header_is_an_error_naming_the_file(tmp_path, bad_header):
    truth = write_cornell_fixture(tmp_path, n_images=1, with_tiff=False, nan_rectangle=False)
    pcd = truth[0].files['pcd']
    pcd.write_text(pcd.read_text().replace(*bad_header, 1))
    with pytest.raises(DatasetError, match=r'pcd0100\.txt'):
        CornellDataset(tmp_path).load_depth(0)


def test_non_numeric_or_out_of_range_points_are_errors(tmp_path):
    path = tmp_path / 'pcd0001.txt'
    header = 'FIELDS x y z rgb index\nDATA ascii\n'
    path.write_text(header + '1 2 3 4 5\n1 2 x 4 6\n')
    with pytest.raises(DatasetError, match='pcd0001.txt'):
        pcd_to_depth(path)
    path.write_text(header + '1 2 3 4 307200\n')
    with pytest.raises(DatasetError, match='index'):
        pcd_to_depth(path)
    path.write_text(header + '1 2 3 4\n')
    with pytest.raises(DatasetError, match='FIELDS'):
        pcd_to_depth(path)
    path.write_text(header)
    with pytest.raises(DatasetError, match='no points'):
        pcd_to_depth(path)


def test_bad_rectangle_line_is_an_error_naming_the_file(tmp_path):
    truth = write_cornell_fixture(tmp_path, n_images=1, with_pcd=False, nan_rectangle=False)
    cpos = truth[0].files['cpos']
    lines = cpos.read_text().splitlines()
    lines[1] = '12.5 not-a-number'
    cpos.write_text('\n'.join(lines) + '\n')
    with pytest.raises(ValueError, match='pcd0100cpos.txt'):
        CornellDataset(tmp_path).load_rectangles(0)
    cpos.unlink()
    with pytest.raises(DatasetError, match='pcd0100cpos.txt'):
        CornellDataset(tmp_path)[0]


def test_bad_arguments_and_empty_folders(tmp_path):
    with pytest.raises(DatasetError, match='no Cornell images'):
        CornellDataset(tmp_path)
    with pytest.raises(DatasetError, match='not found'):
        CornellDataset(tmp_path / 'absent')
    write_cornell_fixture(tmp_path, n_images=1, with_pcd=False)
    with pytest.raises(ValueError, match='depth_source'):
        CornellDataset(tmp_path, depth_source='png')
    with pytest.raises(IndexError):
        CornellDataset(tmp_path)[5]
