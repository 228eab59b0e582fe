"""Timing of the per-frame work around the network: pre- and post-processing.

Pre-processing takes a synthetic 640×480 RGB-D frame (uint8 RGB, float32 depth in metres with
2 % invalid NaN pixels, so inpainting runs) through ``make_crop`` + ``apply_crop`` (centre
square, resized to S×S) and ``normalise_rgbd``. Post-processing runs ``maps_to_grasps`` (top
1 grasp, default smoothing) on (4, S, S) maps with a few smooth quality peaks. Times in ms.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from kufenet_grasp.deploy.bench import check_positive, summarise

FRAME_HW = (480, 640)
INVALID_FRACTION = 0.02


def synthetic_frame(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rgb uint8 480×640×3, depth float32 480×640 m): a tilted table at ~0.6 m with holes."""
    rng = np.random.default_rng(seed)
    height, width = FRAME_HW
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    rows = np.linspace(0.0, 0.1, height, dtype=np.float32)[:, None]
    depth = 0.6 + rows + rng.normal(0.0, 0.002, (height, width)).astype(np.float32)
    depth[rng.random((height, width)) < INVALID_FRACTION] = np.nan
    return rgb, depth.astype(np.float32)


def synthetic_maps(size: int, seed: int = 0) -> np.ndarray:
    """(4, size, size) float32 maps: 3 Gaussian quality peaks, random angle, width 0.3."""
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:size, 0:size].astype(np.float32)
    quality = np.zeros((size, size), np.float32)
    for cu, cv, peak in zip(rng.uniform(0, size, 3), rng.uniform(0, size, 3), (0.9, 0.7, 0.5)):
        quality += peak * np.exp(-((u - cu) ** 2 + (v - cv) ** 2) / (2 * (size / 20) ** 2))
    angle = rng.uniform(-np.pi / 2, np.pi / 2, (size, size)).astype(np.float32)
    width = np.full((size, size), 0.3, np.float32)
    return np.stack([quality, np.cos(2 * angle), np.sin(2 * angle), width]).astype(np.float32)


def _time(run: Callable[[], object], repeats: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def time_stages(sizes: Sequence[int], *, repeats: int = 50, warmup: int = 5
                ) -> list[dict[str, float | int | str]]:
    """Median / p95 / mean / min ms of 'preprocess' and 'postprocess' for each input side S."""
    from kufenet_grasp.grasp.postprocess import maps_to_grasps
    from kufenet_grasp.grasp.preprocess import apply_crop, make_crop, normalise_rgbd

    repeats = check_positive("repeats", repeats)
    rgb, depth = synthetic_frame()
    rows: list[dict[str, float | int | str]] = []
    for size in sizes:
        size = check_positive("sizes", size)

        def preprocess(s: int = size) -> np.ndarray:
            crop = make_crop(FRAME_HW, s)
            rgb_crop, depth_crop = apply_crop(rgb, depth, crop)
            return normalise_rgbd(rgb_crop, depth_crop)[None]

        maps = synthetic_maps(size)
        stages = {"preprocess": preprocess, "postprocess": lambda m=maps: maps_to_grasps(m)}
        for stage, run in stages.items():
            stats = summarise(_time(run, repeats, warmup))
            rows.append({"stage": stage, "size": size,
                         **{k: round(v, 4) for k, v in stats.items()}})
    return rows
