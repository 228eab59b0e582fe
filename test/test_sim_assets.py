# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Object catalogue: disjoint, complete, deterministic splits; colours in range."""

import os

from kufenet_grasp.sim import assets
import numpy as np
import pytest


def test_splits_disjoint_and_complete():
    splits = assets.split_object_ids()
    sets = {k: set(v) for k, v in splits.items()}
    assert not sets['train'] & sets['val']
    assert not sets['train'] & sets['test']
    assert not sets['val'] & sets['test']
    assert set().union(*sets.values()) == set(range(assets.NUM_RANDOM_URDFS))
    assert len(sets['train']) == 800 and len(sets['val']) == 100
    assert splits == assets.split_object_ids()
    oid = splits['val'][0]
    assert assets.object_split(oid) == 'val'


def test_object_urdf_exists_and_rejects_bad_id():
    assert os.path.isfile(assets.object_urdf(7))
    with pytest.raises(ValueError, match='object_id'):
        assets.object_urdf(1000)
    with pytest.raises(ValueError, match='fractions'):
        assets.split_object_ids(fractions=(0.5, 0.5, 0.5))


def test_colours_and_textures():
    rng = np.random.default_rng(0)
    colours = [assets.random_object_rgba(rng) for _ in range(50)]
    assert all(0.0 <= c <= 1.0 for rgba in colours for c in rgba)
    assert len({tuple(round(c, 3) for c in rgba) for rgba in colours}) > 40
    tex = assets.procedural_texture(rng, 32)
    assert tex.shape == (32, 32, 3) and tex.dtype == np.uint8 and tex.std() > 0
