# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Colour camera noise: gain, noise level and input validation."""

from kufenet_grasp.sim.rgb_noise import add_rgb_noise, RgbNoise, sample_rgb_noise
import numpy as np
import pytest


def test_gain_and_noise_statistics():
    rng = np.random.default_rng(0)
    grey = np.full((64, 64, 3), 100, dtype=np.uint8)
    out = add_rgb_noise(grey, rng, RgbNoise(gain=(1.2, 1.0, 0.8), noise_sigma=3.0))
    assert out.dtype == np.uint8 and out.shape == grey.shape
    means = out.reshape(-1, 3).mean(axis=0)
    assert np.allclose(means, [120, 100, 80], atol=1.0)
    assert 2.5 < out[..., 1].std() < 3.5
    clean = add_rgb_noise(grey, rng, RgbNoise(noise_sigma=0.0))
    assert np.array_equal(clean, grey)


def test_sampled_params_and_bad_input():
    params = sample_rgb_noise(np.random.default_rng(1))
    assert all(0.7 < g < 1.3 for g in params.gain)
    with pytest.raises(ValueError, match='uint8'):
        add_rgb_noise(np.zeros((4, 4), np.uint8), np.random.default_rng(0))
