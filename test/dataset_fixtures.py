# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Tiny Cornell and Jacquard datasets written in the exact on-disk formats, for tests.

Each scene shows a bright bar (the "object") on a grey table; its grasp labels cross the bar
at its middle. The writers return the ground truth they wrote so tests can compare.
Pixel frame: x right, y down; angles in radians counter-clockwise as displayed; depth in
metres.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from pathlib import Path

import cv2
import numpy as np

CORNELL_SHAPE = (480, 640)  # (height, width): the PCD index mapping assumes 640 columns


@dataclass(frozen=True)
class RectSpec:
    """A ground-truth grasp: centre (x, y) px, angle rad, opening px, jaw px."""

    x: float
    y: float
    angle: float
    opening: float
    jaw: float

    def corners(self) -> np.ndarray:
        """Return the 4×2 corner points (x, y) px; p0→p1 is the closing axis (GR-ConvNet)."""
        d = np.array([math.cos(self.angle), -math.sin(self.angle)])
        n = np.array([math.sin(self.angle), math.cos(self.angle)])
        c = np.array([self.x, self.y])
        o, j = self.opening / 2.0, self.jaw / 2.0
        return np.array([c - o * d - j * n, c + o * d - j * n,
                         c + o * d + j * n, c - o * d + j * n])


@dataclass
class FixtureImage:
    """What was written for one image."""

    name: str
    object_id: str
    rgb_path: Path
    rgb: np.ndarray
    depth: np.ndarray  # float32 metres, NaN where the files say invalid
    rectangles: list[RectSpec]
    mask: np.ndarray | None = None
    n_nan_rectangles: int = 0
    files: dict[str, Path] = field(default_factory=dict)


def _scene(rng: np.random.Generator, height: int, width: int, n_rects: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[RectSpec]]:
    """Draw a bar scene: rgb uint8, depth metres (table 0.70 m, bar 0.65 m), mask, labels."""
    rgb = np.full((height, width, 3), 90, np.uint8)
    depth = np.full((height, width), 0.70, np.float32)
    mask = np.zeros((height, width), np.uint8)
    cx = width * rng.uniform(0.4, 0.6)
    cy = height * rng.uniform(0.4, 0.6)
    length = min(height, width) * 0.3
    thick = max(4.0, min(height, width) * 0.06)
    bar_angle = float(rng.uniform(-math.pi / 2, math.pi / 2))
    bar = RectSpec(cx, cy, bar_angle, length, thick)
    poly = np.round(bar.corners()).astype(np.int32)
    cv2.fillPoly(rgb, [poly], (250, 240, 60))
    cv2.fillPoly(mask, [poly], 255)
    depth[mask > 0] = 0.65
    # grasps cross the bar: closing axis perpendicular to it, centres along its middle
    rects = []
    for k in range(n_rects):
        t = (k - (n_rects - 1) / 2.0) * length * 0.2
        gx = cx + t * math.cos(bar_angle)
        gy = cy - t * math.sin(bar_angle)
        angle = (bar_angle + math.pi / 2 + math.pi / 2) % math.pi - math.pi / 2
        rects.append(RectSpec(float(gx), float(gy), float(angle), thick * 2.5,
                              float(thick * rng.uniform(0.8, 1.2))))
    return rgb, depth, mask, rects


def _write_rgb(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image as PNG."""
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f'could not write {path}')


def _write_pcd(path: Path, depth: np.ndarray, rng: np.random.Generator) -> None:
    """Write a PCD v0.7 ASCII cloud (x y z rgb index, mm) whose norms/1000 equal ``depth``."""
    height, width = depth.shape
    index = np.flatnonzero(np.isfinite(depth.ravel()))
    rows, cols = index // width, index % width
    direction = np.stack([(cols - width / 2.0) / 500.0, (rows - height / 2.0) / 500.0,
                          np.ones(index.size)], axis=1)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    xyz = direction * (depth.ravel()[index].astype(np.float64) * 1000.0)[:, None]
    colour = rng.uniform(1e6, 1.6e7, index.size)
    header = ('# .PCD v.7 - Point Cloud Data file format\n'
              'FIELDS x y z rgb index\nSIZE 4 4 4 4 4\nTYPE F F F F U\nCOUNT 1 1 1 1 1\n'
              f'WIDTH {index.size}\nHEIGHT 1\nPOINTS {index.size}\nDATA ascii\n')
    table = np.column_stack([xyz, colour, index])
    with open(path, 'w') as f:
        f.write(header)
        np.savetxt(f, table, fmt=['%.9g', '%.9g', '%.9g', '%.6e', '%d'])


def write_cornell_fixture(
    root: str | Path,
    n_images: int = 3,
    *,
    start: int = 100,
    per_folder: int = 2,
    with_tiff: bool = True,
    with_pcd: bool = True,
    nan_rectangle: bool = True,
    n_rects: int = 3,
    seed: int = 0,
) -> list[FixtureImage]:
    """Write ``n_images`` 640×480 Cornell scenes under ``root`` in the official layout.

    Files: ``root/01/pcd0100r.png``, ``pcd0100cpos.txt`` (4 "x y" lines per rectangle; the
    first image also gets a rectangle with NaN corners if ``nan_rectangle``), ``pcd0100d.tiff``
    (float32 metres, 0 = invalid) and ``pcd0100.txt`` (PCD v0.7 ASCII, points only inside the
    central valid area). Images are numbered from ``start``, ``per_folder`` per folder.
    Returns the ground truth per image (``depth`` NaN outside the valid area; ``object_id``
    as the reader's default heuristic gives it: ``cornell-<number // 10>``).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    height, width = CORNELL_SHAPE
    images = []
    for i in range(n_images):
        number = start + i
        folder = root / f'{i // per_folder + 1:02d}'
        folder.mkdir(parents=True, exist_ok=True)
        name = f'pcd{number:04d}'
        rgb, depth, _, rects = _scene(rng, height, width, n_rects)
        valid = np.zeros_like(depth, dtype=bool)
        valid[height // 4: 3 * height // 4, width // 4: 3 * width // 4] = True
        valid &= rng.random(depth.shape) > 0.02  # sensor holes
        depth = np.where(valid, depth * rng.uniform(0.98, 1.02, depth.shape), np.nan)
        depth = depth.astype(np.float32)
        files = {'rgb': folder / f'{name}r.png', 'cpos': folder / f'{name}cpos.txt'}
        _write_rgb(files['rgb'], rgb)
        lines = [f'{x:.3f} {y:.3f}' for r in rects for x, y in r.corners()]
        n_nan = 0
        if nan_rectangle and i == 0:
            lines += ['NaN NaN', '10.0 20.0', '30.0 20.0', '30.0 40.0']
            n_nan = 1
        files['cpos'].write_text('\n'.join(lines) + '\n')
        if with_tiff:
            files['tiff'] = folder / f'{name}d.tiff'
            cv2.imwrite(str(files['tiff']), np.nan_to_num(depth, nan=0.0))
        if with_pcd:
            files['pcd'] = folder / f'{name}.txt'
            _write_pcd(files['pcd'], depth, rng)
        images.append(FixtureImage(name=name, object_id=f'cornell-{number // 10:03d}',
                                   rgb_path=files['rgb'], rgb=rgb,
                                   depth=depth, rectangles=rects, n_nan_rectangles=n_nan,
                                   files=files))
    return images


def write_jacquard_fixture(
    root: str | Path,
    n_objects: int = 2,
    size: int | tuple[int, int] = 64,
    *,
    images_per_object: int = 2,
    split: str | None = None,
    jaw_repeats: int = 2,
    n_rects: int = 3,
    stereo: bool = True,
    compress: bool = True,
    seed: int = 0,
) -> list[FixtureImage]:
    """Write a Jacquard-layout dataset: ``root[/split]/<obj>/<k>_<obj>_*``.

    Per image: ``_RGB.png``, ``_perfect_depth.tiff`` (float32 metres, -1 in holes,
    LZW-compressed if ``compress``), ``_stereo_depth.tiff`` (noisier), ``_mask.png`` and
    ``_grasps.txt`` with lines ``x;y;theta_deg;opening;jaw`` (theta = -angle), each grasp
    repeated ``jaw_repeats`` times with growing jaw sizes (the first row is the one returned).
    ``size`` is the square side or ``(height, width)`` in pixels.
    """
    root = Path(root) / split if split else Path(root)
    rng = np.random.default_rng(seed)
    height, width = (size, size) if isinstance(size, int) else size
    params = [cv2.IMWRITE_TIFF_COMPRESSION, 5] if compress else []
    images = []
    for o in range(n_objects):
        obj = f'{rng.integers(16 ** 9):09x}'
        folder = root / obj
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(images_per_object):
            name = f'{k}_{obj}'
            rgb, depth, mask, rects = _scene(rng, height, width, n_rects)
            holes = rng.random(depth.shape) < 0.03
            depth_nan = np.where(holes, np.nan, depth).astype(np.float32)
            files = {s: folder / f'{name}_{s}' for s in
                     ('RGB.png', 'perfect_depth.tiff', 'stereo_depth.tiff', 'mask.png',
                      'grasps.txt')}
            _write_rgb(files['RGB.png'], rgb)
            cv2.imwrite(str(files['perfect_depth.tiff']), np.nan_to_num(depth_nan, nan=-1.0),
                        params)
            if stereo:
                noisy = depth_nan + rng.normal(0, 0.002, depth.shape).astype(np.float32)
                cv2.imwrite(str(files['stereo_depth.tiff']), np.nan_to_num(noisy, nan=-1.0),
                            params)
            cv2.imwrite(str(files['mask.png']), mask)
            lines = []
            for r in rects:
                for rep in range(jaw_repeats):
                    lines.append(f'{r.x:.3f};{r.y:.3f};{-math.degrees(r.angle):.4f};'
                                 f'{r.opening:.3f};{r.jaw + 2.0 * rep:.3f}')
            files['grasps.txt'].write_text('\n'.join(lines) + '\n')
            images.append(FixtureImage(name=name, object_id=obj,
                                       rgb_path=files['RGB.png'], rgb=rgb, depth=depth_nan,
                                       rectangles=rects, mask=mask, files=files))
    return images
