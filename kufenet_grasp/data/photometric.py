# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Random colour changes of a training image: exposure, contrast, saturation, white balance.

Rendered colour is cleaner than a real sensor's: a fixed light, exact colours and no auto
exposure or white balance. Drawing those per image (domain randomisation) keeps the network
from relying on the renderer's colours; the labels do not change.
"""

from __future__ import annotations

import numpy as np

#: luminance weights of RGB (ITU-R BT.601)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def jitter_colour(rgb: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Return ``rgb`` (uint8 H×W×3) with random photometric changes of ``strength`` in [0, 1].

    Each factor is drawn from ``[1 - strength, 1 + strength]``: exposure (a gain), contrast
    about the image mean, saturation (blend with the grey image); each channel's gain from a
    quarter of that range (white balance); with probability ``strength / 4`` the image turns
    grey. ``strength`` 0 returns the image unchanged.

    Raises:
        ValueError: ``strength`` outside [0, 1] or an image that is not uint8 H×W×3.
    """
    if not 0 <= strength <= 1:
        raise ValueError(f'jitter_colour: strength must be in [0, 1], got {strength}')
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f'jitter_colour: rgb must be uint8 H×W×3, got {rgb.dtype} '
                         f'{rgb.shape}')
    if strength == 0:
        return rgb
    lo, hi = 1.0 - strength, 1.0 + strength
    exposure, contrast, saturation = rng.uniform(lo, hi, 3)
    balance = rng.uniform(1.0 - strength / 4, 1.0 + strength / 4, 3)
    grey_only = rng.random() < strength / 4
    image: np.ndarray = rgb.astype(np.float32)
    grey = (image @ _LUMA)[..., None]
    if grey_only:  # a grey image has no white balance
        image, gain = np.repeat(grey, 3, axis=2), np.full(3, exposure)
    else:
        image, gain = grey + np.float32(saturation) * (image - grey), exposure * balance
    image *= gain.astype(np.float32)
    mean = image.mean(dtype=np.float64)
    image = np.float32(mean) + np.float32(contrast) * (image - np.float32(mean))
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)
