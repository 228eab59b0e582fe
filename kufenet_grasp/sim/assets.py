"""Object catalogue of the synthetic dataset: PyBullet's ``random_urdfs``, splits and looks.

Object ids are the integers 0..999 of ``pybullet_data/random_urdfs/NNN/NNN.urdf``. The split
of ids into train / val / test is a seeded permutation, so an object never appears in two
splits. Colours are RGBA in [0, 1]; textures are small procedural PNG images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NUM_RANDOM_URDFS = 1000
SPLITS = ('train', 'val', 'test')
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)
#: seed of the object split; fixed so that every dataset of the project shares one split
SPLIT_SEED = 20240


def data_path() -> Path:
    """Folder of ``pybullet_data`` (imported lazily)."""
    import pybullet_data

    return Path(pybullet_data.getDataPath())


def object_urdf(object_id: int) -> str:
    """Path of random object ``object_id`` (0..999) as a string for ``p.loadURDF``."""
    if not 0 <= int(object_id) < NUM_RANDOM_URDFS:
        raise ValueError(f'object_urdf: object_id must be in [0, {NUM_RANDOM_URDFS}), '
                         f'got {object_id}')
    oid = f'{int(object_id):03d}'
    return str(data_path() / 'random_urdfs' / oid / f'{oid}.urdf')


def split_object_ids(
    seed: int = SPLIT_SEED, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
) -> dict[str, list[int]]:
    """Disjoint train/val/test lists of object ids from a seeded permutation of 0..999."""
    fr = np.asarray(fractions, dtype=float)
    if fr.shape != (3,) or np.any(fr < 0) or not np.isclose(fr.sum(), 1.0):
        raise ValueError(f'split_object_ids: fractions must be 3 non-negative numbers '
                         f'summing to 1, got {fractions}')
    perm = np.random.default_rng(seed).permutation(NUM_RANDOM_URDFS)
    n_train = round(float(fr[0]) * NUM_RANDOM_URDFS)
    n_val = round(float(fr[1]) * NUM_RANDOM_URDFS)
    parts = (perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:])
    return {name: sorted(int(i) for i in part) for name, part in zip(SPLITS, parts)}


def object_split(object_id: int, seed: int = SPLIT_SEED) -> str:
    """Name of the split ('train', 'val' or 'test') that holds ``object_id``."""
    for name, ids in split_object_ids(seed).items():
        if int(object_id) in ids:
            return name
    raise ValueError(f'object_split: object_id must be in [0, {NUM_RANDOM_URDFS}), '
                     f'got {object_id}')


def random_object_rgba(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """Return a random opaque object colour: saturated hues, greys, darks and pastels."""
    kind = rng.random()
    if kind < 0.15:  # grey / black / white
        g = rng.uniform(0.05, 0.95)
        rgb = np.array([g, g, g]) + rng.normal(0, 0.02, 3)
    else:
        import colorsys

        sat = rng.uniform(0.2, 1.0)
        val = rng.uniform(0.25, 1.0)
        rgb = np.array(colorsys.hsv_to_rgb(rng.random(), sat, val))
    rgb = np.clip(rgb, 0.0, 1.0)
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]), 1.0)


def random_surface_rgba(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """Draw a random table/tray colour: mostly muted (wood, grey, white, dark), sometimes vivid."""
    import colorsys

    if rng.random() < 0.8:
        rgb = colorsys.hsv_to_rgb(rng.uniform(0.0, 0.15), rng.uniform(0.0, 0.5),
                                  rng.uniform(0.2, 0.95))
    else:
        rgb = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.3, 0.9))
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]), 1.0)


def procedural_texture(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """Draw a random ``size``×``size``×3 uint8 RGB texture: wood, speckle, checker or cloth."""
    if size < 4:
        raise ValueError(f'procedural_texture: size must be >= 4 pixels, got {size}')
    import cv2

    base = np.array(random_surface_rgba(rng)[:3]) * 255.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    kind = int(rng.integers(4))
    if kind == 0:  # wood-like stripes
        f = rng.uniform(0.1, 0.5)
        field = np.sin(yy * f + 3 * np.sin(xx * rng.uniform(0.02, 0.1))) * 0.5 + 0.5
    elif kind == 1:  # blurred speckle
        field = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), 1.5)
        field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
    elif kind == 2:  # checker / tiles
        cell = int(rng.integers(4, 17))
        field = (((xx // cell) + (yy // cell)) % 2).astype(np.float32)
    else:  # fine cloth noise
        field = rng.random((size, size)).astype(np.float32)
    contrast = rng.uniform(0.1, 0.45)
    img = base[None, None, :] * (1.0 - contrast + 2 * contrast * field[..., None])
    return np.clip(img, 0, 255).astype(np.uint8)


def write_textures(folder: str | Path, rng: np.random.Generator, count: int = 8) -> list[str]:
    """Write ``count`` procedural textures as PNG files into ``folder``; return their paths."""
    import cv2

    if count < 1:
        raise ValueError(f'write_textures: count must be >= 1, got {count}')
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f'texture_{i:02d}.png'
        cv2.imwrite(str(path), procedural_texture(rng)[..., ::-1])
        paths.append(str(path))
    return paths


def colour_body(client: int, body: int, rgba: tuple[float, float, float, float]) -> None:
    """Set the colour of every link (base included) of ``body``."""
    import pybullet as p

    for link in range(-1, p.getNumJoints(body, physicsClientId=client)):
        p.changeVisualShape(body, link, rgbaColor=list(rgba), physicsClientId=client)
