# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Reader for the Cornell grasping dataset in its released on-disk layout.

Files per image ``NNNN`` (official layout: folders ``01``..``10``, found recursively):

* ``pcdNNNNr.png`` colour image (640×480),
* ``pcdNNNNd.tiff`` float depth in metres (written by GR-ConvNet's
  ``generate_cornell_depth``) and/or ``pcdNNNN.txt``, the PCD v0.7 ASCII point cloud,
* ``pcdNNNNcpos.txt`` positive rectangles, 4 "x y" lines each (negatives are ignored).

Object identity: Cornell publishes no image→object table, but consecutive pcd numbers show
the same object. The default heuristic therefore groups images into blocks of
``object_block`` consecutive numbers (``pcd0100``..``pcd0109`` → object ``cornell-010``);
an object that straddles a block boundary can still leak between splits. For an exact
assignment pass ``object_map``: a text file of ``<image> <object id>`` lines, where
``<image>`` is ``pcdNNNN`` or ``NNNN`` (a project convention, not part of the release).
"""

from __future__ import annotations

from pathlib import Path
import re
from typing import TYPE_CHECKING
import warnings

from kufenet_grasp.data.base import GraspDataset
from kufenet_grasp.data.image_io import read_depth_tiff, read_rgb
from kufenet_grasp.data.pcd import pcd_to_depth
from kufenet_grasp.data.sample import DatasetError, GraspSample
from kufenet_grasp.geometry.camera import PinholeCamera
import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kufenet_grasp.grasp.rectangle import GraspRectangle

DEPTH_SOURCES = ('auto', 'tiff', 'pcd')
_RGB_PATTERN = re.compile(r'^pcd(\d+)r\.png$')


def kinect_v1_camera(width: int = 640, height: int = 480) -> PinholeCamera:
    """Nominal intrinsics of Cornell's Kinect v1 colour camera (fx = fy = 525 px at 640x480).

    The release has no calibration; 525 px is the OpenNI default for that sensor. Its depth
    images hold each point's distance, not its z: ``depth_is_range`` in the samples.
    """
    scale = width / 640.0
    return PinholeCamera(525.0 * scale, 525.0 * scale, (width - 1) / 2.0, (height - 1) / 2.0,
                         width, height, 'kinect_rgb_optical_frame')


def read_object_map(path: str | Path) -> dict[str, str]:
    """Read ``<image> <object id>`` lines (``#`` comments allowed) into {``pcdNNNN``: id}."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: object map file not found')
    mapping: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        words = line.split('#', 1)[0].split()
        if not words:
            continue
        if len(words) != 2:
            raise DatasetError(
                f"{path}: line {number}: expected '<image> <object id>', got {line.strip()!r}"
            )
        image = words[0] if words[0].startswith('pcd') else f'pcd{words[0]}'
        mapping[image] = words[1]
    return mapping


class CornellDataset(GraspDataset):
    """The Cornell grasping dataset, read lazily from ``root`` (searched recursively).

    Args:
        root: folder holding the ``pcdNNNNr.png`` files (any depth of sub-folders).
        depth_source: ``'tiff'`` (``pcdNNNNd.tiff``), ``'pcd'`` (``pcdNNNN.txt``) or
            ``'auto'`` (the TIFF if present, else the point cloud).
        object_block: consecutive pcd numbers per object in the default heuristic.
        object_map: optional ``<image> <object id>`` file overriding the heuristic.
    """

    format_name = 'cornell'

    def __init__(
        self,
        root: str | Path,
        depth_source: str = 'auto',
        object_block: int = 10,
        object_map: str | Path | None = None,
    ) -> None:
        super().__init__(root)
        if depth_source not in DEPTH_SOURCES:
            raise ValueError(
                f'CornellDataset: depth_source must be one of {DEPTH_SOURCES}, '
                f'got {depth_source!r}'
            )
        if object_block < 1:
            raise ValueError(f'CornellDataset: object_block must be >= 1, got {object_block}')
        self.depth_source = depth_source
        found = []
        for path in self.find_files('pcd*r.png'):
            match = _RGB_PATTERN.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
        if not found:
            raise DatasetError(f'{self.root}: no Cornell images (pcdNNNNr.png) found')
        found.sort()
        self._rgb_paths = [p for _, p in found]
        self._names = [p.name[:-len('r.png')] for p in self._rgb_paths]
        mapping = read_object_map(object_map) if object_map is not None else {}
        self._object_ids = [
            mapping.get(name, f'cornell-{number // object_block:03d}')
            for (number, _), name in zip(found, self._names)
        ]

    @property
    def names(self) -> list[str]:
        """Image names ``pcdNNNN`` sorted by number."""
        return list(self._names)

    @property
    def object_ids(self) -> list[str]:
        """Object id of each image (see the module docstring for the heuristic)."""
        return list(self._object_ids)

    def _file(self, index: int, suffix: str) -> Path:
        """Path of the companion file ``pcdNNNN<suffix>`` next to the colour image."""
        return self._rgb_paths[index].with_name(self._names[index] + suffix)

    def load_rectangles(self, index: int) -> list[GraspRectangle]:
        """Positive rectangles of image ``index`` in pixels; NaN-corner ones are dropped."""
        from kufenet_grasp.grasp.labels import parse_cornell_rectangles

        index = self._check_index(index)
        path = self._file(index, 'cpos.txt')
        if not path.is_file():
            raise DatasetError(f'{path}: grasp rectangle file not found')
        rects, n_dropped = parse_cornell_rectangles(path.read_text(), str(path))
        if n_dropped:
            warnings.warn(
                f'{path}: dropped {n_dropped} rectangle(s) with non-finite corners',
                stacklevel=2,
            )
        return list(rects)

    def load_depth(self, index: int, shape: tuple[int, int] = (480, 640)) -> np.ndarray:
        """Depth of image ``index`` in metres (``float32`` H×W, NaN invalid)."""
        index = self._check_index(index)
        tiff = self._file(index, 'd.tiff')
        pcd = self._file(index, '.txt')
        if self.depth_source == 'tiff' or (self.depth_source == 'auto' and tiff.is_file()):
            if not tiff.is_file():
                raise DatasetError(f"{tiff}: depth TIFF not found (depth_source='tiff')")
            depth, source = read_depth_tiff(tiff), tiff
        elif pcd.is_file():
            depth, source = pcd_to_depth(pcd, shape), pcd
        elif self.depth_source == 'pcd':
            raise DatasetError(f"{pcd}: point cloud not found (depth_source='pcd')")
        else:
            raise DatasetError(f'{self._rgb_paths[index]}: no depth: neither {tiff.name} '
                               f'nor {pcd.name} exists')
        if depth.shape != tuple(shape):
            raise DatasetError(f'{source}: depth size {depth.shape} differs from the colour '
                               f"image's {tuple(shape)}")
        return depth

    def load(self, index: int) -> GraspSample:
        """Read image ``index``: colour, depth (metres) and positive rectangles (pixels)."""
        index = self._check_index(index)
        rgb = read_rgb(self._rgb_paths[index])
        depth = self.load_depth(index, rgb.shape[:2])
        return GraspSample(
            rgb=rgb,
            depth=depth,
            rectangles=self.load_rectangles(index),
            object_id=self._object_ids[index],
            name=self._names[index],
            mask=None,
            camera=kinect_v1_camera(rgb.shape[1], rgb.shape[0]),
            depth_is_range=True,
        )
