# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""What a pass over a bag writes: overlay video, contact sheet, per-status summary.

The video is MP4 (``mp4v``) through OpenCV's VideoWriter, or an animated GIF through Pillow
when the file name ends in ``.gif``. The contact sheet keeps an evenly spaced subset of the
overlays (at most ``max_tiles``) so that memory stays bounded on long bags.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np


class OutputError(OSError):
    """An output file cannot be written."""


class OverlayVideo:
    """Frames of one size (the first frame's; later ones are resized) into an MP4 or GIF."""

    def __init__(self, path: str | Path, fps: float, max_side: int = 960) -> None:
        if not fps > 0:
            raise ValueError(f'OverlayVideo: fps must be > 0, got {fps}')
        self.path = Path(path)
        self.fps = float(fps)
        self.max_side = int(max_side)
        self.frames = 0
        self._size: tuple[int, int] | None = None
        self._writer: Any = None
        self._gif: list[Any] = []

    def _fit(self, rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """Return the frame at the video's size (width, height px) and that size."""
        if self._size is None:
            h, w = rgb.shape[:2]
            scale = min(1.0, self.max_side / max(h, w))
            # even sizes: most MP4 players refuse odd ones
            self._size = (max(2, round(w * scale) // 2 * 2), max(2, round(h * scale) // 2 * 2))
        if (rgb.shape[1], rgb.shape[0]) != self._size:
            rgb = cv2.resize(rgb, self._size, interpolation=cv2.INTER_AREA)
        return rgb, self._size

    def add(self, rgb: np.ndarray) -> None:
        """Append an RGB ``uint8 H×W×3`` frame."""
        rgb, size = self._fit(rgb)
        if self.path.suffix.lower() == '.gif':
            from PIL import Image

            self._gif.append(Image.fromarray(rgb))
        else:
            if self._writer is None:
                self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*'mp4v'),
                                               self.fps, size)
                if not self._writer.isOpened():
                    raise OutputError(f'{self.path}: OpenCV cannot write MP4 here; pass a '
                                      f'.gif name instead')
            self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        """Finish the file (nothing is written without frames)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._gif:
            self._gif[0].save(self.path, save_all=True, append_images=self._gif[1:],
                              duration=round(1000 / self.fps), loop=0)
            self._gif = []


class ContactSheet:
    """An evenly spaced subset of overlay thumbnails, written as one PNG grid."""

    def __init__(self, max_tiles: int = 24, tile_width: int = 320, columns: int = 4) -> None:
        self.max_tiles, self.tile_width, self.columns = int(max_tiles), int(tile_width), columns
        self._tiles: list[np.ndarray] = []
        self._stride = 1
        self._seen = 0

    def offer(self, rgb: np.ndarray) -> None:
        """Consider a frame; every ``stride``-th is kept, the stride doubles when full."""
        index = self._seen
        self._seen += 1
        if index % self._stride:
            return
        h, w = rgb.shape[:2]
        size = (self.tile_width, max(1, round(h * self.tile_width / w)))
        self._tiles.append(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
        if len(self._tiles) >= 2 * self.max_tiles:
            self._tiles = self._tiles[::2]
            self._stride *= 2

    @property
    def tiles(self) -> int:
        """Number of thumbnails the sheet will hold."""
        return len(self._tiles[::2]) if len(self._tiles) > self.max_tiles else len(self._tiles)

    def write(self, path: str | Path) -> bool:
        """Write the grid PNG; False (nothing written) when no frame was offered."""
        tiles = self._tiles[::2] if len(self._tiles) > self.max_tiles else self._tiles
        if not tiles:
            return False
        height = max(t.shape[0] for t in tiles)
        rows = -(-len(tiles) // self.columns)
        sheet = np.zeros((rows * height, self.columns * self.tile_width, 3), np.uint8)
        for i, tile in enumerate(tiles):
            r, c = divmod(i, self.columns)
            sheet[r * height:r * height + tile.shape[0],
                  c * self.tile_width:(c + 1) * self.tile_width] = tile
        if not cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
            raise OutputError(f'{path}: cannot write the contact sheet')
        return True


def percentile_ms(values: list[float], q: float) -> float | None:
    """``q``-th percentile (0-100) of ``values`` in ms, None when empty."""
    return round(float(np.percentile(values, q)), 2) if values else None


def bag_summary(stats: Any, statuses: Counter, detect_ms: list[float],
                with_grasp: int) -> dict[str, Any]:
    """Summarise a pass: messages read, frames synchronised / processed, per status, times."""
    return {
        'color_messages': stats.color_read,
        'depth_messages': stats.depth_read,
        'info_messages': stats.info_read,
        'synchronised_frames': stats.synchronised,
        'processed_frames': sum(statuses.values()),
        'frames_with_grasp': with_grasp,
        'per_status': dict(sorted(statuses.items())),
        'detect_ms_p50': percentile_ms(detect_ms, 50),
        'detect_ms_p95': percentile_ms(detect_ms, 95),
    }
