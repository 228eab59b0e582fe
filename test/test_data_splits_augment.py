# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Splits, geometric augmentation and the PyTorch map dataset."""

import math

import cv2
from dataset_fixtures import write_jacquard_fixture
from kufenet_grasp.data.augment import (
    flip_matrix,
    random_augment,
    rotation_matrix,
    warp_sample,
    zoom_matrix,
)
from kufenet_grasp.data.jacquard import JacquardDataset
from kufenet_grasp.data.photometric import jitter_colour
from kufenet_grasp.data.sample import GraspSample
from kufenet_grasp.data.splits import split_indices
from kufenet_grasp.data.torch_dataset import GraspMapDataset, make_crop_window, split_map_datasets
from kufenet_grasp.grasp.rectangle import GraspRectangle
import numpy as np
import pytest
import torch

torch.set_num_threads(1)


def _angle_diff(a, b):
    """Difference of two grasp angles modulo pi, in [0, pi/2]."""
    d = abs(a - b) % math.pi
    return min(d, math.pi - d)


class _Objects:
    """A stand-in dataset that only has object ids."""

    def __init__(self, object_ids):
        self.object_ids = list(object_ids)

    def __len__(self):
        return len(self.object_ids)


# --- splits -----------------------------------------------------------------------------

@pytest.mark.parametrize('mode', ['image', 'object', 'sequential'])
def test_splits_cover_every_index_once_and_repeat_with_the_seed(mode):
    rng = np.random.default_rng(1)
    ds = _Objects(f'obj{k}' for k in np.repeat(np.arange(40), rng.integers(1, 6, 40)))
    a = split_indices(ds, mode=mode, seed=7)
    b = split_indices(ds, mode=mode, seed=7)
    assert a == b
    assert set(a) == {'train', 'val', 'test'}
    together = sorted(i for part in a.values() for i in part)
    assert together == list(range(len(ds)))
    n = len(ds)
    assert abs(len(a['train']) - 0.8 * n) <= (0.1 * n if mode == 'object' else 1)
    if mode != 'sequential':
        assert split_indices(ds, mode=mode, seed=8) != a


def test_object_split_never_shares_an_object_between_splits():
    rng = np.random.default_rng(2)
    for seed in range(5):
        ids = [f'o{k}' for k in rng.integers(0, 25, 120)]
        parts = split_indices(_Objects(ids), mode='object', fractions=(0.6, 0.2, 0.2),
                              seed=seed)
        objects = [{ids[i] for i in part} for part in parts.values()]
        assert all(objects)
        assert not (objects[0] & objects[1] or objects[0] & objects[2] or
                    objects[1] & objects[2])


def test_image_split_mixes_objects_and_two_way_fractions_work():
    ids = [f'o{k // 4}' for k in range(80)]
    parts = split_indices(_Objects(ids), mode='image', fractions=(0.5, 0.5), seed=0)
    assert set(parts) == {'train', 'test'} and len(parts['train']) == 40
    assert {ids[i] for i in parts['train']} & {ids[i] for i in parts['test']}


def test_split_arguments_are_checked():
    ds = _Objects(['a', 'b'])
    with pytest.raises(ValueError, match='mode'):
        split_indices(ds, mode='scene')
    with pytest.raises(ValueError, match='sum to 1'):
        split_indices(ds, fractions=(0.8, 0.3))
    with pytest.raises(ValueError, match='object_ids'):
        split_indices(list(range(3)), mode='object')


# --- augmentation -----------------------------------------------------------------------

def _bar_sample(h=60, w=80, seed=0):
    """Return a dark image with one bright bar and a grasp across its middle."""
    rng = np.random.default_rng(seed)
    cx, cy = rng.uniform(0.35, 0.65) * w, rng.uniform(0.35, 0.65) * h
    bar_angle = rng.uniform(-math.pi / 2, math.pi / 2)
    d = np.array([math.cos(bar_angle), -math.sin(bar_angle)]) * 18
    n = np.array([math.sin(bar_angle), math.cos(bar_angle)]) * 4
    c = np.array([cx, cy])
    poly = np.round([c - d - n, c + d - n, c + d + n, c - d + n]).astype(np.int32)
    rgb = np.full((h, w, 3), 20, np.uint8)
    cv2.fillPoly(rgb, [poly], (255, 255, 255))
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [poly], 255)
    depth = np.where(mask > 0, 0.6, 0.7).astype(np.float32)
    depth[0, 0] = np.nan
    grasp_angle = (bar_angle + math.pi) % math.pi - math.pi / 2  # across the bar
    rect = GraspRectangle(center=(float(cx), float(cy)), angle=float(grasp_angle),
                          opening=20.0, jaw=6.0)
    return GraspSample(rgb=rgb, depth=depth, rectangles=[rect], object_id='bar',
                       name='bar', mask=mask)


def _bar_axis_angle(mask):
    """Angle (CCW as displayed, rad) of the long axis of the mask's blob."""
    m = cv2.moments((mask > 0).astype(np.uint8), binaryImage=True)
    theta = 0.5 * math.atan2(2 * m['mu11'], m['mu20'] - m['mu02'])  # in y-down frame
    return -theta


@pytest.mark.parametrize('seed', range(6))
def test_random_augment_keeps_the_grasp_on_the_bar_and_across_it(seed):
    sample = _bar_sample(seed=seed)
    rng = np.random.default_rng(seed)
    out = random_augment(sample, rng, max_rotation=0.3)
    assert out.rgb.shape == sample.rgb.shape and out.depth.dtype == np.float32
    (rect,) = out.rectangles
    x, y = (round(v) for v in rect.center)
    assert 0 <= x < 80 and 0 <= y < 60
    assert out.rgb[y, x].min() > 200 and out.mask[y, x] > 0
    assert out.depth[y, x] == pytest.approx(0.6, abs=1e-4)
    assert _angle_diff(rect.angle, _bar_axis_angle(out.mask) + math.pi / 2) < 0.15
    assert -math.pi / 2 <= rect.angle < math.pi / 2


def test_horizontal_flip_negates_the_angle_and_mirrors_x():
    sample = _bar_sample(seed=3)
    (before,) = sample.rectangles
    (after,) = warp_sample(sample, flip_matrix(80, 60, horizontal=True)).rectangles
    assert after.center == pytest.approx((79 - before.center[0], before.center[1]))
    assert _angle_diff(after.angle, -before.angle) < 1e-9
    (vflip,) = warp_sample(sample, flip_matrix(80, 60, horizontal=False)).rectangles
    assert _angle_diff(vflip.angle, -before.angle) < 1e-9


def test_quarter_turn_adds_ninety_degrees_and_zoom_scales_sizes():
    sample = _bar_sample(h=64, w=64, seed=4)
    (before,) = sample.rectangles
    turned = warp_sample(sample, rotation_matrix(math.pi / 2, (31.5, 31.5)))
    (after,) = turned.rectangles
    assert _angle_diff(after.angle, before.angle + math.pi / 2) < 1e-9
    np.testing.assert_array_equal(turned.rgb, np.rot90(sample.rgb))  # CCW as displayed
    (zoomed,) = warp_sample(sample, zoom_matrix(0.5, (31.5, 31.5), (31.5, 31.5))).rectangles
    assert zoomed.opening == pytest.approx(2 * before.opening)
    assert zoomed.jaw == pytest.approx(2 * before.jaw)
    with pytest.raises(ValueError, match='zoom_range'):
        random_augment(sample, np.random.default_rng(0), zoom_range=(0.0, 1.0))


def test_zoom_out_shrinks_the_grasp_and_replicates_borders_without_copies():
    sample = _bar_sample(h=64, w=64, seed=4)
    (before,) = sample.rectangles
    out = warp_sample(sample, zoom_matrix(2.0, (31.5, 31.5), (31.5, 31.5)))
    (after,) = out.rectangles
    assert after.opening == pytest.approx(0.5 * before.opening)
    assert after.center == pytest.approx((31.5 + (before.center[0] - 31.5) / 2,
                                          31.5 + (before.center[1] - 31.5) / 2))
    # one bar only: a mirrored border would have added unlabelled copies of it
    count, _ = cv2.connectedComponents((out.rgb > 200).all(axis=2).astype(np.uint8))
    assert count - 1 == 1


# --- torch dataset ----------------------------------------------------------------------

@pytest.fixture(scope='module')
def jacquard(tmp_path_factory):
    root = tmp_path_factory.mktemp('jq')
    write_jacquard_fixture(root, n_objects=2, size=(40, 48), seed=5)
    return JacquardDataset(root)


def test_map_dataset_items_are_input_and_target_tensors(jacquard):
    data = GraspMapDataset(jacquard, [0, 2, 3], input_size=32)
    assert len(data) == 3
    x, y, index = data[1]
    assert index == 1
    assert x.dtype == torch.float32 and x.shape == (4, 32, 32)
    assert y.dtype == torch.float32 and y.shape == (4, 32, 32)
    assert torch.isfinite(x).all() and torch.isfinite(y).all()
    assert float(y[0].max()) > 0
    # the ground truth is in model-input pixels: its centres lie where quality is high
    window = data.crop_transform(1)
    assert window.scale == pytest.approx(32 / 40)
    for rect in data.ground_truth(1):
        cx, cy = (round(v) for v in rect.center)
        assert float(y[0, cy, cx]) > 0
    source = jacquard.load_rectangles(2)
    assert [r.opening * 32 / 40 for r in source] == pytest.approx(
        [r.opening for r in data.ground_truth(1)])


def test_augmented_items_depend_only_on_seed_epoch_and_index(jacquard):
    a = GraspMapDataset(jacquard, None, input_size=32, augment=True, seed=1)
    b = GraspMapDataset(jacquard, None, input_size=32, augment=True, seed=1)
    x0, y0, _ = a[2]
    b[0]  # reading other items first changes nothing
    x1, y1, _ = b[2]
    assert torch.equal(x0, x1) and torch.equal(y0, y1)
    different = []
    for epoch in range(1, 4):
        a.set_epoch(epoch)
        different.append(not torch.equal(a[2][1], y0))
    assert any(different)
    item = a.sample(2)
    for rect in item.rectangles:  # labels stay on the (bright) object after augmentation
        cx, cy = (round(v) for v in rect.center)
        if 0 <= cx < 32 and 0 <= cy < 32:
            assert item.mask[cy, cx] > 0


def test_label_crop_is_centred_on_the_rectangle_points(jacquard):
    rects = jacquard.load_rectangles(0)
    window = make_crop_window((400, 400), rects, 32, mode='labels')
    assert window.side == 32 and window.scale == 1.0
    mean_x = np.mean([r.corners()[:, 0].mean() for r in rects])
    assert window.x0 + 15.5 == pytest.approx(mean_x, abs=1.0)
    edge = make_crop_window((40, 48), [GraspRectangle(center=(1.0, 1.0), angle=0.0,
                                                      opening=4.0, jaw=2.0)], 32, 'labels')
    assert (edge.x0, edge.y0) == (0, 0)  # shifted to stay inside the image
    whole = make_crop_window((40, 48), rects, 32, mode='full')
    assert whole.side == 48 and whole.y0 == -4
    with pytest.raises(ValueError, match='crop'):
        GraspMapDataset(jacquard, crop='random')
    with pytest.raises(ValueError, match='out of range'):
        GraspMapDataset(jacquard, [99])


def test_split_map_datasets_augment_only_train_and_keep_objects_apart(jacquard):
    parts = split_map_datasets(jacquard, mode='object', fractions=(0.5, 0.5), seed=0,
                               input_size=32)
    assert set(parts) == {'train', 'test'}
    assert parts['train'].augment and not parts['test'].augment
    assert parts['test'].crop == 'center'
    ids = jacquard.object_ids
    train_objects = {ids[i] for i in parts['train'].indices}
    assert train_objects.isdisjoint(ids[i] for i in parts['test'].indices)
    assert sorted(parts['train'].indices + parts['test'].indices) == list(range(len(ids)))


def test_colour_jitter_changes_colours_within_its_strength_and_nothing_else(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(40, 200, (32, 32, 3), dtype=np.uint8)
    assert jitter_colour(rgb, np.random.default_rng(1), 0.0) is rgb
    outs = [jitter_colour(rgb, np.random.default_rng(seed), 0.4) for seed in range(40)]
    assert all(o.dtype == np.uint8 and o.shape == rgb.shape for o in outs)
    assert np.array_equal(outs[3], jitter_colour(rgb, np.random.default_rng(3), 0.4))
    ratios = [o.mean() / rgb.mean() for o in outs]
    assert 0.5 < min(ratios) < 0.9 < 1.1 < max(ratios) < 1.6  # exposure within ±40 %
    grey = [o for o in outs if np.array_equal(o[..., 0], o[..., 1])
            and np.array_equal(o[..., 1], o[..., 2])]
    assert 0 < len(grey) < 20  # p = 0.1 of a grey image
    with pytest.raises(ValueError, match='strength'):
        jitter_colour(rgb, rng, 1.5)
    with pytest.raises(ValueError, match='uint8'):
        jitter_colour(rgb.astype(np.float32), rng, 0.2)

    write_jacquard_fixture(tmp_path, n_objects=1)
    data = JacquardDataset(tmp_path)
    plain = GraspMapDataset(data, input_size=32, augment=True, seed=5)
    jittered = GraspMapDataset(data, input_size=32, augment=True, seed=5, colour_jitter=0.4)
    a, b = plain.sample(0), jittered.sample(0)
    assert not np.array_equal(a.rgb, b.rgb)
    assert np.array_equal(a.depth, b.depth, equal_nan=True)
    assert [r.center for r in a.rectangles] == [r.center for r in b.rectangles]
    with pytest.raises(ValueError, match='colour_jitter'):
        GraspMapDataset(data, colour_jitter=2.0)
