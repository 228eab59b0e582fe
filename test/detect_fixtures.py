# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Frames and bags for the ``kufenet detect`` tests, written with numpy, OpenCV and rosbags.

The scene: a table plane 0.6 m in front of a downward-looking 640x480 camera (fx = fy = 600
px) and a red box with a 4 x 6 cm footprint, 4 cm high, whose top is at 0.56 m.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

WIDTH, HEIGHT, FOCAL_PX = 640, 480, 600.0
TABLE_M, BOX_TOP_M = 0.6, 0.56
BOX_CENTRE_PX = (360, 260)


@dataclass(frozen=True)
class BoxScene:
    """A colour image, depth (m) and the box's pixel bounds (x0, x1, y0, y1), end exclusive."""

    rgb: np.ndarray
    depth_m: np.ndarray
    box_px: tuple[int, int, int, int]


def box_on_table(width: int = WIDTH, height: int = HEIGHT) -> BoxScene:
    """Render the scene of the module docstring (depth exact, colour flat)."""
    depth = np.full((height, width), TABLE_M, np.float32)
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[:] = (90, 110, 95)
    half_w = 0.5 * 0.04 * FOCAL_PX / BOX_TOP_M
    half_h = 0.5 * 0.06 * FOCAL_PX / BOX_TOP_M
    u, v = BOX_CENTRE_PX
    x0, x1 = round(u - half_w), round(u + half_w)
    y0, y1 = round(v - half_h), round(v + half_h)
    depth[y0:y1, x0:x1] = BOX_TOP_M
    rgb[y0:y1, x0:x1] = (200, 40, 40)
    return BoxScene(rgb, depth, (x0, x1, y0, y1))


def k_matrix(width: int = WIDTH, height: int = HEIGHT) -> list[float]:
    """Row-major K of the test camera (principal point at the image centre)."""
    return [FOCAL_PX, 0.0, width / 2, 0.0, FOCAL_PX, height / 2, 0.0, 0.0, 1.0]


def write_calibration_yaml(path: Path, width: int = WIDTH, height: int = HEIGHT,
                           distortion: tuple[float, ...] = (0.0,) * 5) -> Path:
    """Write a camera_calibration_parsers file of the test camera."""
    k = k_matrix(width, height)
    path.write_text(yaml.safe_dump({
        'image_width': width, 'image_height': height, 'camera_name': 'test',
        'camera_matrix': {'rows': 3, 'cols': 3, 'data': k},
        'distortion_model': 'plumb_bob',
        'distortion_coefficients': {'rows': 1, 'cols': 5, 'data': list(distortion)},
        'rectification_matrix': {'rows': 3, 'cols': 3, 'data': [1, 0, 0, 0, 1, 0, 0, 0, 1]},
        'projection_matrix': {'rows': 3, 'cols': 4,
                              'data': k[:3] + [0.0] + k[3:6] + [0.0] + k[6:] + [0.0]},
    }, sort_keys=False))
    return path


def write_camera_info_dump(path: Path, frame_id: str = 'test_optical_frame') -> Path:
    """Write a CameraInfo as `ros2 topic echo --once` prints it (ends with '---')."""
    k = k_matrix()
    lines = ['header:', '  stamp:', '    sec: 12', '    nanosec: 5', f'  frame_id: {frame_id}',
             f'height: {HEIGHT}', f'width: {WIDTH}', 'distortion_model: plumb_bob', 'd:']
    lines += ['- 0.0'] * 5 + ['k:'] + [f'- {v}' for v in k] + ['r:'] + \
        [f'- {v}' for v in (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)] + ['p:'] + \
        [f'- {v}' for v in k[:3] + [0.0] + k[3:6] + [0.0] + k[6:] + [0.0]] + \
        ['binning_x: 0', 'binning_y: 0', 'roi:', '  x_offset: 0', '  y_offset: 0',
         '  height: 0', '  width: 0', '  do_rectify: false', '---']
    path.write_text('\n'.join(lines) + '\n')
    return path


def write_color_png(path: Path, rgb: np.ndarray) -> Path:
    """Write an RGB image as PNG."""
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def write_depth_png_mm(path: Path, depth_m: np.ndarray) -> Path:
    """Write depth in metres as a 16-bit PNG of millimetres (NaN -> 0)."""
    mm = np.nan_to_num(np.asarray(depth_m, np.float64) * 1000.0, nan=0.0)
    assert cv2.imwrite(str(path), np.round(mm).astype(np.uint16))
    return path


class BagWriter:
    """A rosbag2 bag of sensor_msgs written with rosbags (mcap or sqlite3)."""

    def __init__(self, path: Path, storage: str) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import get_typestore, Stores

        self.store = get_typestore(Stores.ROS2_JAZZY)
        plugin = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}[storage]
        self._writer = Writer(path, version=9, storage_plugin=plugin)
        self._writer.open()
        self._connections: dict[str, object] = {}

    def _types(self, name: str) -> type:
        return self.store.types[name]

    def _header(self, stamp_s: float, frame_id: str) -> object:
        time_type = self._types('builtin_interfaces/msg/Time')
        sec = int(stamp_s)
        return self._types('std_msgs/msg/Header')(
            stamp=time_type(sec=sec, nanosec=round((stamp_s - sec) * 1e9)), frame_id=frame_id)

    def write(self, topic: str, msg: object, stamp_s: float) -> None:
        """Serialise ``msg`` and log it on ``topic`` at ``stamp_s`` seconds."""
        msgtype = msg.__msgtype__
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(topic, msgtype,
                                                                   typestore=self.store)
        self._writer.write(self._connections[topic], round(stamp_s * 1e9),
                           self.store.serialize_cdr(msg, msgtype))

    def image(self, topic: str, array: np.ndarray, encoding: str, stamp_s: float,
              frame_id: str = 'test_optical_frame') -> None:
        """Log a sensor_msgs/Image of ``array`` (rgb8 uint8 H×W×3, 16UC1 mm, 32FC1 m)."""
        data = np.ascontiguousarray(array)
        height, width = data.shape[:2]
        raw = data.view(np.uint8).reshape(-1)
        msg = self._types('sensor_msgs/msg/Image')(
            header=self._header(stamp_s, frame_id), height=height, width=width,
            encoding=encoding, is_bigendian=0, step=raw.size // height, data=raw)
        self.write(topic, msg, stamp_s)

    def compressed(self, topic: str, rgb: np.ndarray, stamp_s: float, fmt: str = 'jpeg',
                   frame_id: str = 'test_optical_frame') -> None:
        """Log a sensor_msgs/CompressedImage of an RGB image (JPEG or PNG)."""
        ok, buf = cv2.imencode('.jpg' if fmt == 'jpeg' else '.png',
                               cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        assert ok
        msg = self._types('sensor_msgs/msg/CompressedImage')(
            header=self._header(stamp_s, frame_id), format=fmt,
            data=np.frombuffer(buf.tobytes(), np.uint8))
        self.write(topic, msg, stamp_s)

    def camera_info(self, topic: str, stamp_s: float, width: int = WIDTH, height: int = HEIGHT,
                    frame_id: str = 'test_optical_frame') -> None:
        """Log the test camera's sensor_msgs/CameraInfo."""
        k = np.array(k_matrix(width, height))
        roi = self._types('sensor_msgs/msg/RegionOfInterest')(
            x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
        msg = self._types('sensor_msgs/msg/CameraInfo')(
            header=self._header(stamp_s, frame_id), height=height, width=width,
            distortion_model='plumb_bob', d=np.zeros(5), k=k, r=np.eye(3).reshape(-1),
            p=np.concatenate([k.reshape(3, 3), np.zeros((3, 1))], axis=1).reshape(-1),
            binning_x=0, binning_y=0, roi=roi)
        self.write(topic, msg, stamp_s)

    def close(self) -> None:
        """Finish the bag."""
        self._writer.close()
