# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Grasp networks (KufeNet, teacher, GG-CNN, GR-ConvNet), registry, weights files, FLOPs.

The public names below are imported lazily so that importing the package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    'GraspModel': 'base', 'KufeNet': 'kufenet', 'GRConvNet': 'grconvnet', 'GGCNN': 'ggcnn',
    'MODEL_NAMES': 'registry', 'build_model': 'registry', 'count_parameters': 'registry',
    'count_flops': 'flops', 'WeightsError': 'weights',
    'WeightsMetadata': 'weights', 'save_weights': 'weights', 'load_weights': 'weights',
    'read_metadata': 'weights', 'write_manifest': 'weights',
}
__all__ = [
    'GGCNN',
    'MODEL_NAMES',
    'GRConvNet',
    'GraspModel',
    'KufeNet',
    'WeightsError',
    'WeightsMetadata',
    'build_model',
    'count_flops',
    'count_parameters',
    'load_weights',
    'read_metadata',
    'save_weights',
    'write_manifest',
]


def __getattr__(name: str) -> Any:
    """Import ``name`` from its submodule on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kufenet_grasp.models' has no attribute {name!r}")
    return getattr(importlib.import_module(f'kufenet_grasp.models.{_EXPORTS[name]}'), name)
