# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Camera sweep: accuracy of weights on the synthetic test objects, per camera distance and tilt.

Each cell renders held-out test objects with the camera at one distance from the support
(m) and one tilt from vertical (degrees), with the generator's sensor-modelled depth, and
scores top-1 grasps with the rectangle metric (:func:`~kufenet_grasp.training.evaluate.
evaluate_weights`). Cells are generated once into ``out/d<distance>_t<tilt>/`` and reused by
later runs (the generator is deterministic and resumable).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kufenet_grasp.sim.datagen import DatagenConfig, generate_dataset
from kufenet_grasp.training.evaluate import evaluate_weights
from kufenet_grasp.training.grasp_execution import execute_best_grasps, make_detector

DISTANCES_M: tuple[float, ...] = (0.3, 0.6, 1.0, 1.5)
TILTS_DEG: tuple[float, ...] = (0.0, 25.0, 45.0)


@dataclass(frozen=True)
class SweepCell:
    """One camera setting of the sweep: distance (m) and tilt (degrees)."""

    distance_m: float
    tilt_deg: float

    @property
    def folder(self) -> str:
        """Folder name of the cell's scenes."""
        return f'd{self.distance_m:.2f}_t{self.tilt_deg:.0f}'


def sweep_cells(distances_m: Sequence[float] = DISTANCES_M,
                tilts_deg: Sequence[float] = TILTS_DEG) -> list[SweepCell]:
    """Every (distance, tilt) pair, distances outermost."""
    return [SweepCell(float(d), float(t)) for d in distances_m for t in tilts_deg]


def generate_cell(out: Path, cell: SweepCell, scenes: int, seed: int, workers: int,
                  progress: bool = False) -> Path:
    """Render ``scenes`` test-object scenes of ``cell`` into ``out/<cell.folder>``."""
    config = DatagenConfig(distance=(cell.distance_m, cell.distance_m),
                           tilt_deg=(cell.tilt_deg, cell.tilt_deg), split_only='test')
    root = out / cell.folder
    generate_dataset(root, scenes, seed=seed, workers=workers, config=config,
                     progress=progress)
    return root


def run_sweep(weights: Sequence[str], out: str | Path, scenes: int = 20,
              seeds: Sequence[int] = (7,),
              workers: int = 1, cells: Sequence[SweepCell] | None = None,
              progress: bool = False,
              on_cell: Callable[[SweepCell, str, dict[str, Any]], None] | None = None,
              label_margin_m: float = 0.0, window_on_objects: bool | None = None,
              execute: bool = False) -> dict[str, dict[str, dict[str, Any]]]:
    """Evaluate each weights file on each cell; ``{weights: {cell folder: result}}``.

    Each of ``seeds`` is one draw of ``scenes`` scenes a cell; several draws are pooled (their
    images added up), each rendered into ``out/seed<S>/`` (one seed: ``out/`` itself).
    ``label_margin_m`` and ``window_on_objects`` are passed to
    :func:`~kufenet_grasp.training.evaluate.evaluate_weights`.

    A result holds ``accuracy`` (top-1 at 30°), ``correct`` and ``n_images`` (images),
    ``ci95`` (its 95 % interval, :func:`accuracy_interval`), ``seeds``, ``distance_m`` and
    ``tilt_deg``. ``execute`` also runs each image through the node's detector and executes
    its best grasp in the rebuilt scene (:mod:`~kufenet_grasp.training.grasp_execution`):
    ``held`` images (of ``n_images``), ``held_ci95``, and ``no_grasp``, the images for
    which the detector returned none (counted as not held).
    """
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f'camera sweep: seeds must be distinct and at least one, got {seeds}')
    root = Path(out)
    results: dict[str, dict[str, dict[str, Any]]] = {str(w): {} for w in weights}
    detectors = {str(w): make_detector(str(w)) for w in weights} if execute else {}
    for cell in cells or sweep_cells():
        folders = [generate_cell(root / f'seed{seed}' if len(seeds) > 1 else root, cell,
                                 scenes, seed, workers, progress) for seed in seeds]
        for weight in weights:
            scored = [image['correct'] for folder in folders
                      for image in evaluate_weights(
                          weight, f'jacquard:{folder}', split='test', depth='stereo',
                          label_margin_m=label_margin_m,
                          window_on_objects=window_on_objects)['per_image']]
            correct, images = sum(scored), len(scored)  # evaluate_weights refuses no images
            entry = {'accuracy': correct / images, 'correct': correct, 'n_images': images,
                     'ci95': list(accuracy_interval(correct, images)), 'seeds': seeds,
                     'distance_m': cell.distance_m, 'tilt_deg': cell.tilt_deg}
            if execute:
                trials = [image for folder in folders
                          for image in execute_best_grasps(detectors[str(weight)],
                                                           folder / 'test')]
                held = sum(image['held'] for image in trials)
                entry.update({'held': held, 'held_ci95': list(accuracy_interval(held, images)),
                              'no_grasp': sum('center_px' not in image for image in trials)})
            results[str(weight)][cell.folder] = entry
            if on_cell is not None:
                on_cell(cell, str(weight), entry)
    return results


def accuracy_interval(correct: int, images: int, confidence: float = 0.95
                      ) -> tuple[float, float]:
    """Wilson score interval (fractions, [0, 1]) of an accuracy of ``correct`` of ``images``.

    A cell of a few dozen images is a small sample: the interval says where the accuracy of
    another draw of the same cell may lie, so a cell a few points from a target is not told
    apart from it by one draw.

    Raises:
        ValueError: ``images`` < 1 or ``correct`` outside ``[0, images]``.

    """
    from scipy.stats import binomtest

    if images < 1 or not 0 <= correct <= images:
        raise ValueError(f'accuracy_interval: need 0 <= correct <= images and images >= 1, '
                         f'got {correct} of {images}')
    interval = binomtest(int(correct), int(images)).proportion_ci(confidence, method='wilson')
    return float(interval.low), float(interval.high)


def markdown_table(results: dict[str, dict[str, dict[str, Any]]], weights: str,
                   metric: str = 'correct') -> str:
    """Accuracy (%) of ``weights`` as a table: a row per distance, a column per tilt.

    A cell reads ``73% (22/30, 56-86%)``: accuracy, images right of images, 95 % interval.
    ``metric`` ``'held'`` tabulates the executed grasps instead (``run_sweep(execute=True)``).
    """
    cells = results[weights]
    distances = sorted({c['distance_m'] for c in cells.values()})
    tilts = sorted({c['tilt_deg'] for c in cells.values()})
    lines = ['| distance \\ tilt | ' + ' | '.join(f'{t:.0f}°' for t in tilts) + ' |',
             '|---|' + '---|' * len(tilts)]
    for d in distances:
        row = []
        for t in tilts:
            match = [c for c in cells.values() if c['distance_m'] == d and c['tilt_deg'] == t]
            row.append(_cell_text(match[0], metric) if match else '-')
        lines.append(f'| {d:.1f} m | ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


def _cell_text(entry: dict[str, Any], metric: str = 'correct') -> str:
    """``73% (22/30, 56-86%)``: share, images counted of images, 95 % interval."""
    if metric not in ('correct', 'held'):
        raise ValueError(f"markdown_table: metric must be 'correct' or 'held', got {metric!r}")
    count, images = entry[metric], entry['n_images']
    low, high = entry['ci95' if metric == 'correct' else 'held_ci95']
    return (f'{100 * count / images:.0f}% ({count}/{images}, '
            f'{100 * low:.0f}-{100 * high:.0f}%)')
