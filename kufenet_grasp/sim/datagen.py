# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Synthetic grasp dataset generator in the Jacquard layout, parallel, resumable, deterministic.

Scene ``k`` of a run with seed ``s`` depends only on ``(s, k)``. It is written to
``<out>/<split>/<scene_id>/`` as ``0_<scene_id>_{RGB.png, perfect_depth.tiff,
stereo_depth.tiff, mask.png, grasps.txt}`` plus ``scene.json`` (everything needed to replay
it). Depth TIFFs are float32 z-depth in metres, -1 where invalid; ``stereo_depth.tiff`` is the
depth of the scene's drawn sensor (Kinect v1, RealSense D4xx or perfect, named in
``scene.json`` under ``depth_sensor``). A scene is finished when its folder holds
``scene.json``; folders are written under a temporary name and renamed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
import json
import os
from pathlib import Path
import shutil

from kufenet_grasp.sim import assets
from kufenet_grasp.sim.camera import (
    CameraIntrinsics,
    render,
    RenderSettings,
    sample_camera_pose,
    sample_lighting,
)
from kufenet_grasp.sim.depth_sensors import sample_depth_sensor, sensor_depth
from kufenet_grasp.sim.gripper import ParallelGripper
from kufenet_grasp.sim.labelling import format_grasps, label_grasps, LabelSettings
from kufenet_grasp.sim.rgb_noise import add_rgb_noise, sample_rgb_noise
from kufenet_grasp.sim.scene import (
    build_scene,
    objects_in_workspace,
    sample_scene_spec,
    settled_spec,
)
import numpy as np

DATASET_FORMAT = 'kufenet-sim-jacquard-1'


class DatagenError(RuntimeError):
    """The output folder or the generator settings are unusable."""


@dataclass(frozen=True)
class DatagenConfig:
    """Generator settings (image size px, fractions, counts, camera ranges in m and deg).

    ``distance`` is from the camera to its look-at point on the support, ``tilt_deg`` the
    angle of the optical axis from vertical, ``hfov_deg`` the horizontal field of view.
    ``split_only`` makes every scene use that split's objects (e.g. a camera sweep of the test
    objects). ``family_weights`` share objects between random_urdfs, procedural shapes and
    pybullet_data meshes; ``sensor_weights`` between Kinect v1, RealSense D4xx and perfect
    depth; ``textures`` lets objects and tables take procedural textures and photographs.
    """

    size: int = 400
    clutter_fraction: float = 0.3
    tray_fraction: float = 0.5
    objects_per_clutter: tuple[int, int] = (3, 6)
    max_candidates: int = 64
    hfov_deg: tuple[float, float] = (40.0, 90.0)
    distance: tuple[float, float] = (0.3, 1.5)
    tilt_deg: tuple[float, float] = (0.0, 50.0)
    attempts: int = 3
    split_fractions: tuple[float, float, float] = assets.DEFAULT_FRACTIONS
    split_only: str | None = None
    family_weights: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)
    sensor_weights: tuple[float, float, float] = (0.4, 0.4, 0.2)
    textures: bool = True
    target_jitter: float = 0.04

    def __post_init__(self) -> None:
        if not 16 <= self.size <= 2048:
            raise DatagenError(f'size must be in [16, 2048] px, got {self.size}')
        for name in ('clutter_fraction', 'tray_fraction'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise DatagenError(f'{name} must be in [0, 1], got {getattr(self, name)}')
        lo, hi = self.objects_per_clutter
        if not 1 <= lo <= hi <= 20:
            raise DatagenError(f'objects_per_clutter must be 1 <= lo <= hi <= 20, got '
                               f'{self.objects_per_clutter}')
        if self.max_candidates < 1 or self.attempts < 1:
            raise DatagenError('max_candidates and attempts must be >= 1')
        _check_range('distance', self.distance, 0.05, 5.0, 'm')
        _check_range('tilt_deg', self.tilt_deg, 0.0, 80.0, 'deg')
        _check_range('hfov_deg', self.hfov_deg, 5.0, 150.0, 'deg')
        if self.split_only is not None and self.split_only not in assets.SPLITS:
            raise DatagenError(f"split_only must be one of {', '.join(assets.SPLITS)}, got "
                               f'{self.split_only!r}')
        for name in ('family_weights', 'sensor_weights'):
            w = getattr(self, name)
            if len(w) != 3 or min(w) < 0 or sum(w) <= 0:
                raise DatagenError(f'{name} must be 3 non-negative numbers with a positive sum, '
                                   f'got {w}')
        if not 0.0 <= self.target_jitter <= 0.5:
            raise DatagenError(f'target_jitter must be in [0, 0.5] m, got {self.target_jitter}')


def _check_range(name: str, value: tuple[float, float], lo: float, hi: float, unit: str
                 ) -> None:
    """Raise DatagenError unless ``value`` is (a, b) with lo <= a <= b <= hi."""
    if len(value) != 2 or not lo <= value[0] <= value[1] <= hi:
        raise DatagenError(f'{name} must be LO,HI with {lo} <= LO <= HI <= {hi} {unit}, got '
                           f'{tuple(value)}')


def scene_id(index: int) -> str:
    """Folder name of scene ``index``."""
    return f'{index:06d}'


def scene_rng(seed: int, index: int) -> np.random.Generator:
    """Return the random generator of scene ``index`` of a run seeded ``seed``."""
    return np.random.default_rng([int(seed), int(index)])


def find_finished(out: Path, index: int) -> Path | None:
    """``scene.json`` of scene ``index`` if it was finished in any split, else None."""
    for split in assets.SPLITS:
        path = out / split / scene_id(index) / 'scene.json'
        if path.is_file():
            return path
    return None


def _write_depth(path: Path, depth: np.ndarray) -> None:
    """Write z-depth (m) as float32 TIFF with -1 for invalid pixels."""
    import cv2

    out = np.where(np.isfinite(depth), depth, -1.0).astype(np.float32)
    if not cv2.imwrite(str(path), out):
        raise DatagenError(f'{path}: could not write depth TIFF')


def _write_scene_files(folder: Path, sid: str, rgb: np.ndarray, depth: np.ndarray,
                       stereo: np.ndarray, mask: np.ndarray, grasps_txt: str) -> None:
    """Write the Jacquard-layout files of one view into ``folder``."""
    import cv2

    prefix = folder / f'0_{sid}_'
    if not cv2.imwrite(str(prefix) + 'RGB.png', rgb[..., ::-1]):
        raise DatagenError(f'{prefix}RGB.png: could not write image')
    _write_depth(Path(str(prefix) + 'perfect_depth.tiff'), depth)
    _write_depth(Path(str(prefix) + 'stereo_depth.tiff'), stereo)
    cv2.imwrite(str(prefix) + 'mask.png', mask)
    Path(str(prefix) + 'grasps.txt').write_text(grasps_txt)


def _publish(tmp: Path, final: Path) -> None:
    """Atomically move the finished temporary folder ``tmp`` to ``final``."""
    if final.exists():
        shutil.rmtree(final)
    os.rename(tmp, final)


def generate_scene(client: int, out: Path, seed: int, index: int, config: DatagenConfig
                   ) -> dict:
    """Generate, label and write scene ``index``; return its summary (split, status, counts)."""
    import pybullet as p

    rng = scene_rng(seed, index)
    catalogue = assets.split_catalogue(fractions=config.split_fractions)
    split = str(rng.choice(assets.SPLITS, p=list(config.split_fractions)))
    if config.split_only is not None:
        split = config.split_only
    sid = scene_id(index)
    record: dict = {'format': DATASET_FORMAT, 'seed': int(seed), 'index': int(index),
                    'scene_id': sid, 'split': split, 'status': 'skipped', 'attempts': []}
    result = None
    for attempt in range(config.attempts):
        clutter = bool(rng.random() < config.clutter_fraction)
        tray = bool(rng.random() < config.tray_fraction)
        count = int(rng.integers(config.objects_per_clutter[0],
                                 config.objects_per_clutter[1] + 1)) if clutter else 1
        ids = assets.sample_object_ids(rng, catalogue[split], count, config.family_weights)
        scene = build_scene(client, sample_scene_spec(rng, ids, tray,
                                                      textures=config.textures))
        keep = objects_in_workspace(scene)
        intr = CameraIntrinsics.from_fov(config.size, config.size, rng.uniform(*config.hfov_deg))
        cam = sample_camera_pose(rng, target=_look_at(scene, keep), distance=config.distance,
                                 tilt_deg=config.tilt_deg, target_jitter=config.target_jitter)
        settings = RenderSettings(lighting=sample_lighting(rng))
        rgb, depth, seg = render(client, intr, cam, settings)
        gripper = ParallelGripper(client)
        state = p.saveState(physicsClientId=client)
        bodies = [scene.objects[i] for i in keep]
        grasps, trials = label_grasps(client, gripper, state, intr, cam, depth, seg, bodies,
                                      scene.support_z, rng,
                                      LabelSettings(max_candidates=config.max_candidates))
        p.removeState(state, physicsClientId=client)
        record['attempts'].append({'object_ids': ids, 'trials': trials,
                                   'successes': len(grasps)})
        if grasps:
            result = (scene, keep, intr, cam, settings, rgb, depth, seg, grasps, trials)
            break
    out_dir = out / split
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f'.tmp-{sid}-{os.getpid()}'
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    if result is not None:
        scene, keep, intr, cam, settings, rgb, depth, seg, grasps, trials = result
        # along the optical axis from the camera to the support plane (m)
        distance = float((cam.t[2] - scene.support_z) / max(-cam.R[2, 2], 1e-6))
        sensor = sample_depth_sensor(rng, distance, config.sensor_weights)
        stereo = sensor_depth(sensor, depth, rgb, rng, intr)
        colour_noise = sample_rgb_noise(rng)
        rgb = add_rgb_noise(rgb, rng, colour_noise)
        graspable = [scene.objects[i] for i in keep]
        mask = np.where(np.isin(seg, graspable), 255, 0).astype(np.uint8)
        _write_scene_files(tmp, sid, rgb, depth, stereo, mask, format_grasps(grasps))
        # grasps refer to objects by their index in the spec
        for_json = [dict(g.to_dict(), body=int(keep[g.body])) for g in grasps]
        record.update({
            'status': 'ok', 'scene': settled_spec(scene).to_dict(),
            'graspable': [int(i) for i in keep], 'camera': {
                'intrinsics': intr.to_dict(), 'pose': cam.to_dict(),
                'near': settings.near, 'far': settings.far},
            'lighting': settings.lighting.to_dict(), 'depth_sensor': sensor.to_dict(),
            'rgb_noise': colour_noise.to_dict(),
            'trials': trials, 'grasps': for_json,
        })
    (tmp / 'scene.json').write_text(json.dumps(record, indent=1))
    _publish(tmp, out_dir / sid)
    return {'split': split, 'status': record['status'],
            'grasps': len(record.get('grasps', [])),
            'trials': sum(a['trials'] for a in record['attempts'])}


def _look_at(scene, keep: list[int]) -> tuple[float, float, float]:
    """Point on the support (world, m) below the mean position of the kept objects."""
    import pybullet as p

    if not keep:
        return (0.0, 0.0, scene.support_z)
    xy = np.mean([p.getBasePositionAndOrientation(scene.objects[i],
                                                  physicsClientId=scene.client)[0][:2]
                  for i in keep], axis=0)
    return (float(xy[0]), float(xy[1]), scene.support_z)


_WORKER: dict = {}


def _worker_init() -> None:
    """Open this worker process's own PyBullet DIRECT client."""
    import pybullet as p

    _WORKER['client'] = p.connect(p.DIRECT)


def _worker_run(job: tuple[str, int, int, DatagenConfig]) -> dict:
    """Generate one scene in a worker process."""
    out, seed, index, config = job
    if 'client' not in _WORKER:
        _worker_init()
    return generate_scene(_WORKER['client'], Path(out), seed, index, config)


def remove_stale_temporaries(out: Path) -> int:
    """Delete half-written ``.tmp-*`` scene folders left by an interrupted run; return how many.

    Only one generator may write into a folder at a time.
    """
    stale = [p for split in assets.SPLITS for p in (out / split).glob('.tmp-*') if p.is_dir()]
    for path in stale:
        shutil.rmtree(path)
    return len(stale)


def summarise(out: Path) -> dict:
    """Count scenes, skipped scenes, trials and grasps per split from the ``scene.json`` files."""
    summary: dict = {}
    for split in assets.SPLITS:
        counts = {'scenes': 0, 'skipped': 0, 'grasps': 0, 'trials': 0}
        objects: set[int] = set()
        for path in sorted((out / split).glob('*/scene.json')):
            rec = json.loads(path.read_text())
            if rec.get('status') == 'ok':
                counts['scenes'] += 1
                counts['grasps'] += len(rec['grasps'])
                objects.update(o['object_id'] for o in rec['scene']['objects'])
            else:
                counts['skipped'] += 1
            counts['trials'] += sum(a['trials'] for a in rec.get('attempts', []))
        counts['objects'] = len(objects)
        summary[split] = counts
    return summary


def _check_root(out: Path, seed: int, config: DatagenConfig) -> None:
    """Refuse to mix runs of different seeds or settings in one folder."""
    meta = out / 'dataset.json'
    if not meta.is_file():
        return
    try:
        old = json.loads(meta.read_text())
    except json.JSONDecodeError as exc:
        raise DatagenError(f'{meta}: unreadable ({exc})') from exc
    if old.get('seed') != seed or old.get('config') != json.loads(json.dumps(asdict(config))):
        raise DatagenError(f"{meta}: folder holds a run with seed {old.get('seed')} and other "
                           f'settings; use another --out or the same --seed and options')


def generate_dataset(
    out: str | Path,
    scenes: int,
    seed: int = 0,
    workers: int = 1,
    config: DatagenConfig | None = None,
    progress: bool = True,
    on_scene: Callable[[dict], None] | None = None,
) -> dict:
    """Generate scenes 0..``scenes``-1 into ``out`` (skipping finished ones).

    Uses ``workers`` processes; writes and returns the ``dataset.json`` summary.
    """
    from tqdm import tqdm

    if scenes < 0:
        raise DatagenError(f'scenes must be >= 0, got {scenes}')
    if workers < 1:
        raise DatagenError(f'workers must be >= 1, got {workers}')
    cfg = config or DatagenConfig()
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    _check_root(root, seed, cfg)
    remove_stale_temporaries(root)
    todo = [k for k in range(scenes) if find_finished(root, k) is None]
    jobs = [(str(root), int(seed), k, cfg) for k in todo]
    bar = tqdm(total=len(jobs), disable=not progress, desc='scenes', unit='scene')
    results: Iterator[dict]
    if workers == 1 or len(jobs) <= 1:
        results = map(_worker_run, jobs)
        pool = None
    else:
        import multiprocessing

        pool = multiprocessing.get_context('spawn').Pool(workers, initializer=_worker_init)
        results = pool.imap_unordered(_worker_run, jobs, chunksize=1)
    try:
        for res in results:
            bar.update(1)
            if on_scene is not None:
                on_scene(res)
    except BaseException:
        # Ctrl-C or a failed scene: stop the workers now instead of waiting for every queued
        # scene; finished scenes stay on disk and a re-run resumes after them.
        if pool is not None:
            pool.terminate()
            pool.join()
        raise
    finally:
        bar.close()
    if pool is not None:
        pool.close()
        pool.join()
    summary = {'format': DATASET_FORMAT, 'seed': int(seed), 'scenes_requested': int(scenes),
               'config': json.loads(json.dumps(asdict(cfg))),
               'object_split_seed': assets.SPLIT_SEED, 'splits': summarise(root)}
    tmp = root / 'dataset.json.tmp'
    tmp.write_text(json.dumps(summary, indent=1))
    os.replace(tmp, root / 'dataset.json')
    return summary
