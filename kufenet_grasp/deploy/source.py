# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Resolve what the user names (a model object, a weights file or a preset) into a model.

Shared by export, the inference backends and the benchmark so that every entry point accepts
the same three kinds of source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kufenet_grasp.models.registry import build_model
from kufenet_grasp.models.weights import load_weights, sha256_file, WeightsError
from torch import nn

#: what ``resolve_source`` accepts: a model, a weights path or a registry preset name
Source = nn.Module | str | Path


class SourceError(ValueError):
    """The model source names no model, weights file or preset that can be loaded."""


@dataclass
class ResolvedModel:
    """A PyTorch model plus where it came from.

    ``metadata`` is the weights file's metadata (empty for presets and in-memory models);
    ``name`` is the preset name (``model.name``) or else the family (``model.arch``);
    ``sha256`` is the hex digest of the weights file, or ``None`` if there is no file.
    """

    model: nn.Module
    name: str
    metadata: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None
    path: Path | None = None


def model_name(model: nn.Module, fallback: str) -> str:
    """Preset name of ``model`` if the registry set one, else its ``arch``, else ``fallback``."""
    return str(getattr(model, 'name', None) or getattr(model, 'arch', None) or fallback)


def resolve_source(source: Source) -> ResolvedModel:
    """Turn ``source`` into an eval-mode model.

    ``source`` is an ``nn.Module`` (used as is), a path to a ``.safetensors`` weights file
    (loaded with ``kufenet_grasp.models.weights.load_weights``) or a registry preset name such
    as ``'kufenet-80k'`` (built with random weights). Raises :class:`SourceError` otherwise.
    """
    if isinstance(source, nn.Module):
        return ResolvedModel(source.eval(), model_name(source, type(source).__name__))
    if not isinstance(source, (str, Path)):
        raise SourceError(f'model source must be a model, a weights path or a preset name, '
                          f'got {type(source).__name__}')
    path = Path(source)
    if path.is_file():
        if path.suffix != '.safetensors':
            raise SourceError(f'model source {path}: expected a .safetensors weights file')

        try:
            model, metadata = load_weights(path)
        except WeightsError as exc:
            raise SourceError(f'model source {path}: {exc}') from exc
        return ResolvedModel(model.eval(), model_name(model, path.stem), dict(metadata),
                             sha256_file(path), path)
    if path.suffix or '/' in str(source):
        raise SourceError(f'model source {source}: no such weights file')

    try:
        model = build_model(str(source))
    except (KeyError, ValueError) as exc:
        raise SourceError(f'model source {source!r} is neither a file nor a known preset '
                          f'({exc})') from exc
    return ResolvedModel(model.eval(), str(source))
