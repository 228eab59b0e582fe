# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Object catalogue of the synthetic dataset: its three families, splits and looks.

Object ids: 0..999 are ``pybullet_data/random_urdfs/NNN/NNN.urdf``; ``PROCEDURAL_BASE + k``
is procedural shape ``k`` of :mod:`kufenet_grasp.sim.shapes`; ``MESH_BASE + j`` is
``MESHES[j]``, a graspable object that pybullet_data ships. Each family is split into
train / val / test by its own seeded permutation, so an object never appears in two splits.
Colours are RGBA in [0, 1]; textures are procedural PNG images or photographs that ship
inside scikit-image (its ``data`` folder), never downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
import functools
import importlib.util
from pathlib import Path

from kufenet_grasp.sim import shapes
import numpy as np

NUM_RANDOM_URDFS = 1000
SPLITS = ('train', 'val', 'test')
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)
#: seed of the object split; fixed so that every dataset of the project shares one split
SPLIT_SEED = 20240
PROCEDURAL_BASE = 1000
MESH_BASE = 2000
FAMILIES = ('random_urdf', 'procedural', 'mesh')
RANDOM_URDF_SCALE = (0.8, 1.3)
PROCEDURAL_SCALE = (0.85, 1.15)


@dataclass(frozen=True)
class MeshObject:
    """A pybullet_data object: URDF path in pybullet_data, scale range, mass (kg)."""

    urdf: str
    scale: tuple[float, float]
    mass: float


#: pybullet_data's graspable objects, scaled so that some side fits an 8 cm gripper (the
#: soccer ball and the big cube ship 1 m wide); the order fixes their ids
MESHES = (
    MeshObject('duck_vhacd.urdf', (0.55, 0.85), 0.1),
    MeshObject('teddy_vhacd.urdf', (0.5, 0.75), 0.1),
    MeshObject('objects/mug.urdf', (0.55, 0.8), 0.2),
    MeshObject('lego/lego.urdf', (1.2, 2.0), 0.05),
    MeshObject('jenga/jenga.urdf', (0.8, 1.2), 0.05),
    MeshObject('cube_small.urdf', (0.6, 1.2), 0.1),
    MeshObject('sphere_small.urdf', (0.6, 1.0), 0.1),
    MeshObject('soccerball.urdf', (0.04, 0.065), 0.1),
    MeshObject('block.urdf', (0.8, 1.3), 0.03),
    MeshObject('domino/domino.urdf', (1.0, 1.6), 0.03),
    MeshObject('cube.urdf', (0.03, 0.06), 0.1),
)
#: photographs inside scikit-image's wheel used as textures (after the procedural ones)
PHOTO_TEXTURES = ('astronaut.png', 'brick.png', 'camera.png', 'chelsea.png', 'coffee.png',
                  'coins.png', 'color.png', 'grass.png', 'gravel.png', 'hubble_deep_field.jpg',
                  'ihc.png', 'moon.png', 'motorcycle_left.png', 'page.png', 'retina.jpg',
                  'rocket.jpg', 'text.png', 'logo.png')


def data_path() -> Path:
    """Folder of ``pybullet_data`` (imported lazily)."""
    import pybullet_data

    return Path(pybullet_data.getDataPath())


def object_family(object_id: int) -> str:
    """Family of catalogue id ``object_id``: 'random_urdf', 'procedural' or 'mesh'."""
    oid = int(object_id)
    if 0 <= oid < NUM_RANDOM_URDFS:
        return 'random_urdf'
    if PROCEDURAL_BASE <= oid < PROCEDURAL_BASE + shapes.NUM_SHAPES:
        return 'procedural'
    if MESH_BASE <= oid < MESH_BASE + len(MESHES):
        return 'mesh'
    raise ValueError(f'object_family: {object_id} is not a catalogue id (0..{NUM_RANDOM_URDFS - 1}'
                     f', {PROCEDURAL_BASE}..{PROCEDURAL_BASE + shapes.NUM_SHAPES - 1}, '
                     f'{MESH_BASE}..{MESH_BASE + len(MESHES) - 1})')


def family_ids(family: str) -> list[int]:
    """Every catalogue id of ``family``."""
    if family == 'random_urdf':
        return list(range(NUM_RANDOM_URDFS))
    if family == 'procedural':
        return list(range(PROCEDURAL_BASE, PROCEDURAL_BASE + shapes.NUM_SHAPES))
    if family == 'mesh':
        return list(range(MESH_BASE, MESH_BASE + len(MESHES)))
    raise ValueError(f'family_ids: family must be one of {FAMILIES}, got {family!r}')


def scale_range(object_id: int) -> tuple[float, float]:
    """Range of the random global scale of ``object_id``."""
    family = object_family(object_id)
    if family == 'random_urdf':
        return RANDOM_URDF_SCALE
    if family == 'procedural':
        return PROCEDURAL_SCALE
    return MESHES[int(object_id) - MESH_BASE].scale


def object_urdf(object_id: int) -> str:
    """Path of random object ``object_id`` (0..999) as a string for ``p.loadURDF``."""
    if not 0 <= int(object_id) < NUM_RANDOM_URDFS:
        raise ValueError(f'object_urdf: object_id must be in [0, {NUM_RANDOM_URDFS}), '
                         f'got {object_id}')
    oid = f'{int(object_id):03d}'
    return str(data_path() / 'random_urdfs' / oid / f'{oid}.urdf')


def _split(ids: list[int], seed, fractions: tuple[float, float, float]) -> dict[str, list[int]]:
    """Disjoint train/val/test lists of ``ids`` from a permutation seeded ``seed``."""
    fr = np.asarray(fractions, dtype=float)
    if fr.shape != (3,) or np.any(fr < 0) or not np.isclose(fr.sum(), 1.0):
        raise ValueError(f'split_object_ids: fractions must be 3 non-negative numbers '
                         f'summing to 1, got {fractions}')
    perm = np.asarray(ids)[np.random.default_rng(seed).permutation(len(ids))]
    n_train = round(float(fr[0]) * len(ids))
    n_val = round(float(fr[1]) * len(ids))
    parts = (perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:])
    return {name: sorted(int(i) for i in part) for name, part in zip(SPLITS, parts)}


def split_object_ids(
    seed: int = SPLIT_SEED, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
) -> dict[str, list[int]]:
    """Disjoint train/val/test lists of random_urdfs ids from a seeded permutation of 0..999."""
    return _split(list(range(NUM_RANDOM_URDFS)), seed, fractions)


def split_catalogue(
    seed: int = SPLIT_SEED, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
) -> dict[str, dict[str, list[int]]]:
    """``{split: {family: ids}}`` over the whole catalogue; no id is in two splits.

    The random_urdfs part is :func:`split_object_ids`; the other families are permuted with
    their own seeds derived from ``seed``.
    """
    per_family = {'random_urdf': split_object_ids(seed, fractions),
                  'procedural': _split(family_ids('procedural'), [seed, 1], fractions),
                  'mesh': _split(family_ids('mesh'), [seed, 2], fractions)}
    return {split: {fam: per_family[fam][split] for fam in FAMILIES} for split in SPLITS}


def sample_object_ids(rng: np.random.Generator, catalogue: dict[str, list[int]], count: int,
                      family_weights: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)
                      ) -> list[int]:
    """Draw ``count`` ids of one split's ``catalogue`` (``{family: ids}``).

    Each object picks a family by ``family_weights`` (families with no ids in the split are
    skipped). Ids do not repeat, except meshes: pybullet_data has only a few, so a scene may
    hold one twice (with its own scale and colour).
    """
    if count < 1:
        raise ValueError(f'sample_object_ids: count must be >= 1, got {count}')
    pairs = zip(FAMILIES, family_weights)
    weights = np.array([w if catalogue.get(f) else 0.0 for f, w in pairs])
    if weights.sum() <= 0:
        raise ValueError('sample_object_ids: no object in the chosen families of this split')
    weights = weights / weights.sum()
    chosen: list[int] = []
    for _ in range(count):
        family = FAMILIES[int(rng.choice(len(FAMILIES), p=weights))]
        pool = catalogue[family]
        if family != 'mesh':
            free = [i for i in pool if i not in chosen]
            pool = free or pool
        chosen.append(int(pool[int(rng.integers(len(pool)))]))
    return chosen


@functools.lru_cache(maxsize=4)
def _split_by_id(seed: int) -> dict[int, str]:
    """``{catalogue id: split name}`` for ``seed``; built once, the catalogue is fixed."""
    return {oid: name for name, families in split_catalogue(seed).items()
            for ids in families.values() for oid in ids}


def object_split(object_id: int, seed: int = SPLIT_SEED) -> str:
    """Name of the split ('train', 'val' or 'test') that holds catalogue id ``object_id``."""
    object_family(object_id)  # ValueError for an id outside the catalogue
    return _split_by_id(int(seed))[int(object_id)]


def load_object(client: int, object_id: int, position, orientation, scale: float) -> int:
    """Load catalogue object ``object_id`` with its centre of mass at ``position``.

    ``position``/``orientation`` are world (m, xyzw), the pose that
    ``p.getBasePositionAndOrientation`` reports, so a settled pose rebuilds the same scene.
    ``scale`` multiplies its size. Returns the PyBullet body id.
    """
    import pybullet as p

    kw = {'physicsClientId': client}
    family = object_family(object_id)
    if family == 'procedural':
        parts = shapes.scaled(shapes.shape_parts(int(object_id) - PROCEDURAL_BASE), scale)
        return shapes.build_shape(client, parts, position, orientation)
    if family == 'random_urdf':
        return p.loadURDF(object_urdf(object_id), list(position), list(orientation),
                          globalScaling=scale, **kw)
    mesh = MESHES[int(object_id) - MESH_BASE]
    body = p.loadURDF(str(data_path() / mesh.urdf), list(position), list(orientation),
                      globalScaling=scale, **kw)
    p.changeDynamics(body, -1, mass=mesh.mass, **kw)
    # loadURDF places the link frame; duck and teddy have their centre of mass elsewhere
    p.resetBasePositionAndOrientation(body, list(position), list(orientation), **kw)
    return body


def photo_folder() -> Path:
    """scikit-image's installed ``data`` folder (found without importing scikit-image)."""
    spec = importlib.util.find_spec('skimage')
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError('scikit-image is not installed (its data images are the photo '
                                'textures); pip install -c requirements/constraints.txt '
                                'scikit-image')
    return Path(list(spec.submodule_search_locations)[0]) / 'data'


def photo_texture_files() -> list[str]:
    """Paths of :data:`PHOTO_TEXTURES` inside the installed scikit-image package."""
    folder = photo_folder()
    paths = [folder / name for name in PHOTO_TEXTURES]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f'{folder}: scikit-image lacks the photo textures '
                                f'{", ".join(missing)}')
    return [str(p) for p in paths]


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
