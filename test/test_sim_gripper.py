# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Parallel-jaw gripper: a known box is grasped, empty air and a too-narrow opening are not."""

from kufenet_grasp.sim.gripper import GraspPose, ParallelGripper, try_grasp
import numpy as np
import pybullet as p
import pybullet_data
import pytest

DOWN = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])  # approach = -z


@pytest.fixture()
def world():
    cid = p.connect(p.DIRECT)
    p.setGravity(0, 0, -9.81, physicsClientId=cid)
    p.loadURDF(pybullet_data.getDataPath() + '/plane.urdf', physicsClientId=cid)
    col = p.createCollisionShape(p.GEOM_BOX, halfExtents=[0.02, 0.025, 0.03],
                                 physicsClientId=cid)
    box = p.createMultiBody(0.1, col, -1, [0, 0, 0.03], physicsClientId=cid)
    for _ in range(30):
        p.stepSimulation(physicsClientId=cid)
    gripper = ParallelGripper(cid)
    state = p.saveState(physicsClientId=cid)
    yield cid, box, gripper, state
    p.disconnect(cid)


def test_box_is_grasped_and_lifted(world):
    cid, box, gripper, state = world
    p.restoreState(state, physicsClientId=cid)
    # closing axis along world y where the box is 5 cm wide; 7 cm opening
    assert try_grasp(cid, GraspPose(np.array([0.0, 0.0, 0.035]), DOWN), 0.07,
                     gripper=gripper, objects=[box])
    # rotated 90 degrees: closing along x where the box is 4 cm wide
    rot = DOWN @ np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    p.restoreState(state, physicsClientId=cid)
    assert try_grasp(cid, GraspPose(np.array([0.0, 0.0, 0.035]), rot), 0.06,
                     gripper=gripper, objects=[box])


def test_empty_air_and_bad_grasps_fail(world):
    cid, box, gripper, state = world
    p.restoreState(state, physicsClientId=cid)
    assert not try_grasp(cid, GraspPose(np.array([0.25, 0.25, 0.03]), DOWN), 0.07,
                         gripper=gripper, objects=[box])
    p.restoreState(state, physicsClientId=cid)
    # opening narrower than the box: the fingers land on top of it
    assert not try_grasp(cid, GraspPose(np.array([0.0, 0.0, 0.035]), DOWN), 0.04,
                         gripper=gripper, objects=[box])
    with pytest.raises(ValueError, match='opening'):
        try_grasp(cid, GraspPose(np.zeros(3), DOWN), 0.5, gripper=gripper)
    with pytest.raises(ValueError, match='rotation'):
        GraspPose(np.zeros(3), np.eye(2))
