# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Deterministic train/val/test splits of a grasp dataset, image-wise or object-wise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

SPLIT_MODES = ('image', 'object', 'sequential')
_NAMES = {2: ('train', 'test'), 3: ('train', 'val', 'test')}


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    """Return the fractions as an array; raise ValueError unless 2 or 3 values summing to 1."""
    values = np.asarray(fractions, dtype=np.float64)
    if values.ndim != 1 or values.size not in _NAMES:
        raise ValueError(f'split_indices: fractions must have 2 or 3 values, got {fractions!r}')
    if np.any(values < 0) or not np.isclose(values.sum(), 1.0, atol=1e-6):
        raise ValueError(
            f'split_indices: fractions must be >= 0 and sum to 1, got {tuple(fractions)}'
        )
    return values


def _cut(order: Sequence[int], weights: np.ndarray, fractions: np.ndarray) -> list[int]:
    """Split label of each item of ``order``: by where its weight-midpoint falls."""
    total = float(weights.sum())
    bounds = np.cumsum(fractions)[:-1] * total
    mids = np.cumsum(weights) - weights / 2.0
    return [int(np.searchsorted(bounds, m, side='right')) for m in mids]


def split_indices(
    dataset: Any,
    mode: str = 'image',
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> dict[str, list[int]]:
    """Split sample indices into ``train``/``val``/``test`` (or ``train``/``test``).

    Args:
        dataset: anything with ``len()``; object mode also needs ``dataset.object_ids``.
        mode: ``'image'`` shuffles images; ``'object'`` shuffles objects so that no object
            is in two splits (sizes then follow the fractions only approximately);
            ``'sequential'`` cuts the sorted list without shuffling (GG-CNN's default,
            roughly object-wise for Cornell and Jacquard).
        fractions: 3 values (train, val, test) or 2 (train, test), summing to 1.
        seed: the shuffle seed; the same seed always gives the same split.

    Returns:
        ``{split name: sorted list of indices}``; every index is in exactly one split.
    """
    if mode not in SPLIT_MODES:
        raise ValueError(f'split_indices: mode must be one of {SPLIT_MODES}, got {mode!r}')
    fracs = _check_fractions(fractions)
    names = _NAMES[fracs.size]
    n = len(dataset)
    labels: dict[int, int] = {}
    if mode in ('image', 'sequential'):
        order = list(range(n))
        if mode == 'image':
            order = [int(i) for i in np.random.default_rng(seed).permutation(n)]
        for i, label in zip(order, _cut(order, np.ones(n), fracs)):
            labels[i] = label
    else:
        object_ids = list(getattr(dataset, 'object_ids', []))
        if len(object_ids) != n:
            raise ValueError(
                "split_indices: mode='object' needs dataset.object_ids with one id per sample"
            )
        groups: dict[str, list[int]] = {}
        for i, obj in enumerate(object_ids):
            groups.setdefault(str(obj), []).append(i)
        keys = sorted(groups)
        order = [int(k) for k in np.random.default_rng(seed).permutation(len(keys))]
        sizes = np.array([len(groups[keys[k]]) for k in order], dtype=np.float64)
        for k, label in zip(order, _cut(order, sizes, fracs)):
            for i in groups[keys[k]]:
                labels[i] = label
    return {name: sorted(i for i, lab in labels.items() if lab == s)
            for s, name in enumerate(names)}
