# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Colour camera imperfections applied to a rendered RGB image (uint8 H×W×3, RGB order).

Exposure and white-balance gain, mild defocus blur and per-pixel sensor noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from kufenet_grasp.common.vectors import float3
import numpy as np


@dataclass(frozen=True)
class RgbNoise:
    """Parameters of :func:`add_rgb_noise` (gains unitless, blur sigma px, noise in 0..255)."""

    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    blur_sigma: float = 0.0
    noise_sigma: float = 2.0

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return asdict(self)


def sample_rgb_noise(rng: np.random.Generator) -> RgbNoise:
    """Random exposure (±20 %), white balance (±6 % per channel), blur and noise levels."""
    exposure = rng.uniform(0.8, 1.2)
    gain = float3(exposure * rng.uniform(0.94, 1.06) for _ in range(3))
    blur = float(rng.uniform(0.3, 1.0)) if rng.random() < 0.4 else 0.0
    return RgbNoise(gain=gain, blur_sigma=blur, noise_sigma=float(rng.uniform(0.5, 4.0)))


def add_rgb_noise(rgb: np.ndarray, rng: np.random.Generator, params: RgbNoise | None = None
                  ) -> np.ndarray:
    """Noisy copy of ``rgb`` (uint8 H×W×3)."""
    import cv2

    img = np.asarray(rgb)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f'add_rgb_noise: rgb must be uint8 H×W×3, got {img.dtype} {img.shape}')
    pr = params or RgbNoise()
    out: np.ndarray = img.astype(np.float32) * np.asarray(pr.gain, dtype=np.float32)[None, None, :]
    if pr.blur_sigma > 0:
        out = cv2.GaussianBlur(out, (0, 0), pr.blur_sigma)
    out += rng.standard_normal(out.shape).astype(np.float32) * pr.noise_sigma
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
