# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Timing of the per-frame work around the network: pre- and post-processing.

Pre-processing takes a synthetic 640×480 RGB-D frame (uint8 RGB, float32 depth in metres with
2 % invalid NaN pixels, so inpainting runs) through ``make_crop`` + ``apply_crop`` (centre
square, resized to S×S) and ``normalise_rgbd``. Post-processing runs ``maps_to_grasps`` (top
1 grasp, default smoothing) on (4, S, S) maps with a few smooth quality peaks. The detector's
whole post-processing ('grasps': ``GraspDetector.grasps_from_maps`` with the node's defaults:
top 5 peaks, each with centre depth, width, object span, finger check and pose) runs on five
peaks over the same frame seen by a 615 px focal-length camera. Times in ms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import functools
import time

from kufenet_grasp.bench.inference import check_positive, summarise
from kufenet_grasp.detection.detector import DetectorConfig, GraspDetector
from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.finger_clearance import FingerModel
from kufenet_grasp.grasp.model_input import InputSpec, prepare_input
from kufenet_grasp.grasp.postprocess import maps_to_grasps
from kufenet_grasp.grasp.preprocess import apply_crop, make_crop, normalise_rgbd
import numpy as np

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


def synthetic_maps(size: int, seed: int = 0, peaks: int = 3, width: float = 0.3) -> np.ndarray:
    """(4, size, size) float32 maps: Gaussian quality peaks (0.9 down to 0.5), random angle.

    ``width`` is the width map's constant value (opening / 150 px of the input).
    """
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:size, 0:size].astype(np.float32)
    quality = np.zeros((size, size), np.float32)
    heights = np.linspace(0.9, 0.5, peaks)
    for cu, cv, peak in zip(rng.uniform(0, size, peaks), rng.uniform(0, size, peaks), heights):
        quality += peak * np.exp(-((u - cu) ** 2 + (v - cv) ** 2) / (2 * (size / 20) ** 2))
    angle = rng.uniform(-np.pi / 2, np.pi / 2, (size, size)).astype(np.float32)
    width_map = np.full((size, size), width, np.float32)
    return np.stack([quality, np.cos(2 * angle), np.sin(2 * angle), width_map]
                    ).astype(np.float32)


def with_boxes(depth_m: np.ndarray, centres_px: Sequence[tuple[float, float]],
               side_px: int = 31, height_m: float = 0.03) -> np.ndarray:
    """Copy of ``depth_m`` with a square box (``side_px``, ``height_m`` tall) at each centre.

    31 px is 3 cm at 0.6 m for a 615 px focal length: the fingers of a 4.5 cm grasp clear it.
    """
    out = depth_m.copy()
    half = side_px // 2
    for u, v in centres_px:
        col, row = int(round(u)), int(round(v))
        window = out[max(row - half, 0):row + half + 1, max(col - half, 0):col + half + 1]
        window -= height_m
    return out


def grasp_stage_inputs(size: int, depth_m: np.ndarray) -> tuple:
    """(detector, maps, crop, depth with boxes, camera) for ``GraspDetector.grasps_from_maps``.

    The detector has the node's defaults (top 5, finger check on); five quality peaks of
    ~4.5 cm openings each sit on a 3 cm box, so every peak goes through the whole per-grasp
    path (depth, width, object span, finger check, pose) and comes out as a grasp.
    """
    config = DetectorConfig(input_size=size, fingers=FingerModel())
    detector = GraspDetector(lambda x: x, config)
    maps = synthetic_maps(size, peaks=config.top_k, width=0.15)
    crop = make_crop(depth_m.shape, size)
    peaks = maps_to_grasps(maps, top_k=config.top_k, min_distance=config.min_distance_px,
                           quality_threshold=config.quality_threshold)
    scene = with_boxes(depth_m, [crop.rect_to_image(p).center for p in peaks])
    camera = PinholeCamera(615.0, 615.0, 319.5, 239.5, depth_m.shape[1], depth_m.shape[0])
    return detector, maps, crop, scene, camera


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
    """Median / p95 / mean / min ms of each stage for each S.

    'preprocess' is the legacy input (pixel crop), 'preprocess_metric' the shipped weights'
    (0.5 m window at the support placed on the objects, support plane fitted and removed;
    the frame's boxes are the objects), 'postprocess' the peak
    search and 'grasps' the metric post-processing of five grasps.
    """
    repeats = check_positive('repeats', repeats)
    rgb, depth = synthetic_frame()
    rows: list[dict[str, float | int | str]] = []
    for size in sizes:
        size = check_positive('sizes', size)

        def preprocess(s: int = size) -> np.ndarray:
            crop = make_crop(FRAME_HW, s)
            rgb_crop, depth_crop = apply_crop(rgb, depth, crop)
            return normalise_rgbd(rgb_crop, depth_crop)[None]

        camera = PinholeCamera(615.0, 615.0, 319.5, 239.5, FRAME_HW[1], FRAME_HW[0])
        metric = InputSpec(window_m=0.5, support_plane=True, on_objects=True)

        def preprocess_metric(s: int = size) -> np.ndarray:
            return prepare_input(rgb, depth, metric, s, camera).x[None]

        maps = synthetic_maps(size)
        grasp_inputs = grasp_stage_inputs(size, depth)

        def grasps(inputs: tuple = grasp_inputs) -> object:
            detector, *args = inputs
            return detector.grasps_from_maps(*args)

        stages: dict[str, Callable[[], object]] = {
            'preprocess': preprocess, 'preprocess_metric': preprocess_metric,
            'postprocess': functools.partial(maps_to_grasps, maps), 'grasps': grasps}
        for stage, run in stages.items():
            stats = summarise(_time(run, repeats, warmup))
            rows.append({'stage': stage, 'size': size,
                         **{k: round(v, 4) for k, v in stats.items()}})
    return rows
