# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The interface shared by the on-disk grasp dataset readers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from kufenet_grasp.data.sample import DatasetError, GraspSample

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kufenet_grasp.grasp.rectangle import GraspRectangle


class GraspDataset(ABC):
    """A lazily read, indexable list of :class:`GraspSample`.

    Subclasses index the files in ``__init__`` and read one image per ``__getitem__``;
    nothing large is kept in memory.
    """

    #: short format name used by :func:`kufenet_grasp.data.registry.open_dataset`
    format_name: str = ''

    def __init__(self, root: str | Path) -> None:
        """Check ``root`` is a folder."""
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f'{self.root}: dataset folder not found')

    def find_files(self, pattern: str) -> list[Path]:
        """Files under ``root`` matching ``pattern``, recursively, sorted.

        Hidden folders (names starting with ``.``, e.g. the synthetic generator's
        half-written ``.tmp-*`` scenes) are skipped.
        """
        return sorted(
            p for p in self.root.rglob(pattern)
            if p.is_file()
            and not any(part.startswith('.') for part in p.relative_to(self.root).parts[:-1])
        )

    @property
    @abstractmethod
    def names(self) -> list[str]:
        """Image identifiers, one per sample, in index order."""

    @property
    @abstractmethod
    def object_ids(self) -> list[str]:
        """Object identifier of each sample, in index order (for object-wise splits)."""

    @abstractmethod
    def load_rectangles(self, index: int) -> list[GraspRectangle]:
        """Read only the grasp labels of sample ``index`` (pixels of its image)."""

    @abstractmethod
    def load(self, index: int) -> GraspSample:
        """Read sample ``index`` from disk."""

    def __len__(self) -> int:
        """Return number of images."""
        return len(self.names)

    def _check_index(self, index: int) -> int:
        """Return ``index`` as a non-negative int, or raise IndexError."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f'{type(self).__name__}: index {index} out of range 0..{n - 1}')
        return index % n

    def __getitem__(self, index: int) -> GraspSample:
        """Read sample ``index`` from disk."""
        return self.load(self._check_index(index))

    def __iter__(self) -> Iterator[GraspSample]:
        """Iterate over all samples, reading each from disk."""
        for i in range(len(self)):
            yield self.load(i)

    def __repr__(self) -> str:
        """Short description: class, root and size."""
        return f'{type(self).__name__}({str(self.root)!r}, n={len(self)})'
