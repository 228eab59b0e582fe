# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Stereo depth noise model: z²-growing sigma, holes, quantisation, occlusion shadows."""

from kufenet_grasp.sim.depth_noise import add_stereo_noise, sample_stereo_noise, StereoNoise
import numpy as np
import pytest

QUIET = StereoNoise(correlated_sigma=0.0, holes=0, edge_dropout=0.0, quantum=0.0)


def test_sigma_grows_with_depth():
    rng = np.random.default_rng(0)
    stds = []
    for z in (0.4, 0.8, 1.2):
        flat = np.full((64, 64), z, dtype=np.float32)
        noisy = add_stereo_noise(flat, rng, QUIET)
        stds.append(float(np.nanstd(noisy - z)))
        assert abs(float(np.nanmean(noisy)) - z) < 0.001
    assert stds[0] < stds[1] < stds[2]
    expected = QUIET.sigma_base + QUIET.sigma_z2 * 1.2 ** 2
    assert abs(stds[2] - expected) / expected < 0.1


def test_holes_and_quantisation():
    rng = np.random.default_rng(1)
    flat = np.full((80, 80), 0.6, dtype=np.float32)
    params = StereoNoise(holes=6, quantum=0.001)
    noisy = add_stereo_noise(flat, rng, params)
    assert noisy.dtype == np.float32 and noisy.shape == flat.shape
    assert np.isnan(noisy).any()
    valid = noisy[np.isfinite(noisy)]
    assert np.allclose(valid * 1000, np.round(valid * 1000), atol=1e-3)


def test_occlusion_shadow_left_of_near_object():
    depth = np.full((20, 60), 0.8, dtype=np.float32)
    depth[:, 30:40] = 0.5  # a near block
    noisy = add_stereo_noise(depth, np.random.default_rng(2), QUIET, fx=300.0)
    # disparity gap = 300 px * 0.05 m * (1/0.5 - 1/0.8) 1/m = 11.25 px: shadow left of the block
    gap = int(300 * 0.05 * (1 / 0.5 - 1 / 0.8))
    assert np.isnan(noisy[:, 30 - gap:30]).all()
    assert np.isfinite(noisy[:, :30 - gap - 1]).all() and np.isfinite(noisy[:, 30:]).all()


def test_sampled_params_and_bad_input():
    params = sample_stereo_noise(np.random.default_rng(4))
    assert params.sigma_z2 > 0
    with pytest.raises(ValueError, match='H×W'):
        add_stereo_noise(np.zeros(5, np.float32), np.random.default_rng(0))
    with pytest.raises(ValueError, match='fx'):
        add_stereo_noise(np.ones((4, 4), np.float32), np.random.default_rng(0), fx=0.0)
