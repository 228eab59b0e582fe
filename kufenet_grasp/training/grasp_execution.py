# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Detect the best grasp of each generated image as the node would, then execute it in physics.

The rectangle metric counts a grasp right when it matches one of the scene's labels, which
come from a few dozen sampled candidates: a rim grasp of a mug away from the one labelled rim
grasp, or a wider opening than the label's, is counted wrong although a gripper would hold the
mug. Executing the grasp answers what a robot asks. Each image of a generated folder goes
through :class:`~kufenet_grasp.detection.detector.GraspDetector` with the node's default
settings (sensor-modelled depth, the scene's intrinsics, the image centre as the region of
interest); its best grasp is opened to its measured width plus the gripper's approach margin
(as ``grasp_executor`` commands it) and tried in the rebuilt scene
(:class:`~kufenet_grasp.sim.grasp_trial.SceneTrials`).
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
from typing import Any

from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.data.image_io import read_depth_tiff, read_rgb
from kufenet_grasp.detection.builder import create_default_backend, input_spec_of_source
from kufenet_grasp.detection.detector import DetectorConfig, GraspDetector
from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.gripper import default_gripper
from kufenet_grasp.sim.grasp_trial import PlanarGrasp, SceneTrials
import numpy as np

#: the files of one generated image: colour, sensor-modelled depth, perfect depth
_SUFFIXES = ('RGB.png', 'stereo_depth.tiff', 'perfect_depth.tiff')


def _images(folder: Path) -> Iterator[tuple[str, dict[str, Any], list[Path]]]:
    """(image name, scene record, [colour, stereo depth, perfect depth]) of each image."""
    for record_path in sorted(folder.glob('*/scene.json')):
        record = json.loads(record_path.read_text())
        if record.get('status') != 'ok':
            continue
        for colour in sorted(record_path.parent.glob('*_RGB.png')):
            prefix = colour.name[:-len(_SUFFIXES[0])]
            files = [record_path.parent / (prefix + s) for s in _SUFFIXES]
            if all(f.is_file() for f in files):
                yield prefix.rstrip('_'), record, files


def _read(files: list[Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Colour (H×W×3 uint8 RGB), sensor depth and perfect depth (H×W float32 m, NaN holes)."""
    return read_rgb(files[0]), read_depth_tiff(files[1]), read_depth_tiff(files[2])


def make_detector(weights: str, threads: int = 1) -> GraspDetector:
    """Return the node's detector (default settings) for ``weights`` (.safetensors/.onnx/.xml)."""
    spec = input_spec_of_source(weights)
    config = DetectorConfig(input_spec=spec)
    backend = create_default_backend('auto', weights, config.input_size, threads)
    return GraspDetector(backend.infer, config)


def execute_best_grasps(detector: GraspDetector, folder: str | Path) -> list[dict[str, Any]]:
    """Detect and execute the best grasp of every image in ``folder`` (one split's scenes).

    Returns one record an image: ``name``, ``status`` (the detection's, by name), ``held``
    (False without a grasp), and for a grasp its ``quality``, ``opening_m`` and
    ``center_px``.
    """
    margin = default_gripper().width_margin_m
    results = []
    for name, record, files in _images(Path(folder)):
        rgb, depth, perfect = _read(files)
        intr = record['camera']['intrinsics']
        camera = PinholeCamera(float(intr['fx']), float(intr['fy']), float(intr['cx']),
                               float(intr['cy']), int(intr['width']), int(intr['height']))
        result = detector.detect(rgb, depth, camera)
        entry: dict[str, Any] = {'name': name, 'status': GraspStatus(result.status).name,
                                 'held': False}
        best = result.grasps[0] if result.grasps else None
        if best is not None and best.width_m is not None:
            rect = best.rect_image_px
            opening = float(best.width_m) + margin
            with SceneTrials(record, perfect) as trials:
                entry['held'] = bool(trials.holds(PlanarGrasp(rect.center[0], rect.center[1],
                                                              rect.angle, opening)))
            entry.update({'quality': float(rect.quality), 'opening_m': opening,
                          'center_px': [float(c) for c in rect.center]})
        results.append(entry)
    return results
