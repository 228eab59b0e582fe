# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Structured-light depth sensor noise (Kinect v1-like) applied to a perfect z-depth image.

Input and output are ``float32`` H×W z-depth in metres, NaN invalid. The model, in order:

- axial noise with sigma = 1.2 mm + 1.9 mm·(z - 0.4 m)² plus the incidence-angle term of
  Nguyen, Izadi and Lovell (2012), "Modeling Kinect sensor noise for improved 3D reconstruction
  and tracking": 0.1 mm/√z · θ²/(π/2 - θ)², θ the angle between the ray and the surface normal;
- disparity quantisation: the sensor measures disparity d = f·b/z in steps of 1/8 px of its own
  640-px-wide IR image (f ≈ 580 px, projector-camera baseline b = 7.5 cm), so z snaps to
  f·b / (k/8); the step grows as z²;
- projector shadows: surfaces the camera sees but the projector (at +x, ``baseline`` m) does
  not light, on one side of every near object;
- holes where the surface is steep (θ above ``max_incidence_deg``) or dark (low reflectance, from
  the rendered colour), dropouts on depth edges, and no depth outside ``range_m``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import math

from kufenet_grasp.sim.depth_noise import checked_depth, edge_dropout, occlusion_mask
import numpy as np


@dataclass(frozen=True)
class StructuredLightNoise:
    """Parameters of :func:`add_structured_light_noise` (metres, pixels, degrees, 0..1)."""

    sigma_base: float = 0.0012  #: axial sigma at 0.4 m (m)
    sigma_quad: float = 0.0019  #: growth of the axial sigma per (z - 0.4 m)² (1/m)
    baseline: float = 0.075  #: projector-camera baseline (m)
    sensor_fx: float = 580.0  #: focal length of the sensor's own IR image (px)
    subpixel: float = 8.0  #: disparity steps per pixel
    max_incidence_deg: float = 75.0  #: steeper surfaces return no depth
    dark_threshold: float = 0.08  #: surfaces darker than this (0..1 luminance) may drop out
    dark_dropout: float = 0.7  #: probability of dropping a dark pixel
    edge_threshold: float = 0.01  #: depth jump (m) between neighbours that counts as an edge
    edge_dropout: float = 0.5  #: probability of dropping an edge pixel (after dilation)
    range_m: tuple[float, float] = (0.45, 4.0)  #: depth the sensor measures (m)

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return asdict(self)


def sample_structured_light_noise(rng: np.random.Generator) -> StructuredLightNoise:
    """Random unit-to-unit and scene-to-scene variation around the Kinect v1 values."""
    return StructuredLightNoise(
        sigma_base=float(rng.uniform(0.001, 0.0015)),
        sigma_quad=float(rng.uniform(0.0016, 0.0024)),
        max_incidence_deg=float(rng.uniform(70.0, 80.0)),
        dark_threshold=float(rng.uniform(0.04, 0.12)),
        edge_dropout=float(rng.uniform(0.3, 0.7)),
    )


def axial_sigma(depth: np.ndarray, incidence: np.ndarray, params: StructuredLightNoise
                ) -> np.ndarray:
    """Axial noise sigma (m) at z-depth ``depth`` (m) and incidence angle ``incidence`` (rad)."""
    theta = np.clip(incidence, 0.0, math.radians(85.0))
    lateral = 0.0001 / np.sqrt(np.maximum(depth, 1e-3)) * theta ** 2 / (math.pi / 2 - theta) ** 2
    return params.sigma_base + params.sigma_quad * np.square(depth - 0.4) + lateral


def quantise_disparity(depth: np.ndarray, params: StructuredLightNoise) -> np.ndarray:
    """Z-depth (m) snapped to the sensor's disparity steps of 1/``subpixel`` px."""
    fb = params.sensor_fx * params.baseline
    steps = np.maximum(np.round(fb / np.maximum(depth, 1e-6) * params.subpixel), 1.0)
    return (fb * params.subpixel / steps).astype(np.float32)


def incidence_angles(depth: np.ndarray, fx: float, fy: float, cx: float, cy: float
                     ) -> np.ndarray:
    """Angle (rad) between each pixel's ray and its surface normal, from z-depth (m).

    NaN depth gives NaN.
    """
    h, w = depth.shape
    xs = (np.arange(w, dtype=np.float32)[None, :] - cx) / fx
    ys = (np.arange(h, dtype=np.float32)[:, None] - cy) / fy
    pts = np.stack([xs * depth, ys * depth, depth.astype(np.float32)], axis=-1)
    du = np.gradient(pts, axis=1)
    dv = np.gradient(pts, axis=0)
    normal = np.cross(du, dv)
    ray = pts / np.linalg.norm(pts, axis=-1, keepdims=True)
    cos = np.abs(np.sum(normal * ray, axis=-1)) / np.maximum(np.linalg.norm(normal, axis=-1),
                                                             1e-12)
    return np.arccos(np.clip(cos, 0.0, 1.0))


def add_structured_light_noise(
    depth: np.ndarray, rgb: np.ndarray | None, rng: np.random.Generator,
    params: StructuredLightNoise | None = None, fx: float = 300.0, fy: float | None = None,
    cx: float | None = None, cy: float | None = None,
) -> np.ndarray:
    """Noisy copy of perfect z-depth ``depth`` (m) with NaN holes, as a Kinect v1 returns it.

    ``rgb`` (uint8 H×W×3, the same view) marks dark surfaces; ``fx``, ``fy``, ``cx``, ``cy``
    are the image's intrinsics (px; principal point defaults to the centre).
    """
    d, valid, filled = checked_depth(depth, fx, 'add_structured_light_noise')
    pr = params or StructuredLightNoise()
    h, w = d.shape
    fy = fx if fy is None else fy
    cx = (w - 1) / 2.0 if cx is None else cx
    cy = (h - 1) / 2.0 if cy is None else cy

    incidence = incidence_angles(filled, fx, fy, cx, cy)
    noisy = filled + rng.standard_normal(d.shape).astype(np.float32) * \
        axial_sigma(filled, incidence, pr).astype(np.float32)
    noisy = quantise_disparity(noisy, pr)

    invalid = ~valid | occlusion_mask(np.where(valid, d, np.nan), fx, pr.baseline)
    invalid |= incidence > math.radians(pr.max_incidence_deg)
    invalid |= (filled < pr.range_m[0]) | (filled > pr.range_m[1])
    if rgb is not None:
        lum = np.asarray(rgb, dtype=np.float32).mean(axis=-1) / 255.0
        invalid |= (lum < pr.dark_threshold) & (rng.random(d.shape) < pr.dark_dropout)
    invalid |= edge_dropout(filled, pr.edge_threshold, pr.edge_dropout, rng)

    out = noisy.astype(np.float32)
    out[invalid] = np.nan
    return out
