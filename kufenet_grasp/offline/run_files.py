# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Detect grasps in colour + depth files; write ``<name>.png`` and ``<name>.json`` per frame.

Every frame goes through ``GraspDetector.detect`` with the node's checks (image sizes,
intrinsics against the image, depth range). A frame whose files cannot be read or whose
inputs are inconsistent (status BAD_INPUT) is reported as one line and written nowhere; the
other frames go on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
import json
from pathlib import Path
import time
from typing import Any

import cv2
from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.detection.detector import DetectionResult, GraspDetector
from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.transforms import RigidTransform
from kufenet_grasp.offline.report import draw_result, quality, result_record
import numpy as np

#: a frame to detect: (name, loader returning (rgb, depth m), input paths for the record);
#: the loader raises ValueError / OSError with a one-line message when the files are bad
FrameSource = tuple[str, Callable[[], tuple[np.ndarray, np.ndarray]], dict[str, Any]]


@dataclass
class FilesOutcome:
    """What a run over files did: frames written, frames refused, statuses (name -> count)."""

    written: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)


def summary_line(name: str, result: DetectionResult) -> str:
    """One line for the terminal: status, grasp count, best grasp."""
    line = f'{name}: {GraspStatus(result.status).name} {result.message}'
    if result.grasps:
        best = result.grasps[0]
        x, y = best.rect_image_px.center
        line += f'; best q {quality(best):.2f} at ({x:.0f}, {y:.0f}) px'
        if best.width_m is not None:
            line += f', opening {best.width_m:.3f} m, depth {best.depth_m:.3f} m'
    return line


def detect_files(frames: Iterable[FrameSource | str], detector: GraspDetector,
                 offset: RigidTransform, camera: PinholeCamera | None, out_dir: Path,
                 echo: Callable[[str], None], extra: dict[str, Any] | None = None
                 ) -> FilesOutcome:
    """Run the detector on each frame and write its overlay PNG and JSON record in ``out_dir``.

    ``frames`` may hold error strings (a frame that could not even be listed); they are
    counted as errors. ``echo`` receives one line per frame; ``extra`` goes into each record.
    """
    outcome = FilesOutcome()
    for item in frames:
        if isinstance(item, str):
            outcome.errors.append(item)
            continue
        name, load, paths = item
        try:
            rgb, depth_m = load()
        except (ValueError, OSError) as exc:
            outcome.errors.append(f'{name}: {exc}')
            continue
        start = time.perf_counter()
        result = detector.detect(rgb, depth_m, camera)
        elapsed_ms = (time.perf_counter() - start) * 1e3
        outcome.statuses[GraspStatus(result.status).name] += 1
        if result.status == GraspStatus.BAD_INPUT:
            outcome.errors.append(f'{name}: {result.message}')
            continue
        record = result_record(name, result, offset, camera, **paths,
                               image_size=[int(rgb.shape[1]), int(rgb.shape[0])],
                               detect_ms=round(elapsed_ms, 2), **(extra or {}))
        png, js = out_dir / f'{name}.png', out_dir / f'{name}.json'
        if not cv2.imwrite(str(png), cv2.cvtColor(draw_result(rgb, result, name),
                                                  cv2.COLOR_RGB2BGR)):
            outcome.errors.append(f'{png}: cannot write the overlay')
            continue
        js.write_text(json.dumps(record, indent=2) + '\n')
        outcome.written += [png, js]
        echo(summary_line(name, result))
    return outcome
