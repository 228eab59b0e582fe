# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Training configuration: one flat dataclass, stored in checkpoints and run folders."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from kufenet_grasp.data.splits import SPLIT_MODES
from kufenet_grasp.grasp.model_input import InputSpec, MAX_WINDOW_SHIFT
from kufenet_grasp.training.attention import MAPPINGS
from kufenet_grasp.training.distillation import GRANULARITIES, STRATEGIES
from kufenet_grasp.training.losses import LOSS_KINDS
from kufenet_grasp.training.mmd import KERNELS

#: validation-split fractions (train, val, test) when one folder is split by index
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)


class ConfigError(ValueError):
    """A training option is invalid; the message names the option."""


@dataclass
class TrainConfig:
    """Everything that defines a training run (sizes in pixels, lr per step).

    Data: ``dataset`` is ``'FORMAT:PATH'``. Either ``train_split``/``val_split`` name
    sub-folders of PATH, or PATH is split by index with ``split_mode``/``fractions``/``seed``
    (its ``test`` part is never read). Learning rate: Adam at ``lr``, cosine-annealed per
    epoch to ``lr * lr_final_factor`` at the last epoch.
    """

    model: str
    dataset: str
    out: str
    model_overrides: dict[str, Any] = field(default_factory=dict)
    train_split: str | None = None
    val_split: str | None = None
    split_mode: str = 'image'
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    seed: int = 123
    teacher: str | None = None
    kd: str = 'none'
    alpha: float = 1.0
    beta: float = 1.0
    mapping: str = 'max2'
    kernel: str = 'gaussian'
    granularity: str = 'batch'
    loss: str = 'smooth_l1'
    epochs: int = 50
    batches_per_epoch: int = 1000
    batch_size: int = 8
    val_batches: int | None = None
    lr: float = 1e-3
    lr_final_factor: float = 0.01
    weight_decay: float = 0.0
    input_size: int = 224
    augment: bool = True
    #: augmentation zoom factors (window / image side): < 1 zooms in, > 1 zooms out (objects
    #: smaller, borders replicated); GR-ConvNet used (0.5, 1.0)
    zoom_range: tuple[float, float] = (0.5, 1.0)
    #: augmentation: the window centre moves by up to this fraction of its side per axis
    window_shift: float = 0.0
    #: augmentation: strength (0-1) of the random colour changes (data.photometric)
    colour_jitter: float = 0.0
    #: augmentation: probability (0-1) that an item's depth loses its thin structures
    coarse_depth: float = 0.0
    #: input window side at the support (m), None = the pixel crop (grasp.model_input)
    window_m: float | None = None
    #: feed depth relative to the fitted support plane
    support_plane: bool = False
    #: centre the metric window on what stands on the support (InputSpec.on_objects)
    window_on_objects: bool = False
    #: Jacquard-layout depth file: 'perfect' or 'stereo' (the sensor-modelled one)
    depth: str = 'perfect'
    #: added to each label's opening in the targets (m, metric input only): pre-grasp opening
    label_margin_m: float = 0.0
    #: keep every BatchNorm layer's running statistics as loaded (eval mode) while training:
    #: for fine-tuning, where the loaded statistics are the ones the weights work with
    freeze_norm: bool = False
    workers: int = 0
    device: str = 'cpu'
    threads: int | None = None
    init: str | None = None
    progress: bool = True
    tensorboard: bool = True

    def __post_init__(self) -> None:
        """Validate every option; raise :class:`ConfigError` naming the bad one."""
        self.fractions = tuple(float(f) for f in self.fractions)
        zoom = tuple(float(z) for z in self.zoom_range)
        if len(zoom) != 2 or not 0 < zoom[0] <= zoom[1] <= 3:
            raise ConfigError(f'train config: zoom_range must be (lo, hi) with 0 < lo <= hi <= 3, '
                              f'got {zoom}')
        self.zoom_range = (zoom[0], zoom[1])
        if not 0 <= self.window_shift <= MAX_WINDOW_SHIFT:
            raise ConfigError(f'train config: window_shift must be in [0, {MAX_WINDOW_SHIFT}] '
                              f'(a fraction of the window side), got {self.window_shift}')
        if not 0 <= self.colour_jitter <= 1:
            raise ConfigError(f'train config: colour_jitter must be in [0, 1], got '
                              f'{self.colour_jitter}')
        if not 0 <= self.coarse_depth <= 1 or (self.coarse_depth and self.window_m is None):
            raise ConfigError(f'train config: coarse_depth must be in [0, 1] and needs '
                              f'window_m, got {self.coarse_depth}')
        choices = (
            ('kd', self.kd, STRATEGIES), ('mapping', self.mapping, MAPPINGS),
            ('kernel', self.kernel, KERNELS), ('granularity', self.granularity, GRANULARITIES),
            ('loss', self.loss, LOSS_KINDS), ('split_mode', self.split_mode, SPLIT_MODES),
        )
        for name, value, valid in choices:
            if value not in valid:
                raise ConfigError(f'train config: {name} must be one of {valid}, got {value!r}')
        for name in ('epochs', 'batches_per_epoch', 'batch_size', 'input_size'):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f'train config: {name} must be >= 1, got {getattr(self, name)}')
        if self.workers < 0:
            raise ConfigError(f'train config: workers must be >= 0, got {self.workers}')
        if not self.lr > 0:
            raise ConfigError(f'train config: lr must be > 0, got {self.lr}')
        if not 0 < self.lr_final_factor <= 1:
            raise ConfigError(
                f'train config: lr_final_factor must be in (0, 1], got {self.lr_final_factor}')
        if self.depth not in ('perfect', 'stereo'):
            raise ConfigError(f"train config: depth must be 'perfect' or 'stereo', "
                              f'got {self.depth!r}')
        if self.label_margin_m < 0 or (self.label_margin_m and self.window_m is None):
            raise ConfigError(f'train config: label_margin_m must be >= 0 m and needs window_m, '
                              f'got {self.label_margin_m}')
        try:
            self.input_spec()
        except ValueError as exc:
            raise ConfigError(f'train config: {exc}') from None
        if (self.train_split is None) != (self.val_split is None):
            raise ConfigError('train config: give both train_split and val_split, or neither')
        if self.kd != 'none' and not self.teacher:
            raise ConfigError(f'train config: kd={self.kd!r} needs a teacher weights file')
        if not (self.device == 'cpu' or self.device.startswith('cuda')):
            raise ConfigError(f"train config: device must be 'cpu' or 'cuda[:N]', got "
                              f'{self.device!r}')

    def reader_options(self) -> dict[str, Any]:
        """Keyword options of the dataset reader (the depth file for the Jacquard layout)."""
        return {'depth': self.depth} if self.dataset.lower().startswith('jacquard:') else {}

    def input_spec(self) -> InputSpec:
        """How the network input is made (stored in the weights metadata)."""
        return InputSpec(window_m=self.window_m, support_plane=self.support_plane,
                         on_objects=self.window_on_objects)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (JSON / torch.save(weights_only) safe)."""
        data = asdict(self)
        data['fractions'] = list(self.fractions)
        data['zoom_range'] = list(self.zoom_range)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f'train config: unknown options {unknown}')
        return cls(**data)
