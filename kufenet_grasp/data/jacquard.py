# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Reader for the Jacquard dataset layout (also used by the project's synthetic dataset).

For every ``<prefix>_grasps.txt`` found recursively under the root, the reader expects
``<prefix>_RGB.png``, ``<prefix>_perfect_depth.tiff`` and/or ``<prefix>_stereo_depth.tiff``
(32-bit float metres, LZW-compressed in the real release; -1 and non-finite → NaN) and
optionally ``<prefix>_mask.png``. The object id is the parent folder name (the real
release keeps one folder per object; the synthetic data one folder per scene:
``<root>/<split>/<scene_id>/<k>_<scene_id>_*``). Image size is read from the files.
Hidden folders (such as the generator's half-written ``.tmp-*`` scenes) are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from kufenet_grasp.data.base import GraspDataset
from kufenet_grasp.data.image_io import read_depth_tiff, read_mask, read_rgb
from kufenet_grasp.data.sample import DatasetError, GraspSample
from kufenet_grasp.geometry.camera import PinholeCamera
import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kufenet_grasp.grasp.rectangle import GraspRectangle

DEPTH_KINDS = ('perfect', 'stereo')
_GRASPS_SUFFIX = '_grasps.txt'


class JacquardDataset(GraspDataset):
    """The Jacquard dataset (or data in its layout), read lazily from ``root``.

    Args:
        root: folder searched recursively for ``*_grasps.txt``.
        depth: ``'perfect'`` (rendered) or ``'stereo'`` (noisy) depth image.
        dedupe: keep only the first of label rows that differ only in jaw size (Jacquard's
            default 2 cm jaw). Off by default: GG-CNN/GR-ConvNet train and evaluate on
            every row.
    """

    format_name = 'jacquard'

    def __init__(self, root: str | Path, depth: str = 'perfect', dedupe: bool = False) -> None:
        super().__init__(root)
        if depth not in DEPTH_KINDS:
            raise ValueError(f'JacquardDataset: depth must be one of {DEPTH_KINDS}, got {depth!r}')
        self.depth_kind = depth
        self.dedupe = dedupe
        grasp_files = self.find_files('*' + _GRASPS_SUFFIX)
        if not grasp_files:
            raise DatasetError(f'{self.root}: no Jacquard label files (*_grasps.txt) found')
        self._prefixes = [p.with_name(p.name[: -len(_GRASPS_SUFFIX)]) for p in grasp_files]
        self._names = [p.name for p in self._prefixes]
        self._object_ids = [p.parent.name for p in self._prefixes]

    @property
    def names(self) -> list[str]:
        """Image names, i.e. file prefixes such as ``0_1a2b3c``, in sorted path order."""
        return list(self._names)

    @property
    def object_ids(self) -> list[str]:
        """Parent folder name of each image (one folder per object or scene)."""
        return list(self._object_ids)

    def _file(self, index: int, suffix: str) -> Path:
        """Path ``<prefix><suffix>`` of image ``index``."""
        prefix = self._prefixes[index]
        return prefix.with_name(prefix.name + suffix)

    def load_rectangles(self, index: int) -> list[GraspRectangle]:
        """Grasps of image ``index`` in pixels of its image."""
        from kufenet_grasp.grasp.labels import parse_jacquard_grasps

        index = self._check_index(index)
        path = self._file(index, _GRASPS_SUFFIX)
        return list(parse_jacquard_grasps(path.read_text(), str(path), dedupe=self.dedupe))

    def load_depth(self, index: int) -> np.ndarray:
        """Depth of image ``index`` in metres (``float32`` H×W, NaN invalid)."""
        index = self._check_index(index)
        return read_depth_tiff(self._file(index, f'_{self.depth_kind}_depth.tiff'))

    def load(self, index: int) -> GraspSample:
        """Read image ``index``: colour, depth (metres), grasps (pixels) and mask."""
        index = self._check_index(index)
        rgb_path = self._file(index, '_RGB.png')
        rgb = read_rgb(rgb_path)
        depth = self.load_depth(index)
        if depth.shape != rgb.shape[:2]:
            raise DatasetError(
                f"{self._file(index, f'_{self.depth_kind}_depth.tiff')}: depth size "
                f"{depth.shape} differs from {rgb_path.name}'s {rgb.shape[:2]}"
            )
        mask_path = self._file(index, '_mask.png')
        mask = read_mask(mask_path) if mask_path.is_file() else None
        if mask is not None and mask.shape != rgb.shape[:2]:
            raise DatasetError(
                f"{mask_path}: mask size {mask.shape} differs from {rgb_path.name}'s "
                f'{rgb.shape[:2]}'
            )
        return GraspSample(
            rgb=rgb,
            depth=depth,
            rectangles=self.load_rectangles(index),
            object_id=self._object_ids[index],
            name=self._names[index],
            mask=mask,
            camera=self.load_camera(index),
        )

    def load_camera(self, index: int) -> PinholeCamera | None:
        """Intrinsics of image ``index`` from the synthetic scene's ``scene.json``, or None.

        The real Jacquard release has no intrinsics; the project's generator records them.
        """
        path = self._prefixes[self._check_index(index)].parent / 'scene.json'
        if not path.is_file():
            return None
        try:
            intrinsics = json.loads(path.read_text())['camera']['intrinsics']
            return PinholeCamera(float(intrinsics['fx']), float(intrinsics['fy']),
                                 float(intrinsics['cx']), float(intrinsics['cy']),
                                 int(intrinsics['width']), int(intrinsics['height']))
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
            raise DatasetError(f'{path}: no usable camera intrinsics ({exc})') from None
