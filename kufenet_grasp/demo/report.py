# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The demo's report: one record per pick attempt, the summary, report.json and a contact sheet.

Grasps are in image pixels of the camera (GraspRectangle convention, ARCHITECTURE.md) and,
for the pose, metres in ``base_link``. Times are wall-clock seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import json
import math
from pathlib import Path
from typing import Any

from kufenet_grasp.grasp.drawing import draw_grasps
from kufenet_grasp.grasp.rectangle import GraspRectangle
import numpy as np

REPORT_NAME = 'report.json'
SHEET_NAME = 'contact_sheet.png'
TILE_W, TILE_H = 256, 192


@dataclass
class AttemptRecord:
    """One pick attempt of the demo.

    Attributes:
        index: attempt number (0-based).
        scene: scene number (a clutter scene serves several attempts).
        success: the action succeeded AND an object lies in the place tray.
        status: GraspStatus name of the action result (e.g. ``OK``, ``NO_GRASP``).
        failed_stage: stage of the failure ('' on success).
        message: the executor's explanation.
        object_id: catalogue id of the object placed (or of the scene's object when one,
            -1 when unknown).
        grasp: the executed rectangle (center_x, center_y px, angle rad, opening_px, jaw_px,
            quality, width_m, depth_m) or None.
        grasp_pose: executed grasp frame in base_link: xyz (m) and quaternion xyzw, or None.
        duration_s: wall time from goal to result (s).
    """

    index: int
    scene: int
    success: bool
    status: str
    failed_stage: str
    message: str
    object_id: int = -1
    grasp: dict[str, float] | None = None
    grasp_pose: dict[str, list[float]] | None = None
    duration_s: float = 0.0
    objects_left: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def summarise(records: list[AttemptRecord]) -> dict[str, Any]:
    """Count outcomes: success rate (fraction in [0, 1]), failures by status, mean duration (s)."""
    n = len(records)
    ok = sum(r.success for r in records)
    by_status: dict[str, int] = {}
    by_stage: dict[str, int] = {}
    for r in records:
        if not r.success:
            by_status[r.status] = by_status.get(r.status, 0) + 1
            if r.failed_stage:
                by_stage[r.failed_stage] = by_stage.get(r.failed_stage, 0) + 1
    return {'attempts': n, 'successes': ok, 'success_rate': ok / n if n else 0.0,
            'failures_by_status': by_status, 'failures_by_stage': by_stage,
            'mean_duration_s': float(np.mean([r.duration_s for r in records])) if n else 0.0}


def _rect(grasp: dict[str, float]) -> Any:
    return GraspRectangle((grasp['center_x'], grasp['center_y']), grasp['angle'],
                          max(grasp['opening_px'], 1.0), max(grasp['jaw_px'], 1.0),
                          float(grasp['quality']))


def attempt_tile(rgb: np.ndarray, record: AttemptRecord) -> np.ndarray:
    """Draw a TILE_W×TILE_H RGB tile: the camera image with the executed grasp and outcome."""
    import cv2

    image = np.asarray(rgb, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'attempt_tile: rgb must be H×W×3 uint8, got shape {image.shape}')
    colour = (0, 220, 0) if record.success else (230, 40, 40)
    if record.grasp is not None and all(math.isfinite(float(record.grasp[k])) for k in
                                        ('center_x', 'center_y', 'angle', 'opening_px')):
        image = draw_grasps(image, [_rect(record.grasp)], color=colour, thickness=2)
    tile = cv2.resize(image, (TILE_W, TILE_H), interpolation=cv2.INTER_AREA)
    label = f"#{record.index} {'OK' if record.success else record.status}"
    if not record.success and record.failed_stage:
        label += f' @{record.failed_stage}'
    cv2.rectangle(tile, (0, 0), (TILE_W, 16), (0, 0, 0), -1)
    cv2.putText(tile, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
    return tile


def contact_sheet(tiles: list[np.ndarray], columns: int = 10) -> np.ndarray:
    """Tiles (equal size, RGB) laid out in rows of ``columns``; black where none."""
    if not tiles:
        raise ValueError('contact_sheet: no tiles (the demo recorded no attempt)')
    if columns < 1:
        raise ValueError(f'contact_sheet: columns must be >= 1, got {columns}')
    h, w = tiles[0].shape[:2]
    cols = min(columns, len(tiles))
    rows = math.ceil(len(tiles) / cols)
    sheet = np.zeros((rows * h, cols * w, 3), dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = tile
    return sheet


def write_report(folder: str | Path, records: list[AttemptRecord], tiles: list[np.ndarray],
                 meta: dict[str, Any]) -> tuple[Path, Path | None]:
    """Write ``report.json`` and the contact sheet PNG into ``folder``.

    report.json holds ``meta``, the summary and every attempt. Returns both paths (the PNG
    is None when there are no tiles).
    """
    import cv2

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    report = {'meta': meta, 'summary': summarise(records),
              'attempts': [asdict(r) for r in records]}
    json_path = out / REPORT_NAME
    json_path.write_text(json.dumps(report, indent=2, allow_nan=True) + '\n')
    png_path = None
    if tiles:
        png_path = out / SHEET_NAME
        if not cv2.imwrite(str(png_path), contact_sheet(tiles)[..., ::-1]):
            raise OSError(f'write_report: could not write {png_path}')
    return json_path, png_path
