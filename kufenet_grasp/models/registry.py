# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Model presets by name, rebuilding a model from (arch, config), and parameter counting."""

from __future__ import annotations

from typing import Any

from kufenet_grasp.models.base import GraspModel
from kufenet_grasp.models.ggcnn import GGCNN
from kufenet_grasp.models.grconvnet import GRConvNet
from kufenet_grasp.models.kufenet import KufeNet
from torch import nn

#: every preset name :func:`build_model` accepts
MODEL_NAMES: tuple[str, ...] = ('kufenet-15k', 'kufenet-80k', 'kufenet-263k', 'teacher',
                                'ggcnn', 'grconvnet')

#: family name (``model.arch``) -> class
ARCHITECTURES: dict[str, type[GraspModel]] = {
    'kufenet': KufeNet, 'grconvnet': GRConvNet, 'ggcnn': GGCNN}

#: preset name -> (family, constructor kwargs); KufeNet widths tuned to the poster's counts
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    'kufenet-15k': ('kufenet', {'stem': 8, 'd_channels': (18, 30), 'rgb_channels': (9, 12),
                                'fused': 36, 'decoder': (16, 12, 8)}),
    'kufenet-80k': ('kufenet', {'stem': 12, 'd_channels': (36, 80), 'rgb_channels': (18, 40),
                                'fused': 104, 'decoder': (48, 24, 8)}),
    'kufenet-263k': ('kufenet', {'stem': 16, 'd_channels': (72, 144), 'rgb_channels': (36, 72),
                                 'fused': 200, 'decoder': (96, 48, 12)}),
    'teacher': ('grconvnet', {'channel_size': 64, 'num_residual': 6}),
    'ggcnn': ('ggcnn', {}),
    'grconvnet': ('grconvnet', {'channel_size': 32, 'num_residual': 5}),
}


def build_model(name: str, **overrides: Any) -> GraspModel:
    """Build preset ``name`` (random weights) with constructor kwargs ``overrides`` applied.

    Raises ValueError for an unknown name or an override the architecture does not take.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown model name {name!r}; valid names: {', '.join(MODEL_NAMES)}")
    arch, kwargs = PRESETS[name]
    model = build_from_config(arch, {**kwargs, **overrides})
    model.name = name
    return model


def build_from_config(arch: str, config: dict[str, Any]) -> GraspModel:
    """Build a model of family ``arch`` ('kufenet', 'grconvnet', 'ggcnn') from ``config``."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; valid: {', '.join(ARCHITECTURES)}")
    try:
        return ARCHITECTURES[arch](**config)
    except TypeError as exc:
        raise ValueError(f'invalid config for architecture {arch!r}: {exc}') from exc


def count_parameters(model: nn.Module) -> int:
    """Return number of parameters (all, trainable or not; buffers excluded)."""
    return sum(p.numel() for p in model.parameters())
