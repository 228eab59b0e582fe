# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Active-stereo depth sensor noise (RealSense-like) applied to a perfect z-depth image.

Input and output are ``float32`` H×W z-depth in metres, NaN invalid. The model, in order:
stereo occlusion shadows on the left of near objects (right imager at +x), axial noise whose
sigma grows with z² (disparity noise) plus a low-frequency correlated component, random
dropouts on depth edges, random blob holes, quantisation to ``quantum`` metres.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class StereoNoise:
    """Parameters of :func:`add_stereo_noise` (metres, pixels, probabilities)."""

    sigma_base: float = 0.0005  #: z-independent axial sigma (m)
    sigma_z2: float = 0.0025  #: axial sigma per z² (1/m): sigma = base + k z²
    correlated_sigma: float = 0.0015  #: sigma of the smooth per-image warp at 1 m (m)
    baseline: float = 0.05  #: stereo baseline (m) for occlusion shadows
    edge_threshold: float = 0.01  #: depth jump (m) between neighbours that counts as an edge
    edge_dropout: float = 0.5  #: probability of dropping an edge pixel (after dilation)
    holes: int = 4  #: mean number of random blob holes
    hole_radius: tuple[float, float] = (2.0, 8.0)  #: radius range of holes (px)
    quantum: float = 0.001  #: depth quantisation step (m)

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return asdict(self)


def sample_stereo_noise(rng: np.random.Generator) -> StereoNoise:
    """Random sensor quality, from a good structured-light camera to a noisy stereo one."""
    return StereoNoise(
        sigma_base=rng.uniform(0.0002, 0.001),
        sigma_z2=rng.uniform(0.001, 0.005),
        correlated_sigma=rng.uniform(0.0, 0.003),
        baseline=rng.uniform(0.03, 0.08),
        edge_dropout=rng.uniform(0.2, 0.8),
        holes=int(rng.integers(0, 9)),
        quantum=float(rng.choice([0.0001, 0.001])),
    )


def axial_sigma(depth: np.ndarray, params: StereoNoise) -> np.ndarray:
    """Per-pixel axial noise sigma (m) at z-depth ``depth`` (m)."""
    return params.sigma_base + params.sigma_z2 * np.square(depth)


def occlusion_mask(depth: np.ndarray, fx: float, baseline: float) -> np.ndarray:
    """Pixels seen by the left camera but hidden from the right one (disparity shadow)."""
    valid = np.isfinite(depth)
    disp = np.where(valid, fx * baseline / np.where(valid, depth, 1.0), 0.0)
    occluded = np.zeros(depth.shape, dtype=bool)
    max_shift = int(np.ceil(np.nanmax(disp) - np.nanmin(np.where(valid, disp, np.inf)))) \
        if valid.any() else 0
    for k in range(1, min(max_shift, depth.shape[1] - 1) + 1):
        # the right camera sits at +x: a pixel k columns to the right whose disparity is
        # larger by >= k lands on or past this one in the right image and hides it
        occluded[:, :-k] |= (disp[:, k:] - disp[:, :-k]) >= k
    return occluded & valid


def checked_depth(depth: np.ndarray, fx: float, caller: str
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(depth, valid, filled)``: the depth checked, its finite pixels, holes filled.

    ``depth`` becomes float32 H×W metres; ``filled`` has the holes set to the farthest depth
    (1 m if there is none). Raises ValueError naming ``caller`` for a depth that is not H×W or
    an ``fx`` <= 0 px.
    """
    d = np.asarray(depth, dtype=np.float32)
    if d.ndim != 2:
        raise ValueError(f'{caller}: depth must be H×W, got shape {d.shape}')
    if fx <= 0:
        raise ValueError(f'{caller}: fx must be > 0 px, got {fx}')
    valid = np.isfinite(d)
    filled = np.where(valid, d, np.nanmax(d) if valid.any() else 1.0).astype(np.float32)
    return d, valid, filled


def edge_dropout(depth: np.ndarray, threshold_m: float, probability: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Pixels dropped at depth edges: next to a jump over ``threshold_m`` (m), 3×3 dilated.

    Each such pixel is dropped with ``probability``; ``depth`` (m) has no NaN (holes filled).
    """
    import cv2

    gy = np.abs(np.diff(depth, axis=0, prepend=depth[:1]))
    gx = np.abs(np.diff(depth, axis=1, prepend=depth[:, :1]))
    edges = ((gx > threshold_m) | (gy > threshold_m)).astype(np.uint8)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8)).astype(bool)
    return edges & (rng.random(depth.shape) < probability)


def add_stereo_noise(
    depth: np.ndarray, rng: np.random.Generator, params: StereoNoise | None = None,
    fx: float = 300.0,
) -> np.ndarray:
    """Noisy copy of perfect z-depth ``depth`` (m) with NaN holes.

    ``fx`` is the focal length in pixels (sets the width of occlusion shadows).
    """
    import cv2

    d, valid, filled = checked_depth(depth, fx, 'add_stereo_noise')
    pr = params or StereoNoise()
    h, w = d.shape

    noisy = filled + rng.standard_normal(d.shape).astype(np.float32) * axial_sigma(filled, pr)
    if pr.correlated_sigma > 0:
        coarse = rng.standard_normal((max(2, h // 32), max(2, w // 32))).astype(np.float32)
        smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
        noisy += smooth * pr.correlated_sigma * np.square(filled)

    invalid = ~valid | occlusion_mask(np.where(valid, d, np.nan), fx, pr.baseline)
    invalid |= edge_dropout(filled, pr.edge_threshold, pr.edge_dropout, rng)
    # random blob holes (specular / dark / textureless patches)
    hole_img = np.zeros(d.shape, dtype=np.uint8)
    for _ in range(int(rng.poisson(pr.holes)) if pr.holes > 0 else 0):
        centre = (int(rng.integers(w)), int(rng.integers(h)))
        axes = (int(rng.uniform(*pr.hole_radius)), int(rng.uniform(*pr.hole_radius)))
        cv2.ellipse(hole_img, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    invalid |= hole_img.astype(bool)

    if pr.quantum > 0:
        noisy = np.round(noisy / pr.quantum) * pr.quantum
    out = noisy.astype(np.float32)
    out[invalid] = np.nan
    return out
