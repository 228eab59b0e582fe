# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Readers behind ``kufenet detect``: depth and colour files, camera info YAML, params files."""

from pathlib import Path
import pickle

import cv2
from detect_fixtures import (
    box_on_table,
    FOCAL_PX,
    write_calibration_yaml,
    write_camera_info_dump,
    write_depth_png_mm,
)
from kufenet_grasp.data.image_io import write_depth_tiff
from kufenet_grasp.detection import builder
from kufenet_grasp.nodes import detector_params
from kufenet_grasp.offline.bag_outputs import ContactSheet, OverlayVideo, percentile_ms
from kufenet_grasp.offline.camera_info_file import CameraInfoError, read_camera_info
from kufenet_grasp.offline.image_files import (
    FrameFileError,
    pair_files,
    read_color,
    read_depth,
    unique_names,
)
from kufenet_grasp.offline.params_file import ParamsFileError, read_params_file
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_depth_formats_give_the_same_metres(tmp_path):
    depth = box_on_table().depth_m.copy()
    depth[0, :10] = np.nan  # invalid pixels survive every format as NaN
    png = write_depth_png_mm(tmp_path / 'd.png', depth)
    tiff = tmp_path / 'd.tiff'
    write_depth_tiff(tiff, depth)
    np.save(tmp_path / 'f.npy', depth)
    np.save(tmp_path / 'mm.npy', np.nan_to_num(depth * 1000).astype(np.uint16))
    np.save(tmp_path / 'dm.npy', np.nan_to_num(depth * 10).astype(np.float32))  # decimetres
    for path, scale in ((png, None), (tiff, None), (tmp_path / 'f.npy', None),
                        (tmp_path / 'mm.npy', None), (tmp_path / 'dm.npy', 0.1)):
        got = read_depth(path, scale)
        assert got.dtype == np.float32 and got.shape == depth.shape, path
        assert np.isnan(got[0, :10]).all(), path
        np.testing.assert_allclose(got[1:], depth[1:], atol=6e-4, err_msg=str(path))


def test_depth_scale_applies_to_integer_png(tmp_path):
    raw = np.full((4, 5), 250, np.uint16)  # 250 units of 2 mm = 0.5 m
    cv2.imwrite(str(tmp_path / 'd.png'), raw)
    np.testing.assert_allclose(read_depth(tmp_path / 'd.png', 0.002), 0.5)
    np.testing.assert_allclose(read_depth(tmp_path / 'd.png'), 0.25)


@pytest.mark.parametrize('make, message', [
    (lambda p: cv2.imwrite(str(p / 'x.png'), np.zeros((4, 4), np.uint8)), '8-bit depth'),
    (lambda p: (p / 'x.png').write_bytes(b'not a png'), 'not an image'),
    (lambda p: cv2.imwrite(str(p / 'x.png'), np.zeros((4, 4, 3), np.uint16)), 'one channel'),
])
def test_bad_depth_images_are_refused(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(FrameFileError, match=message):
        read_depth(tmp_path / 'x.png')


def test_pickled_npy_is_refused_never_unpickled(tmp_path):
    path = tmp_path / 'evil.npy'
    np.save(path, np.array([{'a': 1}], dtype=object), allow_pickle=True)
    with pytest.raises(FrameFileError, match='not a plain numpy array'):
        read_depth(path)
    (tmp_path / 'raw.npy').write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(FrameFileError):
        read_depth(tmp_path / 'raw.npy')


@pytest.mark.parametrize('keep_bytes', [0, 60])
def test_an_empty_or_cut_short_npy_is_refused_in_one_line(tmp_path, keep_bytes):
    whole = tmp_path / 'whole.npy'
    np.save(whole, np.full((48, 64), 0.6, np.float32))
    path = tmp_path / 'cut.npy'
    path.write_bytes(whole.read_bytes()[:keep_bytes])
    with pytest.raises(FrameFileError, match='cut.npy'):
        read_depth(path)


def test_missing_files_and_bad_scale(tmp_path):
    with pytest.raises(FrameFileError, match='not found'):
        read_depth(tmp_path / 'none.png')
    with pytest.raises(FrameFileError, match='not found'):
        read_color(tmp_path / 'none.png')
    with pytest.raises(FrameFileError, match='> 0'):
        read_depth(tmp_path / 'none.png', -1.0)
    (tmp_path / 'd.exr').write_bytes(b'')
    with pytest.raises(FrameFileError, match='depth must be'):
        read_depth(tmp_path / 'd.exr')


def test_colour_reader_converts_to_rgb_and_refuses_16_bit(tmp_path):
    bgr = np.zeros((2, 3, 3), np.uint8)
    bgr[..., 0] = 255  # blue in OpenCV's order
    cv2.imwrite(str(tmp_path / 'c.png'), bgr)
    assert read_color(tmp_path / 'c.png')[0, 0].tolist() == [0, 0, 255]
    cv2.imwrite(str(tmp_path / 'g.png'), np.full((2, 3), 7, np.uint8))
    assert read_color(tmp_path / 'g.png').shape == (2, 3, 3)
    cv2.imwrite(str(tmp_path / 'd.png'), np.zeros((2, 3), np.uint16))
    with pytest.raises(FrameFileError, match='8-bit'):
        read_color(tmp_path / 'd.png')


def test_pairs_from_globs_in_sorted_order(tmp_path):
    for name in ('b', 'a', 'c'):
        (tmp_path / f'{name}_color.png').write_bytes(b'')
        (tmp_path / f'{name}_depth.png').write_bytes(b'')
    pairs = pair_files([str(tmp_path / '*_color.png')], [str(tmp_path / '*_depth.png')])
    assert [p.name for p in pairs] == ['a_color', 'b_color', 'c_color']
    assert all(p.depth.name == p.color.name.replace('color', 'depth') for p in pairs)
    with pytest.raises(FrameFileError, match='3 colour files but 1 depth'):
        pair_files([str(tmp_path / '*_color.png')], [str(tmp_path / 'a_depth.png')])
    with pytest.raises(FrameFileError, match='no colour file'):
        pair_files([str(tmp_path / '*.jpg')], [str(tmp_path / '*_depth.png')])
    assert unique_names([Path('x/a.png'), Path('y/a.png'), Path('b.png')]) == \
        ['a', 'a-2', 'b']


def test_camera_info_both_layouts_give_the_same_camera(tmp_path):
    calib = read_camera_info(write_calibration_yaml(tmp_path / 'calib.yaml'))
    dump = read_camera_info(write_camera_info_dump(tmp_path / 'info.yaml', 'cam_optical'))
    assert (calib.layout, dump.layout) == ('calibration', 'camera_info')
    for info in (calib, dump):
        cam = info.camera
        assert (cam.fx, cam.fy, cam.cx, cam.cy, cam.width, cam.height) == \
            (FOCAL_PX, FOCAL_PX, 320.0, 240.0, 640, 480)
        assert info.warnings == ()
    assert dump.camera.frame_id == 'cam_optical'


def test_the_shared_realsense_layout_is_read(tmp_path):
    # the layout of a camera_calibration file with a 1280x720 colour camera
    path = tmp_path / 'rs.yaml'
    path.write_text('image_width: 1280\nimage_height: 720\ncamera_name: rs\ncamera_matrix:\n'
                    '  rows: 3\n  cols: 3\n  data: [631.5, 0.0, 638.4, 0.0, 631.2, 366.5, 0.0,'
                    ' 0.0, 1.0]\ndistortion_model: plumb_bob\ndistortion_coefficients:\n'
                    '  rows: 1\n  cols: 5\n  data: [0.1, 0.0, 0.0, 0.0, 0.0]\n')
    info = read_camera_info(path)
    assert info.camera.size == (1280, 720) and info.camera.cx == 638.4
    assert len(info.warnings) == 1 and 'distortion' in info.warnings[0]


@pytest.mark.parametrize('text, message', [
    ('image_width: 640\nimage_height: 480\ncamera_matrix: {rows: 3, cols: 3, data: [1, 2]}',
     'must be 3x3'),
    ('image_width: 0\nimage_height: 480\ncamera_matrix: {rows: 3, cols: 3, data: []}',
     'positive integer'),
    ('width: 640\nheight: 480\nk: [0, 0, 0, 0, 0, 0, 0, 0, 0]\n', 'all zeros'),
    ('width: 640\nheight: 480\nk: [500, 3, 320, 0, 500, 240, 0, 0, 1]\n', 'not a pinhole'),
    ('foo: 1\n', 'neither a camera calibration file'),
    ('key: [unclosed\n', 'not a YAML file'),
    ('- 1\n- 2\n', 'expected a camera info mapping'),
])
def test_bad_camera_info_files_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / 'k.yaml'
    path.write_text(text)
    with pytest.raises(CameraInfoError, match=message) as info:
        read_camera_info(path)
    assert '\n' not in str(info.value)


def test_missing_camera_info_file(tmp_path):
    with pytest.raises(CameraInfoError, match='cannot read'):
        read_camera_info(tmp_path / 'none.yaml')


def test_shipped_params_file_matches_the_parameter_table():
    values = read_params_file(ROOT / 'config' / 'detector.yaml', 'grasp_detector')
    defaults = {spec.name: spec.default for spec in detector_params.PARAMETERS}
    assert set(values) == set(defaults) - set(detector_params.FROM_GRIPPER_FILE)
    settings = {**defaults, **values}
    config = builder.detector_config(settings)
    assert config.quality_threshold == values['quality_threshold']
    assert config.max_width_m == defaults['gripper.max_width_m']
    assert config.fingers is not None


def test_params_file_node_keys_and_errors(tmp_path):
    path = tmp_path / 'p.yaml'
    path.write_text('/**:\n  ros__parameters:\n    top_k: 3\n'
                    '/arm1/grasp_detector:\n  ros__parameters:\n    gripper:\n'
                    '      max_width_m: 0.05\n'
                    'grasp_executor:\n  ros__parameters:\n    top_k: 9\n')
    assert read_params_file(path, 'grasp_detector') == {'top_k': 3,
                                                        'gripper.max_width_m': 0.05}
    path.write_text('grasp_executor:\n  ros__parameters:\n    a: 1\n')
    with pytest.raises(ParamsFileError, match='no parameters for grasp_detector'):
        read_params_file(path, 'grasp_detector')
    path.write_text('grasp_detector: 3\n')
    with pytest.raises(ParamsFileError, match='no ros__parameters'):
        read_params_file(path, 'grasp_detector')
    with pytest.raises(ParamsFileError, match='cannot read'):
        read_params_file(tmp_path / 'none.yaml', 'grasp_detector')


def test_contact_sheet_keeps_a_bounded_evenly_spaced_subset(tmp_path):
    sheet = ContactSheet(max_tiles=4, tile_width=8, columns=2)
    assert not sheet.write(tmp_path / 'empty.png')
    for i in range(21):
        sheet.offer(np.full((6, 16, 3), i, np.uint8))
    assert 2 <= sheet.tiles <= 4
    assert sheet.write(tmp_path / 's.png')
    image = cv2.imread(str(tmp_path / 's.png'))
    rows = -(-sheet.tiles // 2)
    assert image.shape[:2] == (rows * 3, 16)  # tiles 8 px wide, 3 px high, two columns
    values = sorted({int(v) for v in np.unique(image)})
    assert values[0] == 0 and values[-1] >= 8  # first frame kept, later ones spread out


def test_overlay_video_writes_every_frame_at_one_size(tmp_path):
    video = OverlayVideo(tmp_path / 'v.mp4', fps=5)
    for i in range(4):
        video.add(np.full((48 + 2 * i, 65, 3), 40 * i, np.uint8))  # sizes differ: resized
    video.close()
    capture = cv2.VideoCapture(str(tmp_path / 'v.mp4'))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    assert (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (64, 48)
    gif = OverlayVideo(tmp_path / 'v.gif', fps=5)
    for i in range(3):
        gif.add(np.full((10, 10, 3), 60 * i, np.uint8))
    gif.close()
    from PIL import Image

    assert Image.open(tmp_path / 'v.gif').n_frames == 3


def test_percentiles():
    assert percentile_ms([], 50) is None
    assert percentile_ms([1.0, 2.0, 3.0, 4.0, 100.0], 50) == 3.0
