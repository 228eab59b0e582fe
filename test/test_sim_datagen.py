# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Synthetic dataset generator tests.

Jacquard layout, determinism, resumability, disjoint splits, label re-execution and the two CLI
subcommands (tiny images, few scenes).
"""

import json
import math

import cv2
from kufenet_grasp.cli.main import main as kufenet_main
from kufenet_grasp.sim import assets
from kufenet_grasp.sim.datagen import DatagenConfig, DatagenError, generate_dataset
from kufenet_grasp.sim.label_quality import check_labels, LabelQualityError
import numpy as np
import pytest

#: every test reads a dataset the simulator generates (seconds): make test-fast leaves them out
pytestmark = pytest.mark.slow

CONFIG = DatagenConfig(size=96, clutter_fraction=0.5, objects_per_clutter=(2, 3),
                       max_candidates=16, distance=(0.4, 0.8), tilt_deg=(0.0, 25.0))
SCENES = 3


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp('sim') / 'ds'
    summary = generate_dataset(out, SCENES, seed=5, config=CONFIG, progress=False)
    return out, summary


def _scene_dirs(out):
    return sorted(p.parent for p in out.glob('*/*/scene.json'))


def _files(out):
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob('*'))
            if p.is_file() and p.name != 'dataset.json'}


def test_jacquard_layout_and_content(dataset):
    out, summary = dataset
    dirs = _scene_dirs(out)
    assert len(dirs) == SCENES
    assert sum(s['scenes'] + s['skipped'] for s in summary['splits'].values()) == SCENES
    assert json.loads((out / 'dataset.json').read_text())['seed'] == 5
    labelled = 0
    for d in dirs:
        rec = json.loads((d / 'scene.json').read_text())
        assert d.parent.name == rec['split'] and d.name == rec['scene_id']
        if rec['status'] != 'ok':
            continue
        labelled += 1
        prefix = str(d / f'0_{d.name}_')
        rgb = cv2.imread(prefix + 'RGB.png', cv2.IMREAD_UNCHANGED)
        assert rgb.shape == (96, 96, 3) and rgb.dtype == np.uint8
        perfect = cv2.imread(prefix + 'perfect_depth.tiff', cv2.IMREAD_UNCHANGED)
        stereo = cv2.imread(prefix + 'stereo_depth.tiff', cv2.IMREAD_UNCHANGED)
        for depth in (perfect, stereo):
            assert depth.dtype == np.float32 and depth.shape == (96, 96)
        assert np.all((perfect > 0.2) & (perfect < 1.0))  # metres, camera 0.4-0.8 m away
        holes = stereo == -1
        if rec['depth_sensor']['model'] == 'perfect':
            np.testing.assert_array_equal(stereo, perfect)
        else:
            assert holes.any() and np.all(stereo[~holes] > 0.2)
            assert np.nanmax(np.abs(stereo[~holes] - perfect[~holes])) < 0.05
        mask = cv2.imread(prefix + 'mask.png', cv2.IMREAD_UNCHANGED)
        assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255} and mask.max() == 255
        lines = (d / f'0_{d.name}_grasps.txt').read_text().splitlines()
        assert lines and len(lines) == len(rec['grasps'])
        for line in lines:
            x, y, theta, opening, jaw = (float(v) for v in line.split(';'))
            assert 0 <= x < 96 and 0 <= y < 96 and -90.0 < theta <= 90.0
            assert opening > 0 and jaw > 0
            assert mask[int(np.rint(y)), int(np.rint(x))] == 255  # centre on a graspable object
        g = rec['grasps'][0]
        assert math.isclose(-math.degrees(g['angle']), float(lines[0].split(';')[2]),
                            abs_tol=0.01)
    assert labelled >= 1


def test_readable_by_jacquard_reader(dataset):
    out, summary = dataset
    from kufenet_grasp.data.jacquard import JacquardDataset

    ds = JacquardDataset(out, depth='stereo')
    labelled = sum(s['scenes'] for s in summary['splits'].values())
    assert len(ds.names) == labelled
    sample = ds.load(0)
    assert sample.depth.shape == (96, 96)
    scene_dir = next(out.glob(f'*/{ds.object_ids[0]}'))
    rec = json.loads((scene_dir / 'scene.json').read_text())
    if rec['depth_sensor']['model'] != 'perfect':
        assert np.isnan(sample.depth).any()
    assert len(sample.rectangles) == len(rec['grasps'])
    first = sample.rectangles[0]
    assert math.isclose(first.center[0], rec['grasps'][0]['x'], abs_tol=1e-4)
    assert math.isclose(first.opening, rec['grasps'][0]['opening'], abs_tol=1e-4)


def test_deterministic_per_seed(dataset, tmp_path):
    out, _ = dataset
    again = tmp_path / 'again'
    # the first scene again, alone: a scene's content depends on the seed and its index only
    generate_dataset(again, 1, seed=5, config=CONFIG, progress=False)
    first = _files(again)
    assert first and first == {name: data for name, data in _files(out).items()
                               if name in first}


# two spawned worker processes (each imports the simulator) and every scene once more
def test_deterministic_with_two_workers(dataset, tmp_path):
    out, _ = dataset
    again = tmp_path / 'again'
    # two workers: the content must not depend on scheduling
    generate_dataset(again, SCENES, seed=5, workers=2, config=CONFIG, progress=False)
    assert _files(out) == _files(again)


def test_resumable_and_refuses_other_seed(dataset):
    out, _ = dataset
    stale = out / 'train' / '.tmp-000099-1'
    stale.mkdir(parents=True)
    (stale / '0_000099_grasps.txt').write_text('1;2;3;4;5\n')
    before = {p: p.stat().st_mtime_ns for p in out.rglob('scene.json')}
    done = []
    generate_dataset(out, SCENES, seed=5, config=CONFIG, progress=False, on_scene=done.append)
    assert done == []
    assert not stale.exists()  # an interrupted scene's temporary folder is cleaned up
    assert {p: p.stat().st_mtime_ns for p in out.rglob('scene.json')} == before
    with pytest.raises(DatagenError, match='seed'):
        generate_dataset(out, SCENES, seed=6, config=CONFIG, progress=False)


def test_scene_objects_come_from_their_split(dataset):
    out, _ = dataset
    splits = {k: {i for ids in v.values() for i in ids}
              for k, v in assets.split_catalogue().items()}
    for path in out.glob('*/*/scene.json'):
        rec = json.loads(path.read_text())
        for attempt in rec['attempts']:
            assert set(attempt['object_ids']) <= splits[rec['split']]


def test_label_quality_reexecutes_labels(dataset, tmp_path):
    out, _ = dataset
    report = check_labels(out, samples=6, seed=1)
    assert 1 <= report.tested <= 6
    assert report.success_rate >= 0.5
    with pytest.raises(LabelQualityError, match='no labelled scenes'):
        check_labels(tmp_path)
    with pytest.raises(LabelQualityError, match='not a folder'):
        check_labels(tmp_path / 'missing')


def test_cli_subcommands(dataset, tmp_path, capsys):
    out, _ = dataset
    assert kufenet_main(['label-quality', str(out), '--samples', '3', '--json']) in (0, 1)
    result = json.loads(capsys.readouterr().out)
    assert result['tested'] >= 1
    cli_out = tmp_path / 'cli'
    rc = kufenet_main(['datagen', '--out', str(cli_out), '--scenes', '1', '--size', '64',
                       '--max-candidates', '8', '--objects-per-clutter', '2-2',
                       '--no-progress'])
    assert rc == 0
    assert len(list(cli_out.glob('*/*/scene.json'))) == 1
    with pytest.raises(SystemExit):
        kufenet_main(['datagen', '--out', str(cli_out), '--scenes', '1',
                      '--objects-per-clutter', '5-2'])


def _labelled_scene(out):
    """(scene record, perfect depth) of the first labelled scene of ``out``."""
    from kufenet_grasp.data.image_io import read_depth_tiff

    for d in _scene_dirs(out):
        rec = json.loads((d / 'scene.json').read_text())
        if rec['status'] == 'ok':
            return d, rec, read_depth_tiff(d / f'0_{d.name}_perfect_depth.tiff')
    raise AssertionError('no labelled scene')


def test_scene_trials_hold_the_labels_and_not_grasps_off_the_objects(dataset):
    from kufenet_grasp.sim.grasp_trial import PlanarGrasp, SceneTrials

    _, rec, depth = _labelled_scene(dataset[0])
    labels = [PlanarGrasp(g['x'], g['y'], g['angle'], g['opening_m']) for g in rec['grasps']]
    with SceneTrials(rec, depth) as trials:
        held = [trials.holds(g) for g in labels[:4]]
        again = [trials.holds(g) for g in labels[:4]]  # each trial starts from the rest state
        assert sum(held) >= len(held) - 1 and held == again
        corner = PlanarGrasp(1.0, 1.0, 0.0, 0.05)  # the bare table in the image corner
        outside = PlanarGrasp(-5.0, 10.0, 0.0, 0.05)
        assert not trials.holds(corner) and not trials.holds(outside)
    with pytest.raises(RuntimeError):
        trials.holds(labels[0])
    with pytest.raises(ValueError):
        SceneTrials(rec, depth[:10])
    with pytest.raises(ValueError):
        SceneTrials({'status': 'skipped'}, depth)


class _LabelDetector:
    """Stands in for GraspDetector: its best grasp is the scene's first label."""

    def __init__(self, width_m):
        self.width_m = width_m

    def detect(self, rgb, depth, camera):
        from kufenet_grasp.common.status import GraspStatus
        from kufenet_grasp.detection.detector import DetectedGrasp, DetectionResult
        from kufenet_grasp.grasp.rectangle import GraspRectangle

        assert rgb.shape[:2] == depth.shape == (camera.height, camera.width)
        if self.width_m is None:
            return DetectionResult(GraspStatus.NO_GRASP, 'none', [])
        g = self.label
        rect = GraspRectangle((g['x'], g['y']), g['angle'], g['opening'], g['jaw'], 0.9)
        return DetectionResult(GraspStatus.OK, '1 grasp(s)',
                               [DetectedGrasp(rect, g['z'], self.width_m, None)])


def test_executing_the_detectors_best_grasp_counts_what_holds(dataset, tmp_path):
    import shutil

    from kufenet_grasp.geometry.gripper import default_gripper
    from kufenet_grasp.training.grasp_execution import execute_best_grasps

    scene_dir, rec, _ = _labelled_scene(dataset[0])
    folder = tmp_path / 'one' / 'test'
    shutil.copytree(scene_dir, folder / scene_dir.name)
    label = rec['grasps'][0]
    detector = _LabelDetector(label['opening_m'] - default_gripper().width_margin_m)
    detector.label = label
    [entry] = execute_best_grasps(detector, folder)
    assert entry['name'] == f'0_{scene_dir.name}' and entry['status'] == 'OK'
    assert entry['held'] is True
    assert entry['opening_m'] == pytest.approx(label['opening_m'])
    detector.width_m = None
    [entry] = execute_best_grasps(detector, folder)
    assert entry == {'name': f'0_{scene_dir.name}', 'status': 'NO_GRASP', 'held': False}
