# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Synchronised RGB-D frames from a rosbag2 bag (mcap or sqlite3), read without ROS.

``rosbags`` reads the bag and deserialises the messages (types from the bag's own message
definitions, else the Jazzy ones). Colour, depth and camera info are matched the way the
``grasp_detector`` node matches them: the newest camera info travels with each colour image
and :class:`ApproximateFrameSync` pairs colour and depth within ``sync_slop_s`` seconds. As
the bag is replayed as fast as the detector runs, every matched frame is processed (a live
node skips frames when it falls behind).

Colour may be ``sensor_msgs/Image`` (rgb8, bgr8, rgba8, bgra8, mono8) or
``sensor_msgs/CompressedImage`` (JPEG / PNG, decoded with OpenCV). Depth must be a raw
``sensor_msgs/Image`` (16UC1 mm or 32FC1 m), aligned to colour.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
from kufenet_grasp.detection import validation
from kufenet_grasp.geometry.camera import from_camera_info_msg, PinholeCamera
from kufenet_grasp.runtime.frame_sync import ApproximateFrameSync, stamp_seconds
from kufenet_grasp.runtime.image_encoding import image_to_numpy, ImageEncodingError
import numpy as np

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED = 'sensor_msgs/msg/CompressedImage'
CAMERA_INFO = 'sensor_msgs/msg/CameraInfo'
IMAGE_TYPES = (IMAGE, COMPRESSED)
COLOR_ENCODINGS = ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8')
DEPTH_ENCODINGS = ('16UC1', '32FC1')
RAW_DEPTH_HINT = ('record the raw aligned depth instead, e.g. ros2 bag record '
                  '/camera/camera/aligned_depth_to_color/image_raw (sensor_msgs/Image, 16UC1 '
                  'mm or 32FC1 m)')


class BagError(ValueError):
    """The bag cannot be opened, or lacks the topics (or types) the command names."""


class FrameError(ValueError):
    """One synchronised frame cannot be used (encoding, sizes, frame ids, intrinsics)."""


@dataclass(frozen=True)
class TopicSummary:
    """A topic of the bag: name, message type, number of messages."""

    name: str
    msgtype: str
    count: int


def open_reader(path: str | Path) -> Any:
    """Open a ``rosbags`` reader on the bag folder (or on the folder of a bag file).

    Raises:
        BagError: no bag at ``path`` or the bag cannot be read.

    """
    from rosbags.highlevel import AnyReader, AnyReaderError
    from rosbags.typesys import get_typestore, Stores

    path = Path(path)
    if path.is_file() and (path.parent / 'metadata.yaml').is_file():
        path = path.parent  # the .mcap / .db3 file of a bag folder
    if not path.exists():
        raise BagError(f'{path}: bag not found')
    if path.is_dir() and not (path / 'metadata.yaml').is_file():
        raise BagError(f'{path}: not a rosbag2 folder (no metadata.yaml)')
    reader = AnyReader([path], default_typestore=get_typestore(Stores.ROS2_JAZZY))
    try:
        reader.open()
    except (AnyReaderError, OSError, ValueError, KeyError) as exc:
        raise BagError(f'{path}: cannot read the bag: {exc}') from exc
    return reader


def list_topics(path: str | Path) -> list[TopicSummary]:
    """Every topic of the bag with its type and message count, sorted by name."""
    reader = open_reader(path)
    try:
        return sorted((TopicSummary(name, info.msgtype, int(info.msgcount or 0))
                       for name, info in reader.topics.items()), key=lambda t: t.name)
    finally:
        reader.close()


def _pick(topics: list[TopicSummary], types: tuple[str, ...], words: tuple[str, ...],
          avoid: tuple[str, ...] = ()) -> str | None:
    """Name of the first topic of ``types`` whose name holds the most of ``words``."""
    candidates = [t for t in topics if t.msgtype in types
                  and not any(w in t.name for w in avoid)]
    if not candidates:
        return None
    return max(candidates, key=lambda t: (sum(w in t.name for w in words),
                                          t.msgtype == IMAGE, -len(t.name))).name


def suggest_topics(topics: list[TopicSummary]) -> dict[str, str | None]:
    """Likely colour, depth and info topics (RealSense / OpenNI naming); None if no candidate."""
    color = _pick(topics, IMAGE_TYPES, ('color', 'rgb', 'image_raw'), avoid=('depth',))
    depth = _pick(topics, (IMAGE,), ('aligned', 'depth', 'image_raw'))
    prefix = color.rsplit('/', 1)[0] if color else ''
    infos = [t for t in topics if t.msgtype == CAMERA_INFO]
    info = next((t.name for t in infos if prefix and t.name.startswith(prefix + '/')), None)
    info = info or _pick(topics, (CAMERA_INFO,), ('color', 'rgb'))
    return {'color': color, 'depth': depth, 'info': info}


@dataclass
class BagStats:
    """Counters of one pass over a bag (messages, frames)."""

    color_read: int = 0
    depth_read: int = 0
    info_read: int = 0
    synchronised: int = 0
    stamps: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class _StampedInfo:
    """The newest CameraInfo (or None) stamped like the colour image it accompanies."""

    header: Any
    info: Any


@dataclass(frozen=True)
class BagFrame:
    """A synchronised colour message, depth message and the newest camera info (or None)."""

    index: int  #: 0-based count of synchronised frames
    stamp_s: float  #: colour stamp, seconds
    color: Any
    color_type: str
    depth: Any
    info: Any


def _check_topic(reader: Any, topic: str, role: str, types: tuple[str, ...]) -> str:
    info = reader.topics.get(topic)
    if info is None:
        known = ', '.join(sorted(reader.topics)) or 'none'
        raise BagError(f"{role} topic '{topic}' is not in the bag (topics: {known})")
    if role == 'depth' and info.msgtype == COMPRESSED:
        raise BagError(f"depth topic '{topic}' is compressed (sensor_msgs/CompressedImage) "
                       f'and compressed depth is refused (lossy or an unsupported codec): '
                       f'{RAW_DEPTH_HINT}')
    if info.msgtype not in types:
        raise BagError(f"{role} topic '{topic}' has type {info.msgtype}, expected "
                       f"{' or '.join(types)}")
    return info.msgtype


def check_topics(path: str | Path, color_topic: str, depth_topic: str,
                 info_topic: str | None) -> float | None:
    """Check the bag holds the topics with usable types; return the colour rate (Hz) or None.

    Raises:
        BagError: the bag cannot be read, or a topic is missing or of the wrong type.

    """
    reader = open_reader(path)
    try:
        _check_topic(reader, color_topic, 'colour', IMAGE_TYPES)
        _check_topic(reader, depth_topic, 'depth', (IMAGE,))
        if info_topic:
            _check_topic(reader, info_topic, 'camera info', (CAMERA_INFO,))
        count = int(reader.topics[color_topic].msgcount or 0)
        duration_s = reader.duration * 1e-9
    finally:
        reader.close()
    return (count - 1) / duration_s if count > 1 and duration_s > 0 else None


def synchronised_frames(path: str | Path, color_topic: str, depth_topic: str,
                        info_topic: str | None, slop_s: float,
                        stats: BagStats | None = None) -> Iterator[BagFrame]:
    """Yield the bag's synchronised frames in recording order (see the module docstring).

    ``stats`` (optional) is updated as messages are read.

    Raises:
        BagError: the bag cannot be read, or a topic is missing or of the wrong type.

    """
    stats = stats if stats is not None else BagStats()
    reader = open_reader(path)
    try:
        color_type = _check_topic(reader, color_topic, 'colour', IMAGE_TYPES)
        _check_topic(reader, depth_topic, 'depth', (IMAGE,))
        topics = [color_topic, depth_topic]
        if info_topic:
            _check_topic(reader, info_topic, 'camera info', (CAMERA_INFO,))
            topics.append(info_topic)
        connections = [c for c in reader.connections if c.topic in topics]
        sync = ApproximateFrameSync(slop_s)
        info = None
        for connection, _, raw in reader.messages(connections=connections):
            msg = reader.deserialize(raw, connection.msgtype)
            if connection.topic == info_topic:
                stats.info_read += 1
                info = msg
                continue
            if connection.topic == color_topic:
                stats.color_read += 1
                sync.add_info(_StampedInfo(msg.header, info))
                sync.add_color(msg)
            else:
                stats.depth_read += 1
                sync.add_depth(msg)
            triple = sync.take_latest()
            if triple is not None:
                stats.synchronised += 1
                yield BagFrame(stats.synchronised - 1, stamp_seconds(triple.color),
                               triple.color, color_type, triple.depth, triple.info.info)
    except (KeyError, ValueError, AssertionError) as exc:
        if isinstance(exc, BagError):
            raise
        raise BagError(f'{path}: cannot read the messages: {exc}') from exc
    finally:
        reader.close()


def _decode_compressed(msg: Any) -> np.ndarray:
    data = np.frombuffer(bytes(msg.data), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise FrameError(f"cannot decode the compressed colour image (format '{msg.format}')")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def decode_frame(frame: BagFrame) -> tuple[np.ndarray, np.ndarray, PinholeCamera | None]:
    """RGB ``uint8 H×W×3``, depth ``float32 H×W`` m and the camera of one frame.

    The same checks, in the same order, as the node: encodings, decoding, colour and depth
    frame ids, camera info usable and matching the image (size and frame id).

    Raises:
        FrameError: the first problem found, as one line saying how to fix it.

    """
    color, depth = frame.color, frame.depth
    if frame.color_type == IMAGE and color.encoding not in COLOR_ENCODINGS:
        raise FrameError(f"colour image encoding '{color.encoding}' is not supported; use one "
                         f"of {', '.join(COLOR_ENCODINGS)}")
    if depth.encoding not in DEPTH_ENCODINGS:
        raise FrameError(f"depth image encoding '{depth.encoding}' is not supported; use "
                         f'16UC1 (mm) or 32FC1 (m)')
    try:
        rgb = _decode_compressed(color) if frame.color_type == COMPRESSED \
            else image_to_numpy(color)
        depth_m = image_to_numpy(depth)
    except ImageEncodingError as exc:
        raise FrameError(f'cannot decode the image: {exc}') from exc
    info_frame_id = frame.info.header.frame_id if frame.info is not None else ''
    issue = validation.first_issue(validation.check_frame_ids(
        color.header.frame_id, depth.header.frame_id, info_frame_id))
    if issue is not None:
        raise FrameError(issue.message)
    camera = None
    if frame.info is not None:  # its size is checked against the image by the detector
        try:
            camera = from_camera_info_msg(frame.info)
        except ValueError as exc:
            raise FrameError(f'camera_info is unusable: {exc}') from exc
    return rgb, depth_m, camera
