# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""PyBullet tabletop scenes, deterministic for a given ``SceneSpec``.

A coloured/textured ground plane as the table, an optional tray and one or several catalogue
objects (:mod:`kufenet_grasp.sim.assets`) dropped and settled. Texture indices count the
``NUM_TEXTURES`` procedural textures first, then the photographs of
``assets.PHOTO_TEXTURES``.

World frame: z up, metres, the table surface is the plane z = 0, the workspace centre is the
origin. Orientations are quaternions (x, y, z, w).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import math
import os
from pathlib import Path
import tempfile

from kufenet_grasp.common.vectors import float3, float4
from kufenet_grasp.sim import assets
import numpy as np

TIME_STEP = 1.0 / 240.0
TRAY_FLOOR_Z = 0.015  #: top of traybox.urdf's floor (m)
NUM_TEXTURES = 12
_TEXTURE_SEED = 7


@dataclass
class ObjectSpec:
    """One object instance: catalogue id, global scale, colour, pose (world, m, xyzw), texture.

    ``texture`` is a texture index, -1 for the plain colour ``rgba``.
    """

    object_id: int
    scale: float
    rgba: tuple[float, float, float, float]
    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float]
    texture: int = -1


@dataclass
class SceneSpec:
    """Everything needed to rebuild a scene.

    ``settled`` tells whether object poses are resting poses (rebuild without physics) or drop
    poses (settle after loading).
    """

    objects: list[ObjectSpec]
    tray: bool = False
    surface_rgba: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 1.0)
    surface_texture: int = -1  #: texture index, -1 for plain colour
    tray_rgba: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    settled: bool = False

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SceneSpec:
        """Inverse of :meth:`to_dict`."""
        try:
            objs = [ObjectSpec(int(o['object_id']), float(o['scale']), tuple(o['rgba']),
                               tuple(o['position']), tuple(o['orientation']),
                               int(o.get('texture', -1)))
                    for o in data['objects']]
            rest = {k: data[k] for k in ('tray', 'surface_rgba', 'surface_texture', 'tray_rgba',
                                         'settled') if k in data}
        except (KeyError, TypeError) as exc:
            raise ValueError(f'SceneSpec.from_dict: malformed scene description ({exc})') from exc
        for key in ('surface_rgba', 'tray_rgba'):
            if key in rest:
                rest[key] = tuple(rest[key])
        return cls(objects=objs, **rest)


@dataclass
class Scene:
    """A built scene: PyBullet body ids (``objects[i]`` is ``spec.objects[i]``)."""

    client: int
    spec: SceneSpec
    plane: int
    tray: int | None
    objects: list[int] = field(default_factory=list)

    @property
    def support_z(self) -> float:
        """Height (m) of the surface the objects rest on."""
        return TRAY_FLOOR_Z if self.tray is not None else 0.0


def sample_scene_spec(
    rng: np.random.Generator,
    object_ids: list[int],
    tray: bool,
    scale_range: tuple[float, float] | None = None,
    spread: float | None = None,
    textures: bool = False,
) -> SceneSpec:
    """Random drop poses, scales and colours for ``object_ids``.

    Objects fall from 5–15 cm above the support within ±``spread`` m of the origin (default
    grows with the count). ``scale_range`` defaults to each object's own
    (:func:`assets.scale_range`). With ``textures``, a quarter of the objects and half of the
    tables get a procedural texture or a photograph; without, tables get procedural textures
    only and objects plain colours (the draws of earlier datasets).
    """
    if not object_ids:
        raise ValueError('sample_scene_spec: object_ids must not be empty')
    n = len(object_ids)
    spread = spread if spread is not None else (0.02 if n == 1 else 0.05 + 0.01 * n)
    base_z = TRAY_FLOOR_Z if tray else 0.0
    objs = []
    for i, oid in enumerate(object_ids):
        quat = rng.standard_normal(4)
        quat /= np.linalg.norm(quat)
        pos = (float(rng.uniform(-spread, spread)), float(rng.uniform(-spread, spread)),
               float(base_z + 0.05 + 0.04 * i + rng.uniform(0, 0.05)))
        scales = scale_range or assets.scale_range(oid)
        obj = ObjectSpec(int(oid), float(rng.uniform(*scales)), assets.random_object_rgba(rng),
                         pos, float4(quat))
        if textures and rng.random() < 0.25:
            obj.texture = _random_texture(rng)
        objs.append(obj)
    if textures:
        texture = _random_texture(rng) if rng.random() < 0.5 else -1
    else:
        texture = int(rng.integers(NUM_TEXTURES)) if rng.random() < 0.5 else -1
    return SceneSpec(objects=objs, tray=tray, surface_rgba=assets.random_surface_rgba(rng),
                     surface_texture=texture, tray_rgba=assets.random_surface_rgba(rng))


def _random_texture(rng: np.random.Generator) -> int:
    """Texture index: a procedural texture or a photograph, half and half."""
    if rng.random() < 0.5:
        return int(rng.integers(NUM_TEXTURES))
    return NUM_TEXTURES + int(rng.integers(len(assets.PHOTO_TEXTURES)))


def texture_file(index: int) -> str:
    """Image file of texture ``index`` (procedural first, then the photographs)."""
    if index < NUM_TEXTURES:
        return texture_files()[index]
    photos = assets.photo_texture_files()
    if index >= NUM_TEXTURES + len(photos):
        raise ValueError(f'texture_file: index must be < {NUM_TEXTURES + len(photos)}, '
                         f'got {index}')
    return photos[index - NUM_TEXTURES]


def _apply_texture(client: int, body: int, index: int, cache: dict[int, int]) -> None:
    """Put texture ``index`` on every link of ``body`` (loaded once per build)."""
    import pybullet as p

    kw = {'physicsClientId': client}
    if index not in cache:
        cache[index] = p.loadTexture(texture_file(index), **kw)
    for link in range(-1, p.getNumJoints(body, **kw)):
        p.changeVisualShape(body, link, textureUniqueId=cache[index], rgbaColor=[1, 1, 1, 1],
                            **kw)


def texture_files() -> list[str]:
    """Paths of the procedural textures shared by all scenes (written once per machine)."""
    folder = Path(tempfile.gettempdir()) / f'kufenet_sim_textures_{os.getuid()}'
    paths = [folder / f'texture_{i:02d}.png' for i in range(NUM_TEXTURES)]
    if not all(p.is_file() for p in paths):
        tmp = Path(tempfile.mkdtemp(prefix='kufenet_tex_'))
        written = assets.write_textures(tmp, np.random.default_rng(_TEXTURE_SEED), NUM_TEXTURES)
        folder.mkdir(parents=True, exist_ok=True)
        for src, dst in zip(written, paths):
            os.replace(src, dst)
    return [str(p) for p in paths]


def build_scene(client: int, spec: SceneSpec, max_settle_steps: int = 480) -> Scene:
    """Reset the simulation of ``client`` and build ``spec``.

    Settle the objects unless ``spec.settled`` (at most ``max_settle_steps`` physics steps of
    1/240 s).
    """
    import pybullet as p

    kw = {'physicsClientId': client}
    p.resetSimulation(**kw)
    p.setGravity(0, 0, -9.81, **kw)
    p.setTimeStep(TIME_STEP, **kw)
    p.setPhysicsEngineParameter(numSolverIterations=50, deterministicOverlappingPairs=1, **kw)
    root = assets.data_path()
    plane = p.loadURDF(str(root / 'plane.urdf'), **kw)
    loaded: dict[int, int] = {}
    if spec.surface_texture >= 0:
        _apply_texture(client, plane, spec.surface_texture, loaded)
    else:
        p.changeVisualShape(plane, -1, textureUniqueId=-1, rgbaColor=list(spec.surface_rgba), **kw)
    tray = None
    if spec.tray:
        tray = p.loadURDF(str(root / 'tray' / 'traybox.urdf'), useFixedBase=True, **kw)
        p.changeVisualShape(tray, -1, rgbaColor=list(spec.tray_rgba), **kw)
    scene = Scene(client=client, spec=spec, plane=plane, tray=tray)
    for obj in spec.objects:
        body = assets.load_object(client, obj.object_id, obj.position, obj.orientation,
                                  obj.scale)
        if obj.texture >= 0:
            _apply_texture(client, body, obj.texture, loaded)
        else:
            assets.colour_body(client, body, obj.rgba)
        p.changeDynamics(body, -1, lateralFriction=1.0, rollingFriction=0.0005,
                         spinningFriction=0.001, **kw)
        scene.objects.append(body)
    if not spec.settled:
        settle(scene, max_settle_steps)
    return scene


def settle(scene: Scene, max_steps: int = 480, min_steps: int = 120) -> int:
    """Step physics until every object rests (speeds < 5 mm/s, 0.05 rad/s); return steps."""
    import pybullet as p

    kw = {'physicsClientId': scene.client}
    for step in range(1, max_steps + 1):
        p.stepSimulation(**kw)
        if step >= min_steps and step % 20 == 0:
            moving = False
            for body in scene.objects:
                lin, ang = p.getBaseVelocity(body, **kw)
                if np.linalg.norm(lin) > 0.005 or np.linalg.norm(ang) > 0.05:
                    moving = True
                    break
            if not moving:
                return step
    return max_steps


def settled_spec(scene: Scene) -> SceneSpec:
    """Copy of the scene's spec with the current (resting) object poses, ``settled=True``."""
    import pybullet as p

    objs = []
    for spec_obj, body in zip(scene.spec.objects, scene.objects):
        pos, orn = p.getBasePositionAndOrientation(body, physicsClientId=scene.client)
        objs.append(ObjectSpec(spec_obj.object_id, spec_obj.scale, spec_obj.rgba,
                               float3(pos), float4(orn),
                               spec_obj.texture))
    d = scene.spec.to_dict()
    d['objects'] = [asdict(o) for o in objs]
    d['settled'] = True
    return SceneSpec.from_dict(d)


def objects_in_workspace(scene: Scene, radius: float = 0.25) -> list[int]:
    """Return indices of objects resting within ``radius`` m of the origin, not fallen through."""
    import pybullet as p

    keep = []
    for i, body in enumerate(scene.objects):
        pos, _ = p.getBasePositionAndOrientation(body, physicsClientId=scene.client)
        if math.hypot(pos[0], pos[1]) <= radius and pos[2] > -0.01:
            keep.append(i)
    return keep
