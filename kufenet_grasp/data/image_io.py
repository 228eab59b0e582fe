# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Reading the image files of the grasp datasets (PNG colour, float TIFF depth, masks)."""

from __future__ import annotations

from pathlib import Path

import cv2
from kufenet_grasp.data.sample import DatasetError
import numpy as np


def _read_unchanged(path: str | Path, what: str) -> tuple[Path, np.ndarray]:
    """Read ``path`` as OpenCV does, unchanged; DatasetError naming ``what`` if it cannot."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: {what} not found')
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DatasetError(f'{path}: not a readable {what}')
    return path, image


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an 8-bit colour image as ``uint8`` H×W×3 in RGB order (pixels).

    Grey images are repeated to three channels and an alpha channel is dropped.
    """
    path, image = _read_unchanged(path, 'colour image')
    if image.dtype != np.uint8:
        raise DatasetError(f'{path}: colour image must be 8-bit, got {image.dtype} (is this '
                           f'the depth image?)')
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    code = cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(image, code)


def read_mask(path: str | Path) -> np.ndarray:
    """Read an object mask as ``uint8`` H×W (non-zero = object)."""
    path = Path(path)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DatasetError(f'{path}: mask is missing or not a readable image')
    if image.ndim == 3:
        image = image.max(axis=2)
    return (image > 0).astype(np.uint8) * 255


def clean_depth(depth: np.ndarray) -> np.ndarray:
    """Return ``float32`` depth in metres with 0, negative and non-finite values set to NaN."""
    depth = np.asarray(depth, dtype=np.float32).copy()
    with np.errstate(invalid='ignore'):
        depth[~np.isfinite(depth) | (depth <= 0)] = np.nan
    return depth


def read_depth_tiff(path: str | Path) -> np.ndarray:
    """Read a single-channel floating-point TIFF depth image in metres.

    The file must hold one float channel (LZW compression is fine, as in the real Jacquard
    release). Returns ``float32`` H×W metres with 0, -1 and non-finite values as NaN.
    """
    path, depth = _read_unchanged(path, 'TIFF depth image')
    if depth.ndim != 2:
        raise DatasetError(f'{path}: depth must have one channel, got shape {depth.shape}')
    if depth.dtype.kind != 'f':
        raise DatasetError(
            f'{path}: depth must be floating point metres, got dtype {depth.dtype}'
        )
    return clean_depth(depth)


def write_depth_tiff(path: str | Path, depth: np.ndarray) -> None:
    """Write ``float32`` H×W depth in metres as a TIFF (NaN is written as-is)."""
    if not cv2.imwrite(str(path), np.asarray(depth, dtype=np.float32)):
        raise OSError(f'{path}: could not write the depth TIFF')
