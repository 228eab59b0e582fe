# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Contact sheets: a PNG grid of dataset samples (colour with labels, and depth)."""

from __future__ import annotations

from collections.abc import Sequence
import math
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
from kufenet_grasp.data.base import GraspDataset
from kufenet_grasp.data.sample import GraspSample
import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kufenet_grasp.grasp.rectangle import GraspRectangle


def draw_rectangles(rgb: np.ndarray, rects: Sequence[GraspRectangle]) -> np.ndarray:
    """Copy of an RGB image (uint8 H×W×3) with each grasp drawn (jaws bright green)."""
    from kufenet_grasp.grasp.drawing import draw_grasps

    thickness = max(1, round(min(rgb.shape[:2]) / 240))
    return draw_grasps(rgb, rects, color=(0, 255, 0), thickness=thickness,
                       label_quality=False)


def depth_to_rgb(depth: np.ndarray) -> np.ndarray:
    """Colour-map a depth image (metres, NaN invalid) to RGB uint8; invalid pixels black."""
    valid = np.isfinite(depth)
    out = np.zeros(depth.shape + (3,), np.uint8)
    if not valid.any():
        return out
    lo, hi = np.percentile(depth[valid], [1, 99])
    scaled = np.clip((depth - lo) / max(hi - lo, 1e-6), 0, 1)
    grey = np.where(valid, 255 - scaled * 255, 0).astype(np.uint8)
    coloured = cv2.cvtColor(cv2.applyColorMap(grey, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)
    out[valid] = coloured[valid]
    return out


def sample_tile(sample: GraspSample, tile: int = 256) -> np.ndarray:
    """Side-by-side panel (RGB uint8, ``tile`` px high): labelled colour image and depth."""
    h, w = sample.shape
    scale = tile / h
    size = (max(1, round(w * scale)), tile)
    colour = cv2.resize(draw_rectangles(sample.rgb, sample.rectangles), size,
                        interpolation=cv2.INTER_AREA)
    depth = cv2.resize(depth_to_rgb(sample.depth), size, interpolation=cv2.INTER_NEAREST)
    panel = np.concatenate([colour, depth], axis=1)
    label = f'{sample.name} ({len(sample.rectangles)} grasps)'
    cv2.putText(panel, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                cv2.LINE_AA)
    return panel


def contact_sheet(samples: Sequence[GraspSample], tile: int = 256,
                  columns: int | None = None) -> np.ndarray:
    """Grid of :func:`sample_tile` panels (RGB uint8); tiles are padded to a common width."""
    if not samples:
        raise ValueError('contact_sheet: no samples to draw')
    tiles = [sample_tile(s, tile) for s in samples]
    width = max(t.shape[1] for t in tiles)
    tiles = [np.pad(t, ((0, 0), (0, width - t.shape[1]), (0, 0))) for t in tiles]
    cols = columns or max(1, math.ceil(math.sqrt(len(tiles) / 2)))
    rows = math.ceil(len(tiles) / cols)
    blank = np.zeros_like(tiles[0])
    tiles += [blank] * (rows * cols - len(tiles))
    return np.concatenate(
        [np.concatenate(tiles[r * cols:(r + 1) * cols], axis=1) for r in range(rows)], axis=0
    )


def pick_indices(n_total: int, n: int, seed: int = 0) -> list[int]:
    """``min(n, n_total)`` distinct indices drawn with ``seed``, sorted."""
    if n < 1:
        raise ValueError(f'contact sheet: --n must be >= 1, got {n}')
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(n_total, size=min(n, n_total), replace=False))


def write_contact_sheet(dataset: GraspDataset, out: str | Path, n: int = 16, seed: int = 0,
                        tile: int = 256) -> list[int]:
    """Draw ``n`` random samples of ``dataset`` into the PNG ``out``; return their indices."""
    indices = pick_indices(len(dataset), n, seed)
    sheet = contact_sheet([dataset[i] for i in indices], tile)
    out = Path(out)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise OSError(f'{out}: could not write the contact sheet (is the suffix .png?)')
    return indices
