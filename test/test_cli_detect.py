# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet detect`` end to end with the shipped weights: files, dataset folders, bags, errors.

The model is built once per module (the shipped kufenet-80k) and handed to every in-process
run that asks for the node's defaults through the builder's backend factory; one test runs
the command as its own process, as a user would.
"""

import json
import math
import os
from pathlib import Path
import subprocess
import sys

import cv2
from detect_fixtures import (
    BagWriter,
    box_on_table,
    BOX_TOP_M,
    write_calibration_yaml,
    write_camera_info_dump,
    write_color_png,
    write_depth_png_mm,
)
from kufenet_grasp.cli.main import main
from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.data.image_io import write_depth_tiff
from kufenet_grasp.detection import builder
from kufenet_grasp.detection.detector import DetectionResult, RejectedGrasp
from kufenet_grasp.geometry.transforms import RigidTransform
from kufenet_grasp.grasp.rectangle import GraspRectangle
from kufenet_grasp.offline import report
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / 'models' / 'kufenet-80k.safetensors'
COLOR, DEPTH, INFO = '/cam/color/image_raw', '/cam/aligned_depth_to_color/image_raw', \
    '/cam/color/camera_info'


@pytest.fixture(scope='module')
def shipped_backend():
    """Build the shipped weights once for the module.

    On the torch backend: the node's default ('auto', OpenVINO here) first exports the model,
    which takes minutes on a loaded machine; the weights and the maps are the same. Runs that
    ask for the torch backend get it too (tracing the network again costs seconds).
    """
    return builder.create_default_backend('torch', str(WEIGHTS), 224, 1)


@pytest.fixture(autouse=True)
def reuse_backend(monkeypatch, shipped_backend):
    calls = []

    real = builder.create_default_backend

    def factory(name, source, input_size, threads):
        calls.append((name, Path(source).resolve(), input_size, threads))
        if Path(source).resolve() == WEIGHTS and name in ('auto', 'torch') and input_size == 224:
            return shipped_backend
        return real(name, source, input_size, threads)

    monkeypatch.setattr(builder, 'create_default_backend', factory)
    return calls


def _files(tmp_path, scene=None, name='box'):
    scene = scene or box_on_table()
    color = write_color_png(tmp_path / f'{name}_color.png', scene.rgb)
    depth = write_depth_png_mm(tmp_path / f'{name}_depth.png', scene.depth_m)
    return color, depth


def _assert_grasp_on_box(grasp, box_px):
    x0, x1, y0, y1 = box_px
    x, y = grasp['center_px']
    assert x0 <= x < x1 and y0 <= y < y1, (grasp['center_px'], box_px)
    assert 0.03 <= grasp['width_m'] <= 0.08  # across the 4 or 6 cm side, within the gripper
    assert grasp['depth_m'] == pytest.approx(BOX_TOP_M, abs=0.005)
    assert grasp['pose']['position_m'][2] == pytest.approx(BOX_TOP_M, abs=0.005)
    q = np.array(grasp['pose']['orientation_xyzw'])
    assert np.linalg.norm(q) == pytest.approx(1.0, abs=1e-4)


def test_box_on_table_gives_a_grasp_on_the_box(tmp_path, capsys, reuse_backend):
    scene = box_on_table()
    color, depth = _files(tmp_path, scene)
    calib = write_calibration_yaml(tmp_path / 'k.yaml')
    out = tmp_path / 'out'
    rc = main(['detect', '--color', str(color), '--depth', str(depth), '--camera-info',
               str(calib), '--out', str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert reuse_backend == [('auto', WEIGHTS, 224, 1)]  # the node's defaults
    record = json.loads((out / 'box_color.json').read_text())
    assert record['status'] == 'OK' and record['status_code'] == 0
    assert record['camera_frame'] == 'camera_color_optical_frame'
    assert record['params_file'].endswith('detector.yaml')
    assert record['grasps'], record
    _assert_grasp_on_box(record['grasps'][0], scene.box_px)
    qualities = [g['quality'] for g in record['grasps']]
    assert qualities == sorted(qualities, reverse=True) and all(0 <= q <= 1 for q in qualities)
    assert [g['rank'] for g in record['grasps']] == list(range(1, len(qualities) + 1))
    overlay = cv2.imread(str(out / 'box_color.png'))
    assert overlay.shape == scene.rgb.shape
    assert not np.array_equal(cv2.cvtColor(overlay, cv2.COLOR_BGR2RGB), scene.rgb)
    assert 'box_color: OK' in captured.out and 'opening 0.0' in captured.out


def test_the_input_spec_of_the_weights_reaches_the_detector(tmp_path, capsys):
    # the shipped network, and the same tensors saved without an input spec (the legacy pixel
    # crop): the support-plane removal the metadata asks for is applied, or not
    from kufenet_grasp.models.weights import (
        load_weights,
        read_metadata,
        save_weights,
        write_manifest,
    )

    assert read_metadata(WEIGHTS).input_spec.get('support_plane') is True
    model, _ = load_weights(WEIGHTS)
    legacy = tmp_path / 'legacy.safetensors'
    save_weights(model, legacy)
    write_manifest(tmp_path)
    color, depth = _files(tmp_path)
    out = tmp_path / 'out'
    for source, support in ((WEIGHTS, 'plane'), (legacy, 'off')):
        rc = main(['detect', '--color', str(color), '--depth', str(depth), '--weights',
                   str(source), '--param', 'backend=torch', '--camera-info',
                   str(write_calibration_yaml(tmp_path / 'k.yaml')), '--out', str(out)])
        assert rc == 0, capsys.readouterr().err
        record = json.loads((out / 'box_color.json').read_text())
        assert record['weights'] == str(source)
        assert record['support'] == support  # the table found and removed, or not asked for


def test_params_file_and_overrides_reach_the_detector(tmp_path, capsys):
    color, depth = _files(tmp_path)
    info = str(write_camera_info_dump(tmp_path / 'info.yaml'))
    params = tmp_path / 'p.yaml'
    params.write_text('/**/grasp_detector:\n  ros__parameters:\n    top_k: 1\n'
                      '    gripper:\n      max_width_m: 0.01\n')
    out = tmp_path / 'out'
    rc = main(['detect', '--color', str(color), '--depth', str(depth), '--params', str(params),
               '--param', 'gripper.max_width_m=0.08', '--camera-info', info, '--out', str(out)])
    assert rc == 0, capsys.readouterr().err
    record = json.loads((out / 'box_color.json').read_text())
    assert len(record['grasps']) == 1  # top_k from the file
    accepted = record['grasps'][0]
    assert record['camera_frame'] == 'test_optical_frame'  # the CameraInfo dump's frame
    assert record['params_file'] == str(params)
    # the file's 1 cm gripper: every candidate rejected, NO_GRASP written with the reasons,
    # exit 0 (a valid answer, not an input error)
    rc = main(['detect', '--color', str(color), '--depth', str(depth), '--params', str(params),
               '--camera-info', info, '--out', str(out)])
    assert rc == 0
    record = json.loads((out / 'box_color.json').read_text())
    assert record['status'] == 'NO_GRASP' and record['grasps'] == []
    assert record['rejected_by_reason'] == {'wider than the gripper (0.010 m)': 1}
    # the candidate itself, listed with its reason: the box grasp the 8 cm gripper took
    [candidate] = record['rejected']
    assert candidate['reason'] == 'wider than the gripper (0.010 m)'
    assert candidate['quality'] == accepted['quality']
    assert candidate['angle_rad'] == accepted['angle_rad']
    assert math.dist(candidate['center_px'], accepted['center_px']) < 10
    assert len(candidate['corners_px']) == 4
    # without intrinsics: pixel grasps, no opening in metres, no pose, and a warning
    rc = main(['detect', '--color', str(color), '--depth', str(depth), '--out', str(out)])
    assert rc == 0
    grasp = json.loads((out / 'box_color.json').read_text())['grasps'][0]
    assert grasp['width_m'] is None and grasp['pose'] is None and grasp['depth_m'] > 0
    assert 'no --camera-info' in capsys.readouterr().err


def test_the_record_lists_rejected_candidates_best_first_up_to_a_bound():
    rejected = [RejectedGrasp(GraspRectangle((10.0 + i, 20.0), 0.3, 40.0, 20.0,
                                             quality=1.0 - i / 100), 'no valid depth')
                for i in range(report.MAX_REJECTED_LISTED + 5)]
    result = DetectionResult(GraspStatus.NO_GRASP, 'all rejected',
                             rejected={'no valid depth': len(rejected)},
                             rejected_grasps=rejected)
    record = report.result_record('f', result, RigidTransform.identity(), None)
    assert record['rejected_by_reason'] == {'no valid depth': len(rejected)}
    listed = record['rejected']
    assert len(listed) == report.MAX_REJECTED_LISTED
    assert [c['center_px'][0] for c in listed[:2]] == [10.0, 11.0]
    assert listed[0] == {'reason': 'no valid depth', 'quality': 1.0, 'center_px': [10.0, 20.0],
                         'angle_rad': 0.3, 'opening_px': 40.0, 'jaw_px': 20.0,
                         'corners_px': listed[0]['corners_px']}
    json.dumps(record)  # JSON-ready


def test_several_pairs_by_glob_with_a_bad_one_among_them(tmp_path, capsys):
    scene = box_on_table()
    _files(tmp_path, scene, 'a')
    write_color_png(tmp_path / 'b_color.png', scene.rgb)
    write_depth_tiff(tmp_path / 'b_depth.tiff', scene.depth_m)  # float metres
    write_color_png(tmp_path / 'c_color.png', scene.rgb)
    write_depth_png_mm(tmp_path / 'c_depth.png', scene.depth_m[:240, :320])  # wrong size
    np.save(tmp_path / 'd_depth.npy', scene.depth_m)
    write_color_png(tmp_path / 'd_color.png', scene.rgb)
    out = tmp_path / 'out'
    rc = main(['detect', '--color', str(tmp_path / '*_color.png'), '--depth',
               str(tmp_path / 'a_depth.png'), str(tmp_path / 'b_depth.tiff'),
               str(tmp_path / 'c_depth.png'), str(tmp_path / 'd_depth.npy'), '--camera-info',
               str(write_calibration_yaml(tmp_path / 'k.yaml')), '--out', str(out)])
    err = capsys.readouterr().err
    assert rc == 1
    assert sorted(p.name for p in out.glob('*.json')) == \
        ['a_color.json', 'b_color.json', 'd_color.json']
    centres = [json.loads((out / f'{n}_color.json').read_text())['grasps'][0]['center_px']
               for n in 'abd']
    np.testing.assert_allclose(centres, [centres[0]] * 3, atol=1.0)  # same frame, same grasp
    errors = [line for line in err.splitlines() if 'error' in line]
    assert len(errors) == 1 and 'c_color' in errors[0] and 'registered' in errors[0]
    assert 'Traceback' not in err


def test_camera_info_of_another_size_is_refused(tmp_path, capsys):
    color, depth = _files(tmp_path)
    calib = write_calibration_yaml(tmp_path / 'k.yaml', 1280, 720)
    rc = main(['detect', '--color', str(color), '--depth', str(depth), '--camera-info',
               str(calib), '--out', str(tmp_path / 'out')])
    err = capsys.readouterr().err
    assert rc == 1
    assert 'camera info is for 1280x720 but the image is 640x480' in err
    assert not list((tmp_path / 'out').glob('*.json'))


@pytest.mark.parametrize('case', ['missing', 'garbage', 'bad_yaml', 'no_glob_match',
                                  'bad_params', 'bag_options_without_a_bag'])
def test_bad_input_is_one_line_and_non_zero(tmp_path, capsys, case):
    color, depth = _files(tmp_path)
    args = ['detect', '--color', str(color), '--depth', str(depth), '--out',
            str(tmp_path / 'out')]
    if case == 'missing':
        args[2] = str(tmp_path / 'none.png')
    elif case == 'garbage':
        depth.write_bytes(b'\x89PNG garbage')
    elif case == 'bad_yaml':
        (tmp_path / 'k.yaml').write_text('camera_matrix: [unclosed\n')
        args += ['--camera-info', str(tmp_path / 'k.yaml')]
    elif case == 'no_glob_match':
        args[2] = str(tmp_path / '*.jpg')
    elif case == 'bag_options_without_a_bag':
        args += ['--every', '0', '--color-topic', '/camera/color/image_raw']
    else:
        (tmp_path / 'p.yaml').write_text('grasp_detector:\n  ros__parameters:\n'
                                         '    top_k: 0\n')
        args += ['--params', str(tmp_path / 'p.yaml')]
    rc = main(args)
    err = capsys.readouterr().err
    assert rc in (1, 2)
    lines = [line for line in err.splitlines() if 'error' in line]
    assert len(lines) == 1 and lines[0].startswith('kufenet detect: error: '), err
    assert 'Traceback' not in err


def test_jacquard_and_cornell_folders(tmp_path, capsys):
    scene = box_on_table()
    jac = tmp_path / 'jac' / 'obj1'
    jac.mkdir(parents=True)
    write_color_png(jac / '0_obj1_RGB.png', scene.rgb)
    write_depth_tiff(jac / '0_obj1_perfect_depth.tiff', scene.depth_m)
    (jac / '0_obj1_grasps.txt').write_text('360;260;0;40;20\n')
    corn = tmp_path / 'corn' / '01'
    corn.mkdir(parents=True)
    write_color_png(corn / 'pcd0100r.png', scene.rgb)
    write_depth_tiff(corn / 'pcd0100d.tiff', scene.depth_m)
    (corn / 'pcd0100cpos.txt').write_text('340 250\n380 250\n380 270\n340 270\n')
    calib = str(write_calibration_yaml(tmp_path / 'k.yaml'))
    for spec, name in ((str(tmp_path / 'jac'), '0_obj1'), (f"cornell:{tmp_path / 'corn'}",
                                                           'pcd0100')):
        out = tmp_path / f'out-{name}'
        rc = main(['detect', '--dataset', spec, '--camera-info', calib, '--out', str(out)])
        assert rc == 0, capsys.readouterr().err
        record = json.loads((out / f'{name}.json').read_text())
        _assert_grasp_on_box(record['grasps'][0], scene.box_px)


def _write_bag(path, storage, frames=4, bad_frame=None, compressed_color=False,
               compressed_depth=False):
    scene = box_on_table()
    bag = BagWriter(path, storage)
    for i in range(frames):
        t = 100.0 + 0.1 * i
        bag.camera_info(INFO, t)
        if compressed_color:
            bag.compressed(COLOR, scene.rgb, t, 'png')
        else:
            bag.image(COLOR, scene.rgb, 'rgb8', t)
        if compressed_depth:
            bag.compressed(DEPTH, scene.rgb, t + 0.01)
        elif i == bad_frame:
            bag.image(DEPTH, np.zeros((480, 640), np.uint8), 'mono8', t + 0.01)
        else:
            depth_mm = np.round(scene.depth_m * 1000).astype(np.uint16)
            bag.image(DEPTH, depth_mm, '16UC1', t + 0.01)  # 10 ms apart: within the slop
    bag.image(COLOR, scene.rgb, 'rgb8', 200.0)  # a colour image whose depth never came
    bag.close()
    return scene


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_bag_frames_results_sheet_video_summary(tmp_path, capsys, storage):
    scene = _write_bag(tmp_path / 'bag', storage, frames=5, bad_frame=2)
    out = tmp_path / 'out'
    rc = main(['detect', '--bag', str(tmp_path / 'bag'), '--color-topic', COLOR,
               '--depth-topic', DEPTH, '--info-topic', INFO, '--out', str(out),
               '--no-progress'])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    records = [json.loads(line) for line in (out / 'frames.jsonl').read_text().splitlines()]
    assert [r['frame'] for r in records] == [0, 1, 2, 3, 4]
    assert [r['status'] for r in records] == ['OK', 'OK', 'BAD_INPUT', 'OK', 'OK']
    assert "depth image encoding 'mono8' is not supported" in records[2]['message']
    for record in records[:2] + records[3:]:
        _assert_grasp_on_box(record['grasps'][0], scene.box_px)
        assert record['camera_frame'] == 'test_optical_frame'
    assert records[1]['stamp_s'] == pytest.approx(100.1)
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['color_messages'] == 6 and summary['depth_messages'] == 5
    assert summary['synchronised_frames'] == 5 and summary['processed_frames'] == 5
    assert summary['frames_with_grasp'] == 4 and summary['bad_frames'] == 1
    assert summary['per_status'] == {'BAD_INPUT': 1, 'OK': 4}
    assert summary['sync_slop_s'] == 0.05  # the node's parameter
    assert 0 < summary['detect_ms_p50'] <= summary['detect_ms_p95']
    capture = cv2.VideoCapture(str(out / 'overlays.mp4'))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 4  # the bad frame has no overlay
    assert cv2.imread(str(out / 'contact_sheet.png')) is not None
    assert 'frame 2 at 100.200 s skipped' in captured.err
    assert '5 frames synchronised, 5 processed, 4 with a grasp' in captured.out
    assert 'per status: BAD_INPUT 1, OK 4' in captured.out


def test_bag_every_and_max_frames_and_compressed_colour(tmp_path, capsys):
    _write_bag(tmp_path / 'bag', 'mcap', frames=6, compressed_color=True)
    out = tmp_path / 'out'
    rc = main(['detect', '--bag', str(tmp_path / 'bag'), '--color-topic', COLOR,
               '--depth-topic', DEPTH, '--info-topic', INFO, '--out', str(out), '--every', '2',
               '--max-frames', '2', '--video', 'o.gif', '--no-progress'])
    assert rc == 0, capsys.readouterr().err
    records = [json.loads(line) for line in (out / 'frames.jsonl').read_text().splitlines()]
    assert [r['frame'] for r in records] == [0, 2]
    assert all(r['status'] == 'OK' and r['grasps'] for r in records)  # PNG-decoded colour
    assert (out / 'o.gif').is_file()


def test_bag_without_topics_lists_them_and_suggests_the_command(tmp_path, capsys):
    _write_bag(tmp_path / 'bag', 'sqlite3', frames=1)
    rc = main(['detect', '--bag', str(tmp_path / 'bag')])
    out = capsys.readouterr().out
    assert rc == 0
    assert f'{COLOR}  sensor_msgs/msg/Image  2 messages' in out
    assert f'{INFO}  sensor_msgs/msg/CameraInfo  1 messages' in out
    assert (f'kufenet detect --bag {tmp_path / "bag"} --color-topic {COLOR} --depth-topic '
            f'{DEPTH} --info-topic {INFO}') in out


@pytest.mark.parametrize('case, message', [
    ('missing_topic', "colour topic '/nope' is not in the bag"),
    ('compressed_depth', 'record the raw aligned depth'),
    ('not_a_bag', 'not a rosbag2 folder'),
    ('no_depth_topic', 'needs --color-topic and --depth-topic'),
])
def test_bag_errors_are_one_line(tmp_path, capsys, case, message):
    _write_bag(tmp_path / 'bag', 'mcap', frames=1, compressed_depth=case == 'compressed_depth')
    args = ['detect', '--bag', str(tmp_path / 'bag'), '--color-topic', COLOR, '--depth-topic',
            DEPTH, '--out', str(tmp_path / 'out'), '--no-progress']
    if case == 'missing_topic':
        args[4] = '/nope'
    elif case == 'not_a_bag':
        args[2] = str(tmp_path)
    elif case == 'no_depth_topic':
        args = args[:5] + args[7:]
    rc = main(args)
    err = capsys.readouterr().err
    assert rc in (1, 2)
    lines = [line for line in err.splitlines() if 'error' in line]
    assert len(lines) == 1 and message in lines[0], err
    assert 'Traceback' not in err


# a fresh interpreter that imports torch and loads the model: several seconds; the tests
# above run the same main() in-process
@pytest.mark.slow
def test_command_as_a_process_without_rclpy(tmp_path):
    # the console script's code path in a fresh interpreter: real model load, no rclpy import
    color, depth = _files(tmp_path)
    calib = write_calibration_yaml(tmp_path / 'k.yaml')
    out = tmp_path / 'out'
    script = ('import sys\nfrom kufenet_grasp.cli.main import main\nrc = main(sys.argv[1:])\n'
              "assert 'rclpy' not in sys.modules, 'kufenet detect imported rclpy'\n"
              'sys.exit(rc)\n')
    result = subprocess.run(
        [sys.executable, '-c', script, 'detect', '--color', str(color), '--depth', str(depth),
         '--camera-info', str(calib), '--param', 'backend=torch', '--out', str(out)],
        capture_output=True, text=True, timeout=600, env={**os.environ, 'PYTHONPATH': str(ROOT)
                                                          + os.pathsep
                                                          + os.environ.get('PYTHONPATH', '')})
    assert result.returncode == 0, result.stderr
    record = json.loads((out / 'box_color.json').read_text())
    _assert_grasp_on_box(record['grasps'][0], box_on_table().box_px)
    assert 'box_color: OK' in result.stdout
