# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The PyTorch training dataset: (network input, target maps, index) from a grasp dataset.

For sample ``i`` the image is cropped to a square window and resized to S×S model-input
pixels exactly as at inference (``make_crop``/``apply_crop`` of
:mod:`kufenet_grasp.grasp.preprocess`), optionally augmented in model-input pixels
(rotation, zoom, flips: :mod:`kufenet_grasp.data.augment`), then turned into the input ``x``
(4×S×S, ``[depth, R, G, B]`` via ``normalise_rgbd``) and the targets ``y`` (4×S×S,
``[quality, cos2θ, sin2θ, width/150]`` via ``rasterise_grasps``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, TYPE_CHECKING

import cv2
from kufenet_grasp.data.augment import (
    bend_depth,
    coarsen_depth,
    random_augment_matrix,
    warp_sample,
)
from kufenet_grasp.data.base import GraspDataset
from kufenet_grasp.data.photometric import jitter_colour
from kufenet_grasp.data.sample import GraspSample
from kufenet_grasp.data.splits import split_indices
from kufenet_grasp.grasp.maps import rasterise_grasps
from kufenet_grasp.grasp.model_input import (
    choose_window,
    flatten_support,
    InputSpec,
    InputWindow,
    LEGACY_INPUT,
    MAX_WINDOW_SHIFT,
    range_to_z,
    shift_window,
)
from kufenet_grasp.grasp.preprocess import apply_crop, CropTransform, make_crop, normalise_rgbd
from kufenet_grasp.grasp.rectangle import GraspRectangle
import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

CROP_MODES = ('center', 'labels', 'full')


def rectangle_points_mean(rects: Sequence[GraspRectangle]) -> tuple[float, float] | None:
    """Mean ``(x, y)`` px of all rectangle corner points, or None when there are no labels."""
    if not rects:
        return None
    mean = np.concatenate([r.corners() for r in rects]).mean(axis=0)
    return float(mean[0]), float(mean[1])


def window_center_side(shape: tuple[int, int], rects: Sequence[GraspRectangle], out_size: int,
                       mode: str = 'center', side: int | None = None
                       ) -> tuple[tuple[float, float] | None, int | None]:
    """Centre (source px, None = image centre) and side (px) of the window of a crop mode.

    ``'center'``: the centred square of side ``min(H, W)`` (or ``side``). ``'labels'``: a
    square of ``out_size`` source pixels (or ``side``) centred on the mean of the rectangle
    corners (the Cornell convention of GR-ConvNet; image centre when there are no labels).
    ``'full'``: ``(None, None)``, the whole image (see :func:`make_crop_window`).
    """
    if mode not in CROP_MODES:
        raise ValueError(f'crop mode must be one of {CROP_MODES}, got {mode!r}')
    if mode == 'labels':
        return rectangle_points_mean(rects), min(int(side or out_size), *shape)
    if mode == 'full':
        return None, None
    return None, None if side is None else int(side)


def make_crop_window(
    shape: tuple[int, int],
    rects: Sequence[GraspRectangle],
    out_size: int,
    mode: str = 'center',
    side: int | None = None,
) -> CropTransform:
    """Choose the square pixel window of an image of ``shape = (H, W)`` px fed to the model.

    See :func:`window_center_side`; ``'full'`` is the ``max(H, W)`` square holding the whole
    image (padded). This is the window of the legacy input; :class:`GraspMapDataset` goes
    through :func:`~kufenet_grasp.grasp.model_input.choose_window`, which uses it too.
    """
    center, size = window_center_side(shape, rects, out_size, mode, side)
    if mode == 'full':
        return make_crop(shape, out_size, 'full')
    return make_crop(shape, out_size, 'center', center_xy=center, side=size)


def crop_matrix(crop: CropTransform) -> np.ndarray:
    """2×3 affine map from source pixels to model-input pixels of ``crop``.

    Same pixel-centre convention as ``CropTransform.to_model_xy``:
    ``u = (x - x0 + 0.5) * scale - 0.5``.
    """
    s = crop.scale
    return np.array([[s, 0.0, (0.5 - crop.x0) * s - 0.5], [0.0, s, (0.5 - crop.y0) * s - 0.5]])


def crop_sample(sample: GraspSample, crop: CropTransform) -> GraspSample:
    """Cut and resize ``sample`` to the model input with ``apply_crop`` (as at inference).

    Colour and depth come from ``kufenet_grasp.grasp.preprocess.apply_crop``; the mask is
    resampled with nearest neighbour (0 outside the image); rectangles go to model pixels.
    """
    rgb, depth = apply_crop(sample.rgb, sample.depth, crop)
    mask = None
    if sample.mask is not None:
        mask = cv2.warpAffine(sample.mask, crop_matrix(crop), (crop.out_size, crop.out_size),
                              flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=0)
    return GraspSample(rgb=rgb, depth=depth,
                       rectangles=[crop.rect_to_model(r) for r in sample.rectangles],
                       object_id=sample.object_id, name=sample.name, mask=mask)


class GraspMapDataset:
    """``torch.utils.data.Dataset``-style view of a grasp dataset for training.

    Args:
        dataset: a reader (e.g. :class:`~kufenet_grasp.data.cornell.CornellDataset`).
        indices: the sample indices this view uses (e.g. one split); item ``i`` of this
            dataset is ``dataset[indices[i]]``.
        input_size: S, the model-input side in pixels (224 or 300).
        augment: apply a random rotation/zoom/flip per item.
        seed: augmentation seed; an item depends only on (seed, epoch, item index).
        crop: ``'center'``, ``'labels'`` or ``'full'`` (see :func:`make_crop_window`).
        crop_side: window side in source pixels (default: see :func:`make_crop_window`).
        augment_options: keyword options of :func:`random_augment_matrix`.
        input_spec: how the model input is made (metric window, support plane); default the
            legacy pixel crop. Depth that is range is turned into z first.
        label_margin_m: added to every label's opening in the targets (m; metric input only):
            the rectangle then shows the fingers' opening before they close, as human labels
            (Cornell's) draw it, rather than the opening at contact.
        window_shift: with ``augment``, the window centre moves by up to this fraction of the
            window side along each image axis (uniform), over the source frame: objects come
            off the centre the generator aims the camera at, as they lie in a real region of
            interest. 0 keeps the window where the input spec puts it.
        colour_jitter: with ``augment``, the strength (0-1) of the random colour changes of
            :func:`~kufenet_grasp.data.photometric.jitter_colour`; 0 leaves colour as read.
        coarse_depth: with ``augment``, the probability (0-1) that an item's depth loses its
            structures narrower than 0.5-2.5 cm (:func:`~kufenet_grasp.data.augment.coarsen_depth`,
            a sensor's lateral resolution; metric input only); 0 keeps the depth as read.
        window_on_objects: True / False centre the metric window on the objects on the
            support or on the crop's centre (:func:`~kufenet_grasp.grasp.model_input.
            choose_window`); None (default) does what ``input_spec.on_objects`` says.

    Items are ``(x, y, index)``: ``x`` float32 (4, S, S) ``[depth, R, G, B]`` normalised,
    ``y`` float32 (4, S, S) ``[quality, cos2θ, sin2θ, width/150]``, ``index`` the item index.
    Nothing is cached: each item is read from disk.
    """

    def __init__(
        self,
        dataset: GraspDataset,
        indices: Sequence[int] | None = None,
        input_size: int = 224,
        augment: bool = False,
        seed: int = 0,
        crop: str = 'center',
        crop_side: int | None = None,
        augment_options: dict[str, Any] | None = None,
        input_spec: InputSpec | None = None,
        label_margin_m: float = 0.0,
        window_shift: float = 0.0,
        colour_jitter: float = 0.0,
        coarse_depth: float = 0.0,
        window_on_objects: bool | None = None,
    ) -> None:
        if crop not in CROP_MODES:
            raise ValueError(f'GraspMapDataset: crop must be one of {CROP_MODES}, got {crop!r}')
        if int(input_size) < 8:
            raise ValueError(f'GraspMapDataset: input_size must be >= 8 px, got {input_size}')
        self.dataset = dataset
        self.indices = list(range(len(dataset)) if indices is None else indices)
        for i in self.indices:
            if not 0 <= int(i) < len(dataset):
                raise ValueError(
                    f'GraspMapDataset: index {i} out of range for a dataset of {len(dataset)}'
                )
        self.input_size = int(input_size)
        self.augment = bool(augment)
        self.seed = int(seed)
        self.crop = crop
        self.crop_side = crop_side
        self.augment_options = dict(augment_options or {})
        self.input_spec = input_spec or LEGACY_INPUT
        if label_margin_m < 0 or (label_margin_m and self.input_spec.window_m is None):
            raise ValueError(f'GraspMapDataset: label_margin_m must be >= 0 m and needs a '
                             f'metric input spec, got {label_margin_m}')
        self.label_margin_m = float(label_margin_m)
        if not 0 <= window_shift <= MAX_WINDOW_SHIFT:
            raise ValueError(f'GraspMapDataset: window_shift must be in [0, {MAX_WINDOW_SHIFT}] '
                             f'(a fraction of the window side), got {window_shift}')
        self.window_shift = float(window_shift)
        if not 0 <= colour_jitter <= 1:
            raise ValueError(f'GraspMapDataset: colour_jitter must be in [0, 1], got '
                             f'{colour_jitter}')
        self.colour_jitter = float(colour_jitter)
        if not 0 <= coarse_depth <= 1 or (coarse_depth and self.input_spec.window_m is None):
            raise ValueError(f'GraspMapDataset: coarse_depth must be in [0, 1] and needs a '
                             f'metric input spec, got {coarse_depth}')
        self.coarse_depth = float(coarse_depth)
        self.window_on_objects = window_on_objects
        self.epoch = 0

    def __len__(self) -> int:
        """Return number of items (the length of ``indices``)."""
        return len(self.indices)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draw of ``epoch`` (call once per training epoch)."""
        self.epoch = int(epoch)

    def _window(self, sample: GraspSample) -> InputWindow:
        """Input window of a loaded source sample (its depth already z)."""
        center, side = window_center_side(sample.shape, sample.rectangles, self.input_size,
                                          self.crop, self.crop_side)
        return choose_window(sample.depth, self.input_spec, self.input_size, sample.camera,
                             center, side, self.crop, self.window_on_objects)

    def _source(self, index: int) -> GraspSample:
        """Source sample of item ``index`` with z-depth (range converted)."""
        sample = self.dataset[self.indices[self._item_index(index)]]
        if sample.depth_is_range and sample.camera is not None:
            sample = replace(sample, depth=range_to_z(sample.depth, sample.camera),
                             depth_is_range=False)
        return sample

    def crop_transform(self, index: int) -> CropTransform:
        """Crop (source px → model-input px) of item ``index``, without augmentation."""
        return self._window(self._source(index)).crop

    def ground_truth(self, index: int) -> list[GraspRectangle]:
        """Labels of item ``index`` in model-input pixels, without augmentation.

        With ``label_margin_m`` their openings have the margin the targets have.
        """
        sample = self._source(index)
        crop = self._window(sample).crop
        return self._with_margin([crop.rect_to_model(r) for r in sample.rectangles])

    def _with_margin(self, rects: list[GraspRectangle]) -> list[GraspRectangle]:
        """``rects`` (model-input px) with ``label_margin_m`` added to their openings."""
        window_m = self.input_spec.window_m
        if not self.label_margin_m or window_m is None:  # __init__: a margin needs window_m
            return rects
        extra_px = self.label_margin_m * self.input_size / float(window_m)
        return [replace(r, opening=r.opening + extra_px) for r in rects]

    def augment_matrix(self, index: int) -> np.ndarray | None:
        """2×3 augmentation (model-input px → px) of item ``index`` this epoch, or None."""
        if not self.augment:
            return None
        rng = np.random.default_rng([self.seed, self.epoch, self._item_index(index)])
        size = (self.input_size, self.input_size)
        return random_augment_matrix(rng, size, **self.augment_options)

    def _item_index(self, index: int) -> int:
        """``index`` as a non-negative item index, or IndexError."""
        if not -len(self) <= index < len(self):
            raise IndexError(f'GraspMapDataset: index {index} out of range 0..{len(self) - 1}')
        return int(index) % len(self)

    def sample(self, index: int) -> GraspSample:
        """Item ``index`` as a cropped (and, if enabled, augmented) S×S sample.

        With a non-legacy input spec its depth is the virtual top-down depth of
        :func:`~kufenet_grasp.grasp.model_input.flatten_support`.
        """
        index = self._item_index(index)
        source = self._source(index)
        window = self._window(source)
        if self.augment and self.window_shift > 0:
            rng = np.random.default_rng([self.seed, self.epoch, index, 2])
            dx, dy = rng.uniform(-self.window_shift, self.window_shift, 2) * window.crop.side
            window = shift_window(window, source.shape, float(dx), float(dy))
        item = crop_sample(source, window.crop)
        if not self.input_spec.is_legacy:
            item.depth = flatten_support(item.depth, window, source.shape, source.camera)
            if self.augment:  # the support is never exactly flat on a real camera
                rng = np.random.default_rng([self.seed, self.epoch, index, 1])
                if rng.random() < 0.5:
                    item.depth = bend_depth(item.depth, rng)
            window_m = self.input_spec.window_m
            if self.augment and self.coarse_depth > 0 and window_m is not None:
                rng = np.random.default_rng([self.seed, self.epoch, index, 4])
                if rng.random() < self.coarse_depth:
                    item.depth = coarsen_depth(item.depth, rng, self.input_size / window_m)
        if self.augment and self.colour_jitter > 0:
            rng = np.random.default_rng([self.seed, self.epoch, index, 3])
            item.rgb = jitter_colour(item.rgb, rng, self.colour_jitter)
        matrix = self.augment_matrix(index)
        return item if matrix is None else warp_sample(item, matrix)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        """``(x, y, index)`` for item ``index``; see the class docstring."""
        import torch

        index = self._item_index(index)
        item = self.sample(index)
        x = normalise_rgbd(item.rgb, item.depth)
        y = rasterise_grasps(self._with_margin(list(item.rectangles)),
                             (self.input_size, self.input_size))
        x_t = torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32)
        y_t = torch.as_tensor(np.ascontiguousarray(y), dtype=torch.float32)
        return x_t, y_t, int(index)


def default_crop(dataset: GraspDataset) -> str:
    """Return usual crop of a format: ``'labels'`` for Cornell (GR-ConvNet), else ``'center'``."""
    return 'labels' if getattr(dataset, 'format_name', '') == 'cornell' else 'center'


def split_map_datasets(
    dataset: GraspDataset,
    mode: str = 'image',
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    input_size: int = 224,
    crop: str | None = None,
    augment_train: bool = True,
    **kw: Any,
) -> dict[str, GraspMapDataset]:
    """Split ``dataset`` (:func:`~kufenet_grasp.data.splits.split_indices`) into map datasets.

    Only ``'train'`` is augmented (if ``augment_train``); ``crop`` defaults to
    :func:`default_crop`; ``kw`` goes to :class:`GraspMapDataset`.
    """
    parts = split_indices(dataset, mode=mode, fractions=fractions, seed=seed)
    crop = crop or default_crop(dataset)
    return {
        name: GraspMapDataset(dataset, indices, input_size=input_size,
                              augment=augment_train and name == 'train', seed=seed, crop=crop,
                              **kw)
        for name, indices in parts.items()
    }
