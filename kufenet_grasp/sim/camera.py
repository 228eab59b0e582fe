# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Pinhole camera for PyBullet: intrinsics, poses, rendering and lighting.

Frames: the camera frame is OpenCV's (x right, y down, z forward along the optical axis);
``CameraPose`` holds the camera's position (metres) and rotation (columns = camera axes) in the
world frame (z up). Pixel (x, y) has its origin at the top-left pixel's centre. Depth is the
metric z-depth along the optical axis (not the ray length), ``float32`` metres.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import math

from kufenet_grasp.common.vectors import float3
import numpy as np


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics in pixels: image size, focal lengths and principal point."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(f'CameraIntrinsics: width/height must be >= 1 px, got '
                             f'{self.width}x{self.height}')
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError(f'CameraIntrinsics: fx, fy must be > 0 px, got {self.fx}, {self.fy}')

    @classmethod
    def from_fov(cls, width: int, height: int, hfov_deg: float) -> CameraIntrinsics:
        """Square-pixel intrinsics with horizontal field of view ``hfov_deg`` (degrees)."""
        if not 1.0 < hfov_deg < 179.0:
            raise ValueError(f'CameraIntrinsics.from_fov: hfov_deg must be in (1, 179), '
                             f'got {hfov_deg}')
        f = 0.5 * width / math.tan(math.radians(hfov_deg) / 2)
        return cls(width, height, f, f, (width - 1) / 2.0, (height - 1) / 2.0)

    def matrix(self) -> np.ndarray:
        """3×3 camera matrix K (pixels)."""
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], dtype=float)

    def projection_matrix(self, near: float, far: float) -> list[float]:
        """Projection matrix in OpenGL form (column-major, 16 floats) for ``p.getCameraImage``.

        ``near``/``far`` are the clip distances in metres. The +0.5 moves the principal point
        from pixel-centre coordinates to OpenGL's pixel-edge coordinates.
        """
        if not 0 < near < far:
            raise ValueError(f'projection_matrix: need 0 < near < far (m), got {near}, {far}')
        w, h = float(self.width), float(self.height)
        proj = np.array([
            [2 * self.fx / w, 0.0, 1.0 - 2 * (self.cx + 0.5) / w, 0.0],
            [0.0, 2 * self.fy / h, 2 * (self.cy + 0.5) / h - 1.0, 0.0],
            [0.0, 0.0, -(far + near) / (far - near), -2 * far * near / (far - near)],
            [0.0, 0.0, -1.0, 0.0],
        ])
        return [float(v) for v in proj.T.flatten()]

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return asdict(self)


@dataclass(frozen=True)
class CameraPose:
    """Camera pose in the world frame: ``position`` (m) and ``rotation`` (3×3).

    The columns of ``rotation`` are the x, y, z camera axes in world coordinates (OpenCV camera
    frame).
    """

    position: tuple[float, float, float]
    rotation: tuple[tuple[float, float, float], ...]

    @property
    def R(self) -> np.ndarray:
        """Rotation world-from-camera (3×3)."""
        return np.asarray(self.rotation, dtype=float)

    @property
    def t(self) -> np.ndarray:
        """Position of the optical centre in the world frame (m)."""
        return np.asarray(self.position, dtype=float)

    @classmethod
    def from_matrix(cls, rotation: np.ndarray, position: np.ndarray) -> CameraPose:
        """Build from a 3×3 rotation and a 3-vector position (metres)."""
        rot = np.asarray(rotation, dtype=float)
        pos = np.asarray(position, dtype=float)
        if rot.shape != (3, 3) or pos.shape != (3,):
            raise ValueError(f'CameraPose.from_matrix: need 3x3 rotation and 3-vector position, '
                             f'got {rot.shape} and {pos.shape}')
        return cls(float3(pos), (float3(rot[0]), float3(rot[1]), float3(rot[2])))

    @classmethod
    def look_at(cls, eye: np.ndarray, target: np.ndarray, yaw: float = 0.0) -> CameraPose:
        """Camera at ``eye`` looking at ``target`` (world, m), rolled by ``yaw`` rad about z."""
        eye = np.asarray(eye, dtype=float)
        z = np.asarray(target, dtype=float) - eye
        norm = np.linalg.norm(z)
        if norm < 1e-9:
            raise ValueError('CameraPose.look_at: eye and target must differ')
        z /= norm
        ref = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        x = np.cross(ref, z)
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        c, s = math.cos(yaw), math.sin(yaw)
        x, y = c * x + s * y, -s * x + c * y
        return cls.from_matrix(np.stack([x, y, z], axis=1), eye)

    def view_matrix(self) -> list[float]:
        """View matrix in OpenGL form (column-major, 16 floats) for ``p.getCameraImage``."""
        rot = self.R
        world_to_cv = np.eye(4)
        world_to_cv[:3, :3] = rot.T
        world_to_cv[:3, 3] = -rot.T @ self.t
        view = np.diag([1.0, -1.0, -1.0, 1.0]) @ world_to_cv
        return [float(v) for v in view.T.flatten()]

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return {'position': list(self.position), 'rotation': [list(r) for r in self.rotation]}

    @classmethod
    def from_dict(cls, data: dict) -> CameraPose:
        """Inverse of :meth:`to_dict`."""
        return cls.from_matrix(np.asarray(data['rotation']), np.asarray(data['position']))


def sample_camera_pose(
    rng: np.random.Generator,
    target: tuple[float, float, float] = (0.0, 0.0, 0.0),
    distance: tuple[float, float] = (0.4, 0.8),
    max_tilt_deg: float = 25.0,
    target_jitter: float = 0.03,
    tilt_deg: tuple[float, float] | None = None,
) -> CameraPose:
    """Random camera looking down at ``target`` (world, m) from ``distance`` metres.

    Its optical axis is tilted from vertical within ``tilt_deg`` (lo, hi degrees; default
    (0, ``max_tilt_deg``)), uniform over the spherical band for small tilts, with a random
    azimuth and a random roll about the axis. The look-at point is ``target`` moved by up to
    ±``target_jitter`` m in x and y.
    """
    if not 0 < distance[0] <= distance[1]:
        raise ValueError(f'sample_camera_pose: distance must be 0 < lo <= hi (m), got {distance}')
    lo, hi = tilt_deg if tilt_deg is not None else (0.0, max_tilt_deg)
    if not 0.0 <= lo <= hi < 90.0:
        raise ValueError(f'sample_camera_pose: tilt must be 0 <= lo <= hi < 90 deg, got '
                         f'{(lo, hi)}')
    dist = rng.uniform(*distance)
    # sqrt of a uniform number: even density over the disc (band) of tilts; lo = 0 is written
    # as before so that earlier datasets regenerate bit for bit
    u = rng.random()
    if lo == 0.0:
        tilt = math.radians(hi) * math.sqrt(u)
    else:
        lo2, hi2 = math.radians(lo) ** 2, math.radians(hi) ** 2
        tilt = math.sqrt(lo2 + (hi2 - lo2) * u)
    azimuth = rng.uniform(-math.pi, math.pi)
    tgt = np.asarray(target, dtype=float) + np.append(rng.uniform(-1, 1, 2) * target_jitter, 0.0)
    eye = tgt + dist * np.array([math.sin(tilt) * math.cos(azimuth),
                                 math.sin(tilt) * math.sin(azimuth), math.cos(tilt)])
    return CameraPose.look_at(eye, tgt, yaw=rng.uniform(-math.pi, math.pi))


@dataclass(frozen=True)
class Lighting:
    """TinyRenderer lighting: direction (world, towards the light), colour, coefficients."""

    direction: tuple[float, float, float] = (0.0, 0.0, 1.0)
    colour: tuple[float, float, float] = (1.0, 1.0, 1.0)
    ambient: float = 0.6
    diffuse: float = 0.35
    specular: float = 0.05
    shadow: bool = False
    distance: float = 2.0

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return asdict(self)


def sample_lighting(rng: np.random.Generator) -> Lighting:
    """Random light from the upper hemisphere, warm-to-cool colour, varied contrast."""
    elev = rng.uniform(math.radians(35), math.radians(90))
    az = rng.uniform(-math.pi, math.pi)
    direction = (math.cos(elev) * math.cos(az), math.cos(elev) * math.sin(az), math.sin(elev))
    warmth = rng.uniform(-0.15, 0.15)
    colour = float3(np.clip((1.0 + warmth, 1.0, 1.0 - warmth), 0, 1))
    ambient = rng.uniform(0.35, 0.8)
    return Lighting(direction=direction, colour=colour, ambient=ambient,
                    diffuse=rng.uniform(0.2, 0.6), specular=rng.uniform(0.0, 0.3),
                    shadow=bool(rng.random() < 0.3), distance=rng.uniform(1.0, 3.0))


@dataclass
class RenderSettings:
    """Clip planes (m) and lighting of a render."""

    near: float = 0.05
    far: float = 3.0
    lighting: Lighting = field(default_factory=Lighting)


def render(
    client: int,
    intrinsics: CameraIntrinsics,
    cam_pose: CameraPose,
    settings: RenderSettings | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render with the TinyRenderer.

    Returns (rgb uint8 H×W×3, depth float32 H×W metres z-depth, seg int32 H×W body unique id,
    -1 for background). Depth beyond ``far`` is NaN.
    """
    import pybullet as p

    s = settings or RenderSettings()
    light = s.lighting
    _, _, rgba, zbuf, seg = p.getCameraImage(
        intrinsics.width, intrinsics.height,
        viewMatrix=cam_pose.view_matrix(),
        projectionMatrix=intrinsics.projection_matrix(s.near, s.far),
        lightDirection=list(light.direction), lightColor=list(light.colour),
        lightDistance=light.distance, shadow=int(light.shadow),
        lightAmbientCoeff=light.ambient, lightDiffuseCoeff=light.diffuse,
        lightSpecularCoeff=light.specular,
        renderer=p.ER_TINY_RENDERER, physicsClientId=client,
    )
    shape = (intrinsics.height, intrinsics.width)
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(shape + (4,))[..., :3].copy()
    zb = np.asarray(zbuf, dtype=np.float64).reshape(shape)
    depth = (s.far * s.near / (s.far - (s.far - s.near) * zb)).astype(np.float32)
    depth[zb >= 1.0] = np.nan
    seg_arr = np.asarray(seg, dtype=np.int64).reshape(shape)
    seg_arr = np.where(seg_arr >= 0, seg_arr & ((1 << 24) - 1), -1).astype(np.int32)
    return rgb, depth, seg_arr


def backproject(intrinsics: CameraIntrinsics, x: float, y: float, z: float) -> np.ndarray:
    """3D point (camera frame, m) of pixel (x, y) at z-depth ``z`` metres."""
    return np.array([(x - intrinsics.cx) * z / intrinsics.fx,
                     (y - intrinsics.cy) * z / intrinsics.fy, z])


def project(intrinsics: CameraIntrinsics, point_cam: np.ndarray) -> tuple[float, float]:
    """Pixel (x, y) of a 3D point in the camera frame (m); the point must have z > 0."""
    pt = np.asarray(point_cam, dtype=float)
    if pt[2] <= 0:
        raise ValueError(f'project: point must be in front of the camera (z > 0 m), got {pt}')
    return (intrinsics.fx * pt[0] / pt[2] + intrinsics.cx,
            intrinsics.fy * pt[1] / pt[2] + intrinsics.cy)
