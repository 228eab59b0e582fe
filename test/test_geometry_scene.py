# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Analytic RGB-D scenes for the geometry and detector tests, and checks of the renderer.

A table plane z = 0 in the base frame with one box on it, seen by a pinhole camera whose
pose T_base_camera is known; the depth image is made by ray-casting that geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.transforms import RigidTransform
import numpy as np


def look_at(eye: np.ndarray, target: np.ndarray,
            image_up: tuple[float, float, float] = (1.0, 0.0, 0.0)) -> RigidTransform:
    """T_base_camera of an optical frame at ``eye`` looking at ``target`` (base frame, m).

    ``image_up`` is the base-frame direction that appears as "up" (-v) in the image.
    """
    z = np.asarray(target, float) - np.asarray(eye, float)
    z /= np.linalg.norm(z)
    up = np.asarray(image_up, float)
    y = -(up - up.dot(z) * z)
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    return RigidTransform(np.column_stack([x, y, z]), np.asarray(eye, float))


@dataclass
class BoxScene:
    """A box (long × short × height m, yaw rad) centred at ``xy`` on the table z = 0."""

    xy: tuple[float, float] = (0.02, -0.01)
    size: tuple[float, float, float] = (0.10, 0.05, 0.04)
    yaw: float = 0.5

    @property
    def rotation(self) -> np.ndarray:
        """Box axes (columns: long, short, up) in the base frame."""
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    @property
    def long_axis(self) -> np.ndarray:
        return self.rotation[:, 0]

    @property
    def short_axis(self) -> np.ndarray:
        return self.rotation[:, 1]

    @property
    def top_centre(self) -> np.ndarray:
        return np.array([self.xy[0], self.xy[1], self.size[2]])

    def render_depth(self, camera: PinholeCamera, t_base_cam: RigidTransform) -> np.ndarray:
        """Optical-axis depth (float32 H×W m, NaN where nothing is hit) by ray casting."""
        u, v = np.meshgrid(np.arange(camera.width), np.arange(camera.height))
        rays = np.stack([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy,
                         np.ones(u.shape)], axis=-1)  # z component 1: ray parameter = depth
        origin = t_base_cam.translation
        dirs = rays @ t_base_cam.rotation.T
        with np.errstate(divide='ignore', invalid='ignore'):
            t_plane = -origin[2] / dirs[..., 2]
        t_plane[~(t_plane > 0)] = np.inf
        # slab intersection with the oriented box, in box coordinates
        centre = np.array([self.xy[0], self.xy[1], self.size[2] / 2])
        o_box = self.rotation.T @ (origin - centre)
        d_box = dirs @ self.rotation
        half = np.array(self.size) / 2
        with np.errstate(divide='ignore', invalid='ignore'):
            t1 = (-half - o_box) / d_box
            t2 = (half - o_box) / d_box
        t_near = np.nanmax(np.minimum(t1, t2), axis=-1)
        t_far = np.nanmin(np.maximum(t1, t2), axis=-1)
        t_box = np.where((t_near <= t_far) & (t_near > 0), t_near, np.inf)
        depth = np.minimum(t_plane, t_box)
        depth[~np.isfinite(depth)] = np.nan
        return depth.astype(np.float32)


def straight_down(height: float = 0.6) -> RigidTransform:
    """Return a camera ``height`` m above the origin looking straight down."""
    return look_at(np.array([0.0, 0.0, height]), np.zeros(3))


def tilted(angle_deg: float = 30.0, distance: float = 0.6) -> RigidTransform:
    """Place a camera ``distance`` m from the origin, tilted ``angle_deg`` from vertical (y-z)."""
    a = np.radians(angle_deg)
    eye = np.array([0.0, -distance * np.sin(a), distance * np.cos(a)])
    return look_at(eye, np.zeros(3))


CAMERA = PinholeCamera(600.0, 600.0, 319.5, 239.5, 640, 480, 'camera_color_optical_frame')


def test_renderer_sees_table_and_box_top_straight_down():
    scene = BoxScene()
    depth = scene.render_depth(CAMERA, straight_down(0.6))
    assert np.isfinite(depth).all()
    assert depth.max() > 0.6 - 1e-6
    assert abs(depth.min() - (0.6 - scene.size[2])) < 1e-5
    uv = CAMERA.project(straight_down(0.6).inverse().apply(scene.top_centre))
    assert abs(depth[round(uv[1]), round(uv[0])] - 0.56) < 1e-5


def test_renderer_tilted_depth_lies_on_table_or_box():
    t = tilted(30.0, 0.6)
    scene = BoxScene()
    depth = scene.render_depth(CAMERA, t)
    v, u = np.mgrid[0:480:7, 0:640:7]
    points = t.apply(CAMERA.deproject(u, v, depth[v, u]))
    heights = points[..., 2]
    on_table = np.abs(heights) < 1e-4
    on_box = np.abs(heights - scene.size[2]) < 1e-4
    local = (points[..., :2] - scene.xy) @ scene.rotation[:2, :2]
    inside = (np.abs(local[..., 0]) <= scene.size[0] / 2 + 1e-6) & \
        (np.abs(local[..., 1]) <= scene.size[1] / 2 + 1e-6)
    sides = ~(on_table | on_box)
    assert on_table.mean() > 0.8 and on_box.sum() > 20
    assert np.all(inside[on_box])
    assert np.all(inside[sides])  # remaining pixels hit the box's side faces
    assert depth[:, 600].mean() != depth[:, 40].mean()
