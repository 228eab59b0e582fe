# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The dominant support plane (table, shelf, bin floor) of a depth image, fitted robustly.

A plane seen by a pinhole camera has an inverse depth that is linear in the pixel coordinates:
``1/z = a*x + b*y + c`` (pixels ``(x, y)`` of the image it was fitted in, z in metres along
the optical axis). Fitting that form needs no intrinsics and is exact for any camera tilt, so
the same fit serves a wrist camera above the table and a head camera looking down at 45°.

The fit is RANSAC (all hypotheses scored at once with numpy) followed by a least-squares refit
on the inliers that adds small quadratic terms: real depth is not exactly a pinhole's (lens and
stereo distortion bend a flat table by millimetres to centimetres, and depth made from point
clouds, as Cornell's, is not z at all), and a flat support in the network input matters more
than the exact shape of the fit. A candidate is scored by its inliers minus twice the points
*behind* it: a support carries things, it does not hide them, so the top face of a large box in
front of the table loses to the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

from kufenet_grasp.geometry.camera import PinholeCamera
import numpy as np

#: at most this many valid pixels (a regular subsample) take part in a fit
MAX_FIT_POINTS = 800
#: RANSAC hypotheses drawn per fit
RANSAC_TRIALS = 64
#: depths beyond this (m) take no part in a fit: no RGB-D sensor measures them, and their
#: squares overflow the float32 the hypotheses are scored in
MAX_FIT_DEPTH_M = 100.0


@overload
def inlier_tolerance_m(z_m: float) -> float: ...


@overload
def inlier_tolerance_m(z_m: np.ndarray) -> np.ndarray: ...


def inlier_tolerance_m(z_m: np.ndarray | float) -> np.ndarray | float:
    """Largest distance from the plane (m, along the ray) of a point that lies on it.

    Grows with z² as the noise of structured-light and stereo depth does (5 mm at 0.3 m,
    12 mm at 1.15 m, 16 mm at 1.5 m): wide enough for a Kinect v1 or a RealSense at range,
    narrow enough that a 2 cm tall object stands out.
    """
    return 0.005 + 0.005 * np.square(z_m)


@dataclass(frozen=True)
class SupportPlane:
    """A plane ``1/z = a*x + b*y + c`` in the pixels of the image it was fitted in.

    The optional ``curvature`` ``(d, e, f)`` adds ``d u² + e v² + f u v`` with ``u = x / scale``,
    ``v = y / scale`` (the correction of distorted depth); height and tilt use the plane part.

    Attributes:
        a, b: inverse-depth slope, 1/(m px); c: inverse depth at pixel (0, 0), 1/m.
        inlier_fraction: share of the fitted valid pixels within :func:`inlier_tolerance_m`.
        curvature: quadratic terms (1/m) in coordinates divided by ``scale`` (px).

    """

    a: float
    b: float
    c: float
    inlier_fraction: float
    curvature: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: float = 1.0

    def shifted(self, x0: float, y0: float) -> SupportPlane:
        """Return the surface in the pixels of an image whose pixel (0, 0) is (x0, y0) here."""
        d, e, f = self.curvature
        k = 1.0 / self.scale
        u0, v0 = x0 * k, y0 * k
        # w(x + x0, y + y0): expand the quadratic around (u0, v0)
        a = self.a + (2 * d * u0 + f * v0) * k
        b = self.b + (2 * e * v0 + f * u0) * k
        c = (self.c + self.a * x0 + self.b * y0 + d * u0 * u0 + e * v0 * v0 + f * u0 * v0)
        return SupportPlane(a, b, c, self.inlier_fraction, self.curvature, self.scale)

    def inverse_depth(self, x: np.ndarray | float, y: np.ndarray | float,
                      dtype: type[np.floating] = np.float64) -> np.ndarray:
        """Inverse depth (1/m) of the surface at pixels ``(x, y)``, as ``dtype``.

        ``x`` and ``y`` broadcast: columns ``x[None, :]`` and rows ``y[:, None]`` give the
        whole grid at the cost of one grid-sized sum (the terms in x alone and in y alone are
        summed on the axes first), which the network input uses on every frame in float32.
        """
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        d, e, f = self.curvature
        k = 1.0 / self.scale
        along_x = self.a * x + self.c + d * (x * k) ** 2
        along_y = self.b * y + e * (y * k) ** 2
        inverse = along_x.astype(dtype) + along_y.astype(dtype)
        if f:
            inverse = inverse + dtype(f * k * k) * (x.astype(dtype) * y.astype(dtype))
        return inverse

    def _optical_normal(self, camera: PinholeCamera) -> np.ndarray:
        """``m = (a fx, b fy, a cx + b cy + c)`` (1/m) of the plane ``m·P = 1``, optical frame."""
        return np.array([self.a * camera.fx, self.b * camera.fy,
                         self.a * camera.cx + self.b * camera.cy + self.c])

    def normal_scale(self, camera: PinholeCamera) -> float:
        """``|m|`` (1/m): a point at depth z lies ``(1 - z / z_plane) / |m|`` m above the plane."""
        return float(np.linalg.norm(self._optical_normal(camera)))

    def depth_m(self, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
        """Depth of the support (m, along the optical axis) at pixels ``(x, y)``; NaN behind."""
        inverse = self.inverse_depth(x, y)
        with np.errstate(divide='ignore', invalid='ignore'):
            return np.where(inverse > 0, 1.0 / inverse, np.nan)

    def height_m(self, depth_m: np.ndarray, x: np.ndarray, y: np.ndarray,
                 camera: PinholeCamera | None = None) -> np.ndarray:
        """Height (m) of the points at pixels ``(x, y)`` above the plane, toward the camera.

        With the intrinsics the height is the perpendicular distance; without them, the depth
        difference along the optical axis (equal for a camera looking straight down).
        """
        plane_z = self.depth_m(x, y)
        depth = np.asarray(depth_m, float)
        if camera is None:
            return plane_z - depth
        return (1.0 - depth / plane_z) / self.normal_scale(camera)

    def tilt_deg(self, camera: PinholeCamera) -> float:
        """Angle (degrees) between the optical axis and the plane's normal."""
        m = self._optical_normal(camera)
        return float(np.degrees(np.arccos(min(1.0, abs(m[2]) / np.linalg.norm(m)))))


def _sample_points(depth: np.ndarray,
                   max_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel columns, rows and depths of a regular subsample of the valid pixels."""
    with np.errstate(invalid='ignore'):
        valid = (depth > 0) & (depth < MAX_FIT_DEPTH_M)  # False for NaN and inf
    count = int(valid.sum())
    stride = max(1, int(np.ceil(np.sqrt(count / max_points)))) if count else 1
    sub = valid[::stride, ::stride]
    ys, xs = np.nonzero(sub)
    return xs * float(stride), ys * float(stride), depth[::stride, ::stride][sub]


def _refit(design: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """Least-squares ``(a, b, c)`` of ``inverse ≈ design @ (a, b, c)``."""
    return np.linalg.lstsq(design, inverse, rcond=None)[0]


def fit_support_plane(depth_m: np.ndarray, *, min_inlier_fraction: float = 0.3,
                      max_points: int = MAX_FIT_POINTS, trials: int = RANSAC_TRIALS,
                      seed: int = 0) -> tuple[SupportPlane | None, float]:
    """Fit the dominant support plane of a float depth image (m, NaN/<= 0 invalid).

    Returns ``(plane, inlier_fraction)``; ``plane`` is None when no plane holds at least
    ``min_inlier_fraction`` of the valid pixels (a bin seen from the side, a hand-held object,
    too few valid pixels), and ``inlier_fraction`` is then the best candidate's. The fit is
    deterministic for a given ``seed``.
    """
    depth = np.asarray(depth_m)
    if not np.issubdtype(depth.dtype, np.floating):
        depth = depth.astype(np.float64)
    if depth.ndim != 2:
        raise ValueError(f'fit_support_plane: depth_m must be H×W, got shape {depth.shape}')
    xs, ys, zs = _sample_points(depth, max_points)  # only the samples become float64
    zs = zs.astype(np.float64)
    if zs.size < 16:
        return None, 0.0
    design = np.stack([xs, ys, np.ones_like(xs)], axis=1)
    inverse = 1.0 / zs
    tolerance = inlier_tolerance_m(zs)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, zs.size, size=(trials, 3))
    systems = design[picks]  # (trials, 3, 3)
    solvable = np.abs(np.linalg.det(systems)) > 1e-9
    if not solvable.any():
        return None, 0.0
    params = np.linalg.solve(systems[solvable], inverse[picks[solvable]][..., None])[..., 0]
    # every hypothesis against every point in float32 (residuals ~1e-7 m off, against a
    # tolerance of millimetres): the largest arrays of the fit, on every frame
    z32 = zs.astype(np.float32)[None, :]
    plane_inverse = params.astype(np.float32) @ design.T.astype(np.float32)
    # z (z / z_plane - 1): the distance behind the plane (m) near it, no division needed
    residual = z32 * (z32 * plane_inverse - np.float32(1.0))
    tolerance32 = tolerance.astype(np.float32)[None, :]
    inliers = np.abs(residual) <= tolerance32
    behind = residual > 2.0 * tolerance32
    score = inliers.sum(axis=1) - 2 * behind.sum(axis=1)
    best = int(np.argmax(score))
    mask = inliers[best]
    scale = float(max(depth.shape))
    quadratic = np.concatenate([design, np.stack([(xs / scale) ** 2, (ys / scale) ** 2,
                                                  xs * ys / scale ** 2], axis=1)], axis=1)
    coef = params[best]
    for columns in (3, 6, 6):  # refit the plane, then add the quadratic terms, twice
        if mask.sum() < 2 * columns:
            break
        coef = _refit(quadratic[mask, :columns], inverse[mask])
        residual = zs * (zs * (quadratic[:, :columns] @ coef) - 1.0)
        mask = np.abs(residual) <= tolerance
    fraction = float(mask.mean())
    if fraction < min_inlier_fraction or mask.sum() < 12:
        return None, fraction
    coef = np.concatenate([coef, np.zeros(6 - coef.size)])
    return SupportPlane(float(coef[0]), float(coef[1]), float(coef[2]), fraction,
                        (float(coef[3]), float(coef[4]), float(coef[5])), scale), fraction
