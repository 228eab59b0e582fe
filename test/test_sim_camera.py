# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Camera model and rendering: metric z-depth and pixel projection match known geometry."""

import math

from kufenet_grasp.sim.camera import (
    CameraIntrinsics,
    CameraPose,
    project,
    render,
    RenderSettings,
    sample_camera_pose,
    sample_lighting,
)
import numpy as np
import pybullet as p
import pybullet_data
import pytest


@pytest.fixture()
def client():
    cid = p.connect(p.DIRECT)
    p.loadURDF(pybullet_data.getDataPath() + '/plane.urdf', physicsClientId=cid)
    yield cid
    p.disconnect(cid)


def test_plane_depth_matches_camera_height(client):
    intr = CameraIntrinsics.from_fov(64, 48, 50.0)
    height = 0.6
    cam = CameraPose.look_at(np.array([0.0, 0.0, height]), np.array([0.0, 0.0, 0.0]), yaw=0.3)
    rgb, depth, seg = render(client, intr, cam)
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    assert depth.dtype == np.float32
    # z-depth (not ray length): constant over the whole image for a plane facing the camera
    assert np.all(np.abs(depth - height) < 0.003)
    assert np.all(seg == 0)


def test_tilted_plane_depth_is_z_depth(client):
    intr = CameraIntrinsics.from_fov(40, 40, 40.0)
    tilt = math.radians(20)
    eye = np.array([0.5 * math.sin(tilt), 0.0, 0.5 * math.cos(tilt)])
    cam = CameraPose.look_at(eye, np.zeros(3))
    _, depth, _ = render(client, intr, cam)
    # ray through each pixel hits z=0 at distance s along the ray; z-depth = s * (ray . axis)
    ys, xs = np.mgrid[0:40, 0:40]
    rays_cam = np.stack([(xs - intr.cx) / intr.fx, (ys - intr.cy) / intr.fy,
                         np.ones_like(xs, dtype=float)], axis=-1)
    rays_world = rays_cam @ cam.R.T
    z_depth = -eye[2] / rays_world[..., 2]
    assert np.allclose(depth, z_depth, atol=0.004)


def test_projection_of_known_point(client):
    sphere = p.createVisualShape(p.GEOM_SPHERE, radius=0.01, physicsClientId=client)
    target = np.array([0.05, -0.03, 0.01])
    body = p.createMultiBody(0, -1, sphere, target.tolist(), physicsClientId=client)
    intr = CameraIntrinsics(80, 60, 70.0, 70.0, 41.0, 28.0)
    cam = CameraPose.look_at(np.array([0.1, 0.1, 0.5]), np.zeros(3), yaw=1.0)
    _, _, seg = render(client, intr, cam)
    ys, xs = np.nonzero(seg == body)
    assert xs.size > 3
    u, v = project(intr, cam.R.T @ (target - cam.t))
    assert abs(xs.mean() - u) < 1.0 and abs(ys.mean() - v) < 1.0


def test_sampled_poses_look_down_within_tilt():
    rng = np.random.default_rng(3)
    for _ in range(50):
        cam = sample_camera_pose(rng, distance=(0.4, 0.8), max_tilt_deg=25.0)
        axis = cam.R[:, 2]
        assert math.degrees(math.acos(-axis[2])) <= 25.0 + 1e-6
        assert np.allclose(cam.R.T @ cam.R, np.eye(3), atol=1e-9)
        assert 0.4 * math.cos(math.radians(25)) - 0.01 <= cam.t[2] <= 0.81
        light = sample_lighting(rng)
        assert light.direction[2] > 0


def test_bad_intrinsics_raise():
    with pytest.raises(ValueError, match='fx'):
        CameraIntrinsics(10, 10, 0.0, 1.0, 5.0, 5.0)
    with pytest.raises(ValueError, match='near'):
        CameraIntrinsics.from_fov(10, 10, 40).projection_matrix(1.0, 0.5)
    with pytest.raises(ValueError, match='hfov'):
        CameraIntrinsics.from_fov(10, 10, 0.5)
    assert RenderSettings().near < RenderSettings().far
