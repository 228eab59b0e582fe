# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The simulated pick-and-place world: table, objects, a place tray, the Panda and a camera.

World frame: z up, metres; the table surface is the plane z = 0 (``scene.py`` convention: the
textured ground plane is the table) and the pick workspace is centred on the origin. The Panda
base (``base_link``) stands on the table at ``WorldConfig.base_xyz``, facing +x. The camera's
optical frame (REP-103) is fixed in the world; :meth:`SimWorld.camera_in_base` is the static
transform T_base_camera that the detector needs. Images: RGB ``uint8`` H×W×3, depth ``float32``
metres with NaN holes, or ``uint16`` millimetres with 0 holes (the RealSense encoding).

Every PyBullet call goes through :attr:`SimWorld.lock` so that a renderer thread and the
motion backend can share the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
import math
import threading
from typing import Any

from kufenet_grasp.common.vectors import float3, float4
from kufenet_grasp.geometry.transforms import from_xyz_rpy, from_xyz_yaw, RigidTransform
from kufenet_grasp.sim import assets, scene
from kufenet_grasp.sim.camera import CameraIntrinsics, CameraPose, render, RenderSettings
from kufenet_grasp.sim.depth_noise import add_stereo_noise, StereoNoise
from kufenet_grasp.sim.motion_backend import SimMotionBackend, SimMotionSettings
from kufenet_grasp.sim.panda import Panda, PandaKinematics
from kufenet_grasp.sim.rgb_noise import add_rgb_noise, RgbNoise
from kufenet_grasp.sim.scene import Scene
import numpy as np

SCENE_TYPES = ('single', 'clutter')
TRAY_SCALE = 0.5  #: the place tray is traybox.urdf at half size (0.3 m × 0.3 m)
TRAY_HALF_M = 0.15


class SimWorldError(ValueError):
    """Invalid world settings (the message names the setting)."""


@dataclass
class WorldConfig:
    """Settings of :class:`SimWorld` (world frame, metres, radians, pixels)."""

    scene_type: str = 'single'
    clutter_count: int = 5
    object_split: str = 'test'
    seed: int = 0
    spread_m: float = 0.08  #: single objects drop within ±spread of the origin
    base_xyz: tuple[float, float, float] = (-0.55, 0.0, 0.0)
    base_yaw: float = 0.0
    tray_xyz: tuple[float, float, float] = (-0.2, 0.5, 0.0)
    camera_xyz: tuple[float, float, float] = (0.0, 0.0, 0.65)
    #: optical frame orientation in the world (fixed-axis roll, pitch, yaw): straight down,
    #: image up = world +x (away from the robot)
    camera_rpy: tuple[float, float, float] = (math.pi, 0.0, -math.pi / 2)
    width: int = 640
    height: int = 480
    fx: float = 615.0
    fy: float = 615.0
    cx: float = 319.5
    cy: float = 239.5
    depth_noise: bool = True
    rgb_noise: bool = True
    base_frame: str = 'base_link'
    camera_frame: str = 'camera_color_optical_frame'

    def __post_init__(self) -> None:
        if self.scene_type not in SCENE_TYPES:
            raise SimWorldError(f"scene_type must be one of {', '.join(SCENE_TYPES)}, got "
                                f'{self.scene_type!r}')
        if self.object_split not in assets.SPLITS:
            raise SimWorldError(f"object_split must be one of {', '.join(assets.SPLITS)}, got "
                                f'{self.object_split!r}')
        if not 1 <= int(self.clutter_count) <= 15:
            raise SimWorldError(f'clutter_count must be in [1, 15], got {self.clutter_count}')
        if self.spread_m < 0:
            raise SimWorldError(f'spread_m must be >= 0 m, got {self.spread_m}')
        for name in ('base_xyz', 'tray_xyz', 'camera_xyz', 'camera_rpy'):
            value = getattr(self, name)
            if len(value) != 3 or not all(math.isfinite(float(v)) for v in value):
                raise SimWorldError(f'{name} must be 3 finite numbers, got {value!r}')
        CameraIntrinsics(self.width, self.height, self.fx, self.fy, self.cx, self.cy)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorldConfig:
        """Build from a mapping (e.g. ROS parameters); unknown keys raise SimWorldError."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise SimWorldError(f'unknown world settings {unknown}; known: {sorted(names)}')
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, (list, tuple)) else v
                                  for k, v in data.items()}
        return cls(**values)

    @property
    def intrinsics(self) -> CameraIntrinsics:
        """Camera intrinsics in pixels."""
        return CameraIntrinsics(self.width, self.height, self.fx, self.fy, self.cx, self.cy)


def base_in_world(config: WorldConfig) -> RigidTransform:
    """T_world_base: the Panda base (``base_link``) in the world frame (m)."""
    return from_xyz_yaw(config.base_xyz, config.base_yaw)


def camera_in_base(config: WorldConfig) -> RigidTransform:
    """T_base_camera: the camera optical frame in ``base_link`` (m) for ``config``."""
    return base_in_world(config).inverse().compose(
        from_xyz_rpy(config.camera_xyz, config.camera_rpy))


@dataclass
class CameraFrame:
    """One rendered frame: RGB, noisy depth (m, NaN holes), sim time (s) and the true depth."""

    rgb: np.ndarray
    depth_m: np.ndarray
    stamp_s: float
    true_depth_m: np.ndarray = field(repr=False)
    segmentation: np.ndarray = field(repr=False)

    def depth_mm(self) -> np.ndarray:
        """Depth as ``uint16`` millimetres, 0 where invalid (RealSense 16UC1)."""
        d = np.where(np.isfinite(self.depth_m), np.rint(self.depth_m * 1000.0), 0.0)
        return np.clip(d, 0, 65535).astype(np.uint16)


class SimWorld:
    """PyBullet world with the Panda, objects on a table, a place tray and an RGB-D camera."""

    def __init__(self, config: WorldConfig | None = None,
                 motion: SimMotionSettings | None = None) -> None:
        import pybullet as p

        self.config = config or WorldConfig()
        self.lock = threading.RLock()
        self.client = p.connect(p.DIRECT)
        cfg = self.config
        self.base = base_in_world(cfg)
        self._kinematics = PandaKinematics(0.0 - float(cfg.base_xyz[2]))
        self._rng = np.random.default_rng(cfg.seed)
        self._object_ids = assets.split_object_ids()[cfg.object_split]
        self._scene: Scene | None = None
        self._panda: Panda | None = None
        self.tray: int | None = None
        self.backend: SimMotionBackend | None = None
        self.rest_z: dict[int, float] = {}
        self._time_base_s = 0.0
        self.reset()
        #: the MotionBackend of the simulated arm (for an in-process grasp_executor)
        self.backend = SimMotionBackend(self.panda, motion, lock=self.lock)

    @property
    def scene(self) -> Scene:
        """The objects on the table (built by :meth:`reset`, which ``__init__`` calls)."""
        if self._scene is None:
            raise SimWorldError('the world has no scene yet: call reset()')
        return self._scene

    @property
    def panda(self) -> Panda:
        """The simulated arm (built by :meth:`reset`, which ``__init__`` calls)."""
        if self._panda is None:
            raise SimWorldError('the world has no robot yet: call reset()')
        return self._panda

    # ------------------------------------------------------------------ frames
    def camera_pose_world(self) -> CameraPose:
        """Camera optical frame in the world (position m, rotation columns = camera axes)."""
        t = from_xyz_rpy(self.config.camera_xyz, self.config.camera_rpy)
        return CameraPose.from_matrix(t.rotation, t.translation)

    def camera_in_base(self) -> RigidTransform:
        """T_base_camera: the camera optical frame in ``base_link`` (m)."""
        return camera_in_base(self.config)

    def world_to_base(self, point_world: np.ndarray) -> np.ndarray:
        """Return a world point (m) in the Panda base frame."""
        return self.base.inverse().apply(np.asarray(point_world, dtype=float))

    def place_pose(self, height_m: float = 0.25) -> RigidTransform:
        """Tool pose (base frame) above the tray centre, pointing down, ``height_m`` up."""
        centre = np.asarray(self.config.tray_xyz, dtype=float) + np.array([0, 0, height_m])
        down = np.diag([1.0, -1.0, -1.0])  # tool z = world -z, fingers along world -y
        return self.base.inverse().compose(RigidTransform(down, centre))

    # ------------------------------------------------------------------- scene
    def reset(self, seed: int | None = None, scene_type: str | None = None,
              object_ids: list[int] | None = None) -> list[int]:
        """Build a new scene (new random objects unless ``object_ids``); the Panda at home.

        Returns the catalogue ids of the objects that came to rest in the workspace.
        """
        cfg = self.config
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        kind = scene_type or cfg.scene_type
        if kind not in SCENE_TYPES:
            raise SimWorldError(f"reset: scene_type must be one of {', '.join(SCENE_TYPES)}, "
                                f'got {kind!r}')
        count = 1 if kind == 'single' else int(cfg.clutter_count)
        ids = list(object_ids) if object_ids else [
            int(i) for i in self._rng.choice(self._object_ids, size=count, replace=False)]
        spread = cfg.spread_m if len(ids) == 1 else None
        spec = scene.sample_scene_spec(self._rng, ids, tray=False, spread=spread)
        with self.lock:
            if self._panda is not None:
                self._time_base_s += self._panda.steps * scene.TIME_STEP
            self._scene = scene.build_scene(self.client, spec)
            self._add_robot_and_tray()
            kept = set(scene.objects_in_workspace(self.scene, radius=0.25))
            self._remove_where(lambda i: i not in kept)
            self.rest_z = {b: self._body_z(b) for b in self.scene.objects}
            return [o.object_id for o in self.scene.spec.objects]

    def _add_robot_and_tray(self) -> None:
        import pybullet as p

        root = assets.data_path()
        self.tray = p.loadURDF(str(root / 'tray' / 'traybox.urdf'), list(self.config.tray_xyz),
                               useFixedBase=True, globalScaling=TRAY_SCALE,
                               physicsClientId=self.client)
        self._panda = Panda(self.client, self.base, kinematics=self._kinematics)
        self._panda.ignored_bodies = {self.scene.plane, self.tray}
        if self.backend is not None:
            self.backend.panda = self._panda

    def _remove_where(self, predicate: Any) -> None:
        import pybullet as p

        keep_bodies, keep_specs = [], []
        for i, (body, spec) in enumerate(zip(self.scene.objects, self.scene.spec.objects)):
            if predicate(i):
                p.removeBody(body, physicsClientId=self.client)
            else:
                keep_bodies.append(body)
                keep_specs.append(spec)
        self.scene.objects = keep_bodies
        self.scene.spec.objects = keep_specs

    def _body_z(self, body: int) -> float:
        import pybullet as p

        return float(p.getBasePositionAndOrientation(body, physicsClientId=self.client)[0][2])

    def object_bodies(self) -> list[int]:
        """Body ids (PyBullet) of the scene's objects still in the simulation."""
        return list(self._scene.objects) if self._scene is not None else []

    def object_catalogue_id(self, body: int) -> int:
        """Catalogue id (random_urdfs number) of object body ``body``."""
        for b, spec in zip(self.scene.objects, self.scene.spec.objects):
            if b == body:
                return spec.object_id
        raise SimWorldError(f'object_catalogue_id: body {body} is not an object of the scene')

    def object_position(self, body: int) -> np.ndarray:
        """World position (m) of object ``body``."""
        import pybullet as p

        with self.lock:
            return np.asarray(p.getBasePositionAndOrientation(
                body, physicsClientId=self.client)[0], dtype=float)

    def held_objects(self) -> list[int]:
        """Objects touched by both fingers."""
        with self.lock:
            return sorted(self.panda.finger_contacts() & set(self.object_bodies()))

    def lifted_objects(self, min_lift_m: float = 0.05) -> list[int]:
        """Objects raised at least ``min_lift_m`` (m) above their resting height."""
        with self.lock:
            return [b for b in self.object_bodies()
                    if self._body_z(b) - self.rest_z.get(b, 0.0) >= min_lift_m]

    def placed_objects(self) -> list[int]:
        """Objects lying inside the place tray (within its rim, below 0.15 m)."""
        tray = np.asarray(self.config.tray_xyz, dtype=float)
        out = []
        for b in self.object_bodies():
            pos = self.object_position(b)
            if np.all(np.abs(pos[:2] - tray[:2]) < TRAY_HALF_M) and pos[2] < tray[2] + 0.15:
                out.append(b)
        return out

    def workspace_objects(self, radius_m: float = 0.25) -> list[int]:
        """Objects still on the table within ``radius_m`` (m) of the workspace centre."""
        out = []
        for b in self.object_bodies():
            pos = self.object_position(b)
            if math.hypot(pos[0], pos[1]) <= radius_m and pos[2] > -0.01:
                out.append(b)
        return out

    def remove_objects(self, bodies: list[int]) -> None:
        """Delete ``bodies`` from the scene (e.g. objects placed in the tray)."""
        drop = set(bodies)
        with self.lock:
            self._remove_where(lambda i: self.scene.objects[i] in drop)

    def add_box(self, size_m: tuple[float, float, float], xy_m: tuple[float, float],
                yaw_rad: float = 0.0, mass_kg: float = 0.1,
                rgba: tuple[float, float, float, float] = (0.8, 0.2, 0.2, 1.0)) -> int:
        """Put a box (full sizes x, y, z in m) on the table at world ``xy_m``.

        It is rotated ``yaw_rad`` about z; returns its body id (catalogue id -1).
        """
        import pybullet as p

        half = np.asarray(size_m, dtype=float) / 2
        if half.shape != (3,) or not np.all(half > 0):
            raise SimWorldError(f'add_box: size_m must be 3 sizes > 0 m, got {size_m!r}')
        if mass_kg <= 0:
            raise SimWorldError(f'add_box: mass_kg must be > 0, got {mass_kg}')
        kw = {'physicsClientId': self.client}
        position = [float(xy_m[0]), float(xy_m[1]), float(half[2])]
        quat = from_xyz_yaw((0.0, 0.0, 0.0), yaw_rad).quaternion_xyzw.tolist()
        with self.lock:
            body = p.createMultiBody(
                mass_kg, p.createCollisionShape(p.GEOM_BOX, halfExtents=half.tolist(), **kw),
                p.createVisualShape(p.GEOM_BOX, halfExtents=half.tolist(), rgbaColor=list(rgba),
                                    **kw), position, quat, **kw)
            p.changeDynamics(body, -1, lateralFriction=1.0, **kw)
            self.scene.objects.append(body)
            self.scene.spec.objects.append(scene.ObjectSpec(-1, 1.0, float4(rgba),
                                                            float3(position), float4(quat)))
            self.panda.step(24)
            self.rest_z[body] = self._body_z(body)
        return body

    def settle(self, steps: int = 240) -> None:
        """Let the physics run ``steps`` steps of 1/240 s with the arm holding its pose."""
        with self.lock:
            self.panda.step(steps)

    @property
    def sim_time_s(self) -> float:
        """Simulated time of the robot's physics steps since the world was created (s)."""
        steps = self._panda.steps if self._panda is not None else 0
        return self._time_base_s + steps * scene.TIME_STEP

    # ------------------------------------------------------------------ camera
    def capture(self, rng: np.random.Generator | None = None) -> CameraFrame:
        """Render RGB + depth with the sensor noise models (RealSense-like) at sim time."""
        cfg = self.config
        rng = rng if rng is not None else self._rng
        with self.lock:
            rgb, depth, seg = render(self.client, cfg.intrinsics, self.camera_pose_world(),
                                     RenderSettings(near=0.1, far=3.0))
            stamp = self.sim_time_s
        noisy_rgb = add_rgb_noise(rgb, rng, RgbNoise()) if cfg.rgb_noise else rgb
        noisy = add_stereo_noise(depth, rng, StereoNoise(), fx=cfg.fx) if cfg.depth_noise \
            else np.where(np.isfinite(depth), depth, np.nan).astype(np.float32)
        return CameraFrame(noisy_rgb, noisy, stamp, depth, seg)

    def close(self) -> None:
        """Disconnect the simulation."""
        import pybullet as p

        with self.lock:
            self._kinematics.close()
            if self.client >= 0:
                p.disconnect(self.client)
                self.client = -1
