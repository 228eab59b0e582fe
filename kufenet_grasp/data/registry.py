# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Open a dataset from a ``format:PATH`` string such as ``cornell:/data/cornell``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kufenet_grasp.data.base import GraspDataset
from kufenet_grasp.data.cornell import CornellDataset
from kufenet_grasp.data.jacquard import JacquardDataset
from kufenet_grasp.data.sample import DatasetError

#: format name -> reader class
FORMATS: dict[str, type[GraspDataset]] = {
    'cornell': CornellDataset,
    'jacquard': JacquardDataset,
}


def parse_spec(spec: str) -> tuple[str, Path]:
    """Split ``'format:PATH'`` into (format, path); raise ValueError on a bad spec."""
    fmt, sep, path = spec.partition(':')
    if not sep or not path:
        raise ValueError(
            f"dataset spec {spec!r}: expected 'FORMAT:PATH' with FORMAT one of {sorted(FORMATS)}"
        )
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise ValueError(
            f'dataset spec {spec!r}: unknown format {fmt!r}; valid formats: {sorted(FORMATS)}'
        )
    return fmt, Path(path)


def available_splits(root: str | Path) -> list[str]:
    """Names of the sub-folders of ``root`` (candidate split folders), sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith('.'))


def open_dataset(spec: str, split: str | None = None, **kw: Any) -> GraspDataset:
    """Open ``'cornell:PATH'`` or ``'jacquard:PATH'``.

    Args:
        spec: format and root folder, separated by the first ``:``.
        split: if given, read ``PATH/<split>/`` (e.g. the synthetic dataset's ``train``).
        **kw: passed to the reader (``depth_source=`` for Cornell, ``depth=`` for Jacquard).

    Raises:
        ValueError: unknown format, or ``split`` is not a folder of PATH (the message lists
            the folders that exist).
    """
    fmt, root = parse_spec(spec)
    if not root.is_dir():
        raise DatasetError(f'dataset spec {spec!r}: folder {root} not found')
    if split is not None:
        split_root = root / split
        if not split_root.is_dir():
            raise DatasetError(
                f'dataset spec {spec!r}: no split folder {split!r} in {root}; '
                f"available: {available_splits(root) or 'none'}"
            )
        root = split_root
    return FORMATS[fmt](root, **kw)
