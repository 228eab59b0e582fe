# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Physics-checked labelling on a known box seen from straight above."""

import math

from kufenet_grasp.sim.camera import CameraIntrinsics, CameraPose, render
from kufenet_grasp.sim.gripper import MAX_OPENING, ParallelGripper
from kufenet_grasp.sim.labelling import (
    format_grasps,
    grasp_pose,
    ImageGrasp,
    label_grasps,
    LabelSettings,
    perturb,
)
import numpy as np
import pybullet as p
import pybullet_data
import pytest

HALF = (0.02, 0.045, 0.025)  # box half extents (m): 4 cm along x, 9 cm along y


@pytest.fixture()
def box_scene():
    cid = p.connect(p.DIRECT)
    p.setGravity(0, 0, -9.81, physicsClientId=cid)
    p.loadURDF(pybullet_data.getDataPath() + '/plane.urdf', physicsClientId=cid)
    col = p.createCollisionShape(p.GEOM_BOX, halfExtents=list(HALF), physicsClientId=cid)
    vis = p.createVisualShape(p.GEOM_BOX, halfExtents=list(HALF), physicsClientId=cid)
    box = p.createMultiBody(0.1, col, vis, [0, 0, HALF[2]], physicsClientId=cid)
    intr = CameraIntrinsics.from_fov(96, 96, 40.0)
    cam = CameraPose.look_at(np.array([0.0, 0.0, 0.5]), np.zeros(3), yaw=0.0)
    yield cid, box, intr, cam
    p.disconnect(cid)


def test_box_labels_are_physically_sensible(box_scene):
    cid, box, intr, cam = box_scene
    _, depth, seg = render(cid, intr, cam)
    gripper = ParallelGripper(cid)
    state = p.saveState(physicsClientId=cid)
    grasps, trials = label_grasps(cid, gripper, state, intr, cam, depth, seg, [box], 0.0,
                                  np.random.default_rng(0), LabelSettings(max_candidates=12))
    assert trials >= len(grasps) >= 1
    for g in grasps:
        assert seg[int(np.rint(g.y)), int(np.rint(g.x))] == box
        assert g.opening_m <= MAX_OPENING
        pose = grasp_pose(intr, cam, g)
        # the open gripper must span at least the box's narrowest width and the chord of
        # the box along its closing axis through the grasp centre
        closing = pose.rotation[:, 1]
        chord = min(2 * HALF[0] / max(abs(closing[0]), 1e-9),
                    2 * HALF[1] / max(abs(closing[1]), 1e-9))
        assert g.opening_m >= min(chord, 2 * HALF[1]) - 0.004
        assert g.opening_m >= 2 * HALF[0]
        assert math.isclose(g.opening, g.opening_m * intr.fx / g.z, rel_tol=1e-6)
        # approach along the optical axis (straight down), TCP below the box top
        assert np.allclose(pose.rotation[:, 2], [0, 0, -1], atol=1e-6)
        assert pose.position[2] < 2 * HALF[2]
    assert len(format_grasps(grasps).splitlines()) == len(grasps)


def test_grasp_pose_axes_follow_image_angle(box_scene):
    _, _, intr, cam = box_scene
    g = ImageGrasp(x=intr.cx, y=intr.cy, angle=math.pi / 4, opening=20, jaw=5, opening_m=0.05,
                   depth_m=0.02, z=0.45, body=0)
    pose = grasp_pose(intr, cam, g)
    expected = cam.R @ np.array([math.cos(g.angle), -math.sin(g.angle), 0.0])
    assert np.allclose(pose.rotation[:, 1], expected)
    assert np.allclose(pose.rotation.T @ pose.rotation, np.eye(3), atol=1e-9)
    assert np.allclose(pose.position, cam.t + cam.R[:, 2] * 0.47, atol=1e-9)
    moved = perturb(g, np.random.default_rng(0), intr.fx, 0.002, 3.0)
    assert abs(moved.x - g.x) <= 0.002 * intr.fx / g.z
    assert abs(moved.angle - g.angle) <= math.radians(3.0) + 1e-12
