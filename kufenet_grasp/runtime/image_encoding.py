# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""sensor_msgs/Image ↔ numpy conversion without cv_bridge (pure Python, no rclpy import).

Messages are duck-typed: anything with ``encoding``, ``height``, ``width``, ``step``, ``data``
and ``is_bigendian``. Colour images come out as RGB ``uint8 H×W×3``; depth images as
``float32 H×W`` metres with NaN for invalid pixels (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import array
from typing import Any

import numpy as np

#: colour encodings: (channels, index of R, G, B in a pixel)
_COLOR = {
    'rgb8': (3, (0, 1, 2)),
    'bgr8': (3, (2, 1, 0)),
    'rgba8': (4, (0, 1, 2)),
    'bgra8': (4, (2, 1, 0)),
    'mono8': (1, (0, 0, 0)),
}
#: depth encodings: (numpy dtype without byte order, scale to metres)
_DEPTH = {'16UC1': ('u2', 1e-3), '32FC1': ('f4', 1.0)}
SUPPORTED_ENCODINGS = tuple(_COLOR) + tuple(_DEPTH)


class ImageEncodingError(ValueError):
    """An image message cannot be converted (unsupported encoding or inconsistent fields)."""


def _bytes_per_pixel(encoding: str) -> int:
    if encoding in _COLOR:
        return _COLOR[encoding][0]
    return np.dtype(_DEPTH[encoding][0]).itemsize


def _check_encoding(encoding: Any) -> str:
    if encoding not in SUPPORTED_ENCODINGS:
        raise ImageEncodingError(f'unsupported image encoding {encoding!r}; supported: '
                                 f"{', '.join(SUPPORTED_ENCODINGS)}")
    return encoding


def _rows(msg: Any) -> tuple[str, np.ndarray]:
    """Return (encoding, uint8 height × width·pixel-size view of the pixel rows, no padding)."""
    encoding = _check_encoding(getattr(msg, 'encoding', None))
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    bpp = _bytes_per_pixel(encoding)
    if height <= 0 or width <= 0:
        raise ImageEncodingError(f'image message has an empty size {width}x{height}')
    if step < width * bpp:
        raise ImageEncodingError(f'image step {step} B is smaller than width × pixel size '
                                 f'= {width}×{bpp} B for {encoding}')
    data = msg.data
    if not isinstance(data, (bytes, bytearray, memoryview, array.array)):
        data = bytes(data)  # rclpy gives array.array('B') (read in place); tests give lists
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size != height * step:
        raise ImageEncodingError(f'image data holds {buf.size} B, expected height × step = '
                                 f'{height}×{step} = {height * step} B for {encoding} '
                                 f'{width}x{height}')
    return encoding, buf.reshape(height, step)[:, :width * bpp]


def depth_raw(msg: Any) -> np.ndarray:
    """Return a depth Image's values as sent: ``uint16`` (16UC1 mm) or ``float32`` (32FC1 m).

    No scaling and no invalid-pixel masking (for diagnosing sign and unit mistakes).

    Raises:
        ImageEncodingError: not a depth encoding, or inconsistent fields.

    """
    encoding, rows = _rows(msg)
    if encoding not in _DEPTH:
        raise ImageEncodingError(f'depth_raw: {encoding} is not a depth encoding')
    kind, _ = _DEPTH[encoding]
    dtype = np.dtype(kind).newbyteorder('>' if msg.is_bigendian else '<')
    raw = np.ascontiguousarray(rows).view(dtype).reshape(rows.shape[0], int(msg.width))
    return raw.astype(np.dtype(kind).newbyteorder('='), copy=False)


def image_to_numpy(msg: Any) -> np.ndarray:
    """Convert an Image message to RGB ``uint8 H×W×3`` or depth ``float32 H×W`` metres.

    ``16UC1`` is millimetres (0 = invalid); ``32FC1`` is metres (NaN, inf, 0 and negative =
    invalid). Row padding (``step`` > width × pixel size) and ``is_bigendian`` are honoured.
    Returns a new array that does not share memory with the message.

    Raises:
        ImageEncodingError: unsupported encoding, or ``data`` / ``step`` inconsistent with the
            image size.

    """
    encoding, rows = _rows(msg)
    height, width = rows.shape[0], int(msg.width)
    if encoding in _COLOR:
        channels, order = _COLOR[encoding]
        pixels = rows.reshape(height, width, channels)
        if tuple(order) == tuple(range(channels)):
            return np.array(pixels)  # a plain copy: much cheaper than fancy indexing
        return np.ascontiguousarray(pixels[:, :, list(order)])
    kind, scale = _DEPTH[encoding]
    dtype = np.dtype(kind).newbyteorder('>' if msg.is_bigendian else '<')
    raw = np.ascontiguousarray(rows).view(dtype).reshape(height, width)
    depth = raw.astype(np.float32)
    if kind == 'u2':  # millimetres: 0 is the only invalid value
        depth *= np.float32(scale)
        depth[raw == 0] = np.nan
        return depth
    with np.errstate(invalid='ignore'):
        depth[~np.isfinite(depth) | (depth <= 0)] = np.nan
    return depth


def numpy_to_image_fields(array: np.ndarray, encoding: str,
                          is_bigendian: bool = False) -> dict[str, Any]:
    """Fields of an Image message (height, width, encoding, step, data, is_bigendian).

    ``array`` is RGB ``uint8 H×W×3`` for the colour encodings (``mono8`` also takes H×W or
    converts RGB with ITU-R 601 luma), or depth ``H×W`` in metres for ``16UC1`` (written as
    millimetres, NaN → 0) and ``32FC1`` (written as metres, NaN kept). Rows are unpadded.
    """
    encoding = _check_encoding(encoding)
    arr = np.asarray(array)
    order = '>' if is_bigendian else '<'
    if encoding in _COLOR:
        if arr.dtype != np.uint8:
            raise ImageEncodingError(f'numpy_to_image_fields: {encoding} needs uint8, '
                                     f'got {arr.dtype}')
        channels, rgb_index = _COLOR[encoding]
        if encoding == 'mono8':
            if arr.ndim == 3 and arr.shape[2] == 3:
                luma = arr.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
                arr = np.clip(np.round(luma), 0, 255).astype(np.uint8)
            if arr.ndim != 2:
                raise ImageEncodingError(f'numpy_to_image_fields: mono8 needs H×W or H×W×3, '
                                         f'got shape {arr.shape}')
            out = arr
        else:
            if arr.ndim != 3 or arr.shape[2] != 3:
                raise ImageEncodingError(f'numpy_to_image_fields: {encoding} needs an RGB '
                                         f'H×W×3 array, got shape {arr.shape}')
            out = np.full(arr.shape[:2] + (channels,), 255, dtype=np.uint8)
            out[:, :, list(rgb_index)] = arr
    else:
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.floating):
            raise ImageEncodingError(f'numpy_to_image_fields: {encoding} needs float H×W '
                                     f'metres, got shape {arr.shape} dtype {arr.dtype}')
        if encoding == '16UC1':
            mm = np.nan_to_num(arr.astype(np.float64) * 1000.0, nan=0.0, posinf=0.0, neginf=0.0)
            out = np.clip(np.round(mm), 0, 65535).astype(order + 'u2')
        else:
            out = arr.astype(order + 'f4')
    height, width = out.shape[:2]
    data = np.ascontiguousarray(out).tobytes()
    return {'height': int(height), 'width': int(width), 'encoding': encoding,
            'step': len(data) // height, 'data': data, 'is_bigendian': bool(is_bigendian)}
