# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""One labelled RGB-D image as the dataset readers return it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kufenet_grasp.geometry.camera import PinholeCamera
import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kufenet_grasp.grasp.rectangle import GraspRectangle


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message names the file."""


@dataclass
class GraspSample:
    """An RGB-D image with its grasp labels, all in the pixel frame of this image.

    Attributes:
        rgb: ``uint8`` H×W×3 array in RGB order.
        depth: ``float32`` H×W array in metres; invalid pixels are NaN.
        rectangles: ground-truth grasps in pixels of this image (x right, y down).
        object_id: identifier of the object (or scene) shown; used for object-wise splits.
        name: identifier of the image (e.g. ``pcd0100`` or ``0_1a2b``).
        mask: optional H×W object mask (``uint8``, non-zero = object), or None.
        camera: intrinsics of this image when the dataset knows them, else None.
        depth_is_range: the depth is the distance from the camera centre (Cornell's), not z.
    """

    rgb: np.ndarray
    depth: np.ndarray
    rectangles: list[GraspRectangle] = field(default_factory=list)
    object_id: str = ''
    name: str = ''
    mask: np.ndarray | None = None
    camera: PinholeCamera | None = None
    depth_is_range: bool = False

    def __post_init__(self) -> None:
        """Check the array shapes and types agree."""
        if self.rgb.ndim != 3 or self.rgb.shape[2] != 3 or self.rgb.dtype != np.uint8:
            raise ValueError(
                f'GraspSample {self.name!r}: rgb must be uint8 H×W×3, '
                f'got {self.rgb.dtype} {self.rgb.shape}'
            )
        if self.depth.shape != self.rgb.shape[:2]:
            raise ValueError(
                f'GraspSample {self.name!r}: depth shape {self.depth.shape} does not match '
                f'rgb shape {self.rgb.shape[:2]}'
            )
        if self.depth.dtype != np.float32:
            self.depth = self.depth.astype(np.float32)
        if self.mask is not None and self.mask.shape != self.rgb.shape[:2]:
            raise ValueError(
                f'GraspSample {self.name!r}: mask shape {self.mask.shape} does not match '
                f'rgb shape {self.rgb.shape[:2]}'
            )

    @property
    def shape(self) -> tuple[int, int]:
        """Image size ``(height, width)`` in pixels."""
        return int(self.rgb.shape[0]), int(self.rgb.shape[1])
