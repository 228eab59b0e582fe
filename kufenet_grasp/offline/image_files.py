# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Colour and depth image files for offline detection, and how pairs of them are found.

Colour: any image OpenCV reads (8-bit; grey is repeated to RGB, alpha dropped), returned as
RGB ``uint8 H×W×3``. Depth, registered to the colour image, returned as ``float32 H×W``
metres with NaN for invalid pixels (0, negative, non-finite):

* 16-bit PNG (or integer TIFF): millimetres unless ``scale_m`` (metres per unit) says
  otherwise, as a RealSense or Kinect driver writes them;
* floating-point TIFF: metres (the Jacquard / GR-ConvNet convention);
* ``.npy``: integer arrays are scaled like a PNG, float arrays are metres (or ``scale_m``).
  Loaded with ``allow_pickle=False``: a pickled array is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
import glob
from pathlib import Path

import cv2
from kufenet_grasp.data.image_io import clean_depth, read_rgb
from kufenet_grasp.data.registry import FORMATS, open_dataset
from kufenet_grasp.data.sample import DatasetError
import numpy as np

DEPTH_SUFFIXES = ('.png', '.tif', '.tiff', '.npy')
MILLIMETRE = 0.001


class FrameFileError(ValueError):
    """An image file is missing, unreadable or not in a supported format."""


def read_color(path: str | Path) -> np.ndarray:
    """Read a colour image as RGB ``uint8 H×W×3``, as ``data.image_io.read_rgb`` does."""
    try:
        return read_rgb(path)
    except DatasetError as exc:
        raise FrameFileError(str(exc)) from exc


def _scaled(path: Path, raw: np.ndarray, scale_m: float | None) -> np.ndarray:
    """Depth array in metres from integer (default mm) or float (default m) values."""
    if raw.ndim != 2:
        raise FrameFileError(f'{path}: depth must have one channel, got shape {raw.shape}')
    if raw.dtype.kind in 'ui':
        if raw.dtype.itemsize < 2:
            raise FrameFileError(f'{path}: 8-bit depth cannot hold millimetres; save depth as '
                                 f'a 16-bit PNG (mm), a float TIFF (m) or .npy')
        scale = MILLIMETRE if scale_m is None else scale_m
    elif raw.dtype.kind == 'f':
        scale = 1.0 if scale_m is None else scale_m
    else:
        raise FrameFileError(f'{path}: depth must be integer or float, got {raw.dtype}')
    return clean_depth(raw.astype(np.float64) * scale)


def read_depth(path: str | Path, scale_m: float | None = None) -> np.ndarray:
    """Read a depth image (see the module docstring) as ``float32`` H×W metres, NaN invalid.

    ``scale_m``: metres per stored unit; None = 0.001 for integer files, 1 for float files.
    """
    path = Path(path)
    if scale_m is not None and not (np.isfinite(scale_m) and scale_m > 0):
        raise FrameFileError(f'depth scale must be > 0 metres per unit, got {scale_m}')
    if not path.is_file():
        raise FrameFileError(f'{path}: depth image not found')
    suffix = path.suffix.lower()
    if suffix not in DEPTH_SUFFIXES:
        raise FrameFileError(f"{path}: depth must be {', '.join(DEPTH_SUFFIXES)}, got "
                             f"'{path.suffix}'")
    if suffix == '.npy':
        try:
            raw = np.load(path, allow_pickle=False)
        except ValueError as exc:  # pickled object arrays, and broken headers
            raise FrameFileError(f'{path}: not a plain numpy array ({exc})') from exc
        except (OSError, EOFError) as exc:  # unreadable, empty or cut short
            raise FrameFileError(f'{path}: cannot read the array ({exc})') from exc
    else:
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if raw is None:
            raise FrameFileError(f'{path}: not an image OpenCV can read')
    return _scaled(path, np.asarray(raw), scale_m)


@dataclass(frozen=True)
class FramePaths:
    """One colour file and the depth file registered to it; ``name`` names the outputs."""

    name: str
    color: Path
    depth: Path


def _expand(pattern: str) -> list[Path]:
    """Files of a path or glob pattern, sorted; the path itself if it has no wildcard."""
    if glob.has_magic(pattern):
        return [Path(p) for p in sorted(glob.glob(pattern, recursive=True))
                if Path(p).is_file()]
    return [Path(pattern)]


def pair_files(color: Sequence[str], depth: Sequence[str]) -> list[FramePaths]:
    """Pair colour and depth files (paths or globs) in sorted order; names from colour stems.

    Raises:
        FrameFileError: a glob matches nothing, or the two sides hold different numbers of
            files.

    """
    colors = [p for pattern in color for p in _expand(pattern)]
    depths = [p for pattern in depth for p in _expand(pattern)]
    for side, pattern, files in (('colour', color, colors), ('depth', depth, depths)):
        if not files:
            raise FrameFileError(f"no {side} file matches {' '.join(pattern)}")
    if len(colors) != len(depths):
        raise FrameFileError(f'{len(colors)} colour files but {len(depths)} depth files: '
                             f'each colour image needs its depth image (paired in sorted '
                             f'order)')
    return [FramePaths(name, c, d) for name, c, d in zip(unique_names(colors), colors, depths)]


def unique_names(paths: Sequence[Path]) -> list[str]:
    """File stems, with ``-2``, ``-3``, ... added where two files share a stem."""
    seen: dict[str, int] = {}
    names = []
    for path in paths:
        count = seen.get(path.stem, 0) + 1
        seen[path.stem] = count
        names.append(path.stem if count == 1 else f'{path.stem}-{count}')
    return names


def iter_dataset_frames(spec: str) -> Iterator[tuple[str, np.ndarray, np.ndarray] | str]:
    """(name, rgb, depth m) of each image of a Cornell or Jacquard folder, or an error line.

    ``spec`` is ``cornell:PATH``, ``jacquard:PATH`` or a folder whose layout is guessed. An
    image that cannot be read yields its error message (a string) and the rest go on.

    Raises:
        FrameFileError: the folder is missing or is in neither layout.

    """
    fmt, sep, rest = spec.partition(':')
    if not (sep and fmt.lower() in FORMATS and not Path(spec).exists()):
        root = Path(spec)
        if not root.is_dir():
            raise FrameFileError(f'{root}: dataset folder not found')
        if next(root.rglob('pcd*r.png'), None) is not None:
            fmt = 'cornell'
        elif next(root.rglob('*_grasps.txt'), None) is not None:
            fmt = 'jacquard'
        else:
            raise FrameFileError(f'{root}: neither the Cornell layout (pcdNNNNr.png) nor the '
                                 f'Jacquard layout (*_grasps.txt); pass --color/--depth')
        rest = spec
    try:
        dataset = open_dataset(f'{fmt.lower()}:{rest}')
    except (DatasetError, ValueError) as exc:
        raise FrameFileError(str(exc)) from exc
    names = unique_names([Path(n) for n in dataset.names])
    for index, name in enumerate(names):
        try:
            sample = dataset.load(index)
        except (DatasetError, ValueError, OSError) as exc:
            yield f'{name}: {exc}'
            continue
        yield name, sample.rgb, sample.depth
