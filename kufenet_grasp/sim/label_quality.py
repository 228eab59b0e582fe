# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Re-execute a random sample of written synthetic labels in physics, slightly perturbed.

Each sampled grasp is rebuilt from its scene's ``scene.json`` (resting object poses, camera)
and executed again with its centre moved by up to ±``shift_m`` metres along the image x and y
axes (converted to pixels at the grasp's depth) and its angle turned by up to ±``turn_deg``
degrees, uniformly. A label that only worked by chance at one exact pose fails more often, so
the success share measures label robustness rather than replaying a recorded result.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path

from kufenet_grasp.sim.camera import CameraIntrinsics, CameraPose
from kufenet_grasp.sim.gripper import ParallelGripper, try_grasp
from kufenet_grasp.sim.labelling import grasp_pose, ImageGrasp, perturb
from kufenet_grasp.sim.scene import build_scene, SceneSpec
import numpy as np


class LabelQualityError(RuntimeError):
    """The dataset folder holds no usable labelled scenes."""


@dataclass(frozen=True)
class QualityReport:
    """Outcome: ``tested`` grasps, ``succeeded`` among them, per split counts."""

    tested: int
    succeeded: int
    per_split: dict

    @property
    def success_rate(self) -> float:
        """Share of re-executed grasps that held the object (0..1)."""
        return self.succeeded / self.tested if self.tested else 0.0

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return {'tested': self.tested, 'succeeded': self.succeeded,
                'success_rate': self.success_rate, 'per_split': self.per_split}


def _load_records(root: Path) -> list[tuple[Path, dict]]:
    """All finished, labelled scenes under ``root``."""
    records = []
    for path in sorted(root.rglob('scene.json')):
        try:
            rec = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise LabelQualityError(f'{path}: not valid JSON ({exc})') from exc
        if rec.get('status') == 'ok' and rec.get('grasps'):
            records.append((path, rec))
    return records


def check_labels(root: str | Path, samples: int = 200, seed: int = 0,
                 shift_m: float = 0.002, turn_deg: float = 3.0) -> QualityReport:
    """Re-execute ``samples`` randomly drawn labels of the dataset at ``root``.

    Each label is perturbed by ±``shift_m`` m and ±``turn_deg`` degrees; the successes are
    counted.
    """
    import pybullet as p

    if samples < 1:
        raise LabelQualityError(f'samples must be >= 1, got {samples}')
    base = Path(root)
    if not base.is_dir():
        raise LabelQualityError(f'{base}: not a folder')
    records = _load_records(base)
    pool = [(i, j) for i, (_, rec) in enumerate(records) for j in range(len(rec['grasps']))]
    if not pool:
        raise LabelQualityError(f'{base}: no labelled scenes (scene.json with grasps) found')
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(pool), size=min(samples, len(pool)), replace=False)
    by_scene: dict[int, list[int]] = {}
    for k in sorted(int(i) for i in picks):
        by_scene.setdefault(pool[k][0], []).append(pool[k][1])
    client = p.connect(p.DIRECT)
    per_split: dict = {}
    try:
        for scene_index, grasp_indices in by_scene.items():
            _, rec = records[scene_index]
            scene = build_scene(client, SceneSpec.from_dict(rec['scene']))
            intr = CameraIntrinsics(**rec['camera']['intrinsics'])
            cam = CameraPose.from_dict(rec['camera']['pose'])
            gripper = ParallelGripper(client)
            state = p.saveState(physicsClientId=client)
            counts = per_split.setdefault(rec['split'], {'tested': 0, 'succeeded': 0})
            for j in grasp_indices:
                g = ImageGrasp(**rec['grasps'][j])
                moved = perturb(g, rng, intr.fx, shift_m, turn_deg)
                p.restoreState(state, physicsClientId=client)
                ok = try_grasp(client, grasp_pose(intr, cam, moved), g.opening_m,
                               gripper=gripper, objects=[scene.objects[g.body]])
                counts['tested'] += 1
                counts['succeeded'] += int(ok)
            p.removeState(state, physicsClientId=client)
    finally:
        p.disconnect(client)
    tested = sum(c['tested'] for c in per_split.values())
    succeeded = sum(c['succeeded'] for c in per_split.values())
    return QualityReport(tested=tested, succeeded=succeeded, per_split=per_split)
