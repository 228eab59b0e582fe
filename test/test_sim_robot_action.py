# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""A pick of a known box in simulation THROUGH the PickAndPlace action over DDS."""

from __future__ import annotations

import itertools
from typing import Any

from builtin_interfaces.msg import Time
from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.geometry.transforms import from_xyz_rpy, RigidTransform
from kufenet_grasp.nodes.grasp_executor import GraspExecutorNode
from kufenet_grasp.nodes.ros_conversions import pose_stamped
from kufenet_grasp.sim.panda import HOME_Q
from kufenet_grasp.sim.world import SimWorld, WorldConfig
from kufenet_msgs.action import PickAndPlace
from kufenet_msgs.msg import GraspRectangle
from node_fixtures import init_ros, Spinner, wait_for
import numpy as np
import pytest
from rclpy.action import ActionClient
from rclpy.node import Node

#: starts rclpy nodes and talks over DDS (make test-fast leaves it out)
pytestmark = pytest.mark.ros

#: the simulation's executor settings (as config/sim_world.yaml gives them)
EXECUTOR_PARAMS = {'tcp_offset.xyz': [0.0, 0.0, 0.005], 'workspace.min_xyz': [0.2, -0.4, 0.0],
                   'workspace.max_xyz': [0.8, 0.7, 0.6], 'max_grasp_age_s': 0.0}
BOX_YAW = 0.3
_names = itertools.count()


@pytest.fixture(scope='module')
def world():
    w = SimWorld(WorldConfig(seed=21, width=64, height=48, fx=62.0, fy=62.0, cx=31.5, cy=23.5))
    yield w
    w.close()


def _goal(world: SimWorld, box: int, stamp: Time) -> PickAndPlace.Goal:
    top = world.world_to_base(world.object_position(box) + [0.0, 0.0, 0.025])
    down = np.diag([1.0, -1.0, -1.0])
    grasp = RigidTransform(down @ from_xyz_rpy((0, 0, 0), (0, 0, -BOX_YAW)).rotation, top)
    rect = GraspRectangle(center_x=32.0, center_y=24.0, angle=BOX_YAW, opening_px=10.0,
                          jaw_px=5.0, quality=0.9, width_m=0.03, depth_m=0.6)
    rect.header.stamp = stamp
    rect.header.frame_id = 'camera_color_optical_frame'
    return PickAndPlace.Goal(use_grasp=True, grasp=rect,
                             grasp_pose=pose_stamped(grasp, 'base_link', stamp),
                             use_place_pose=True,
                             place_pose=pose_stamped(world.place_pose(0.2), 'base_link', stamp))


def test_box_is_picked_and_placed_through_the_action(world):
    init_ros()
    namespace = f'/simpick{next(_names)}'
    world.reset(seed=1)
    world.remove_objects(world.object_bodies())
    box = world.add_box((0.05, 0.03, 0.05), (0.03, 0.02), yaw_rad=BOX_YAW)
    executor = GraspExecutorNode(world.backend, parameter_defaults=dict(EXECUTOR_PARAMS),
                                 namespace=namespace)
    client = Node(f'sim_pick_client_{next(_names)}', namespace=namespace)
    action = ActionClient(client, PickAndPlace, 'kufenet/pick_and_place')
    feedback: list[Any] = []
    spinner = Spinner(executor, client)
    try:
        assert action.wait_for_server(timeout_sec=10.0)
        goal = _goal(world, box, client.get_clock().now().to_msg())
        sent = action.send_goal_async(goal, feedback_callback=lambda m: feedback.append(
            m.feedback.stage))
        assert wait_for(sent.done, 10.0) and sent.result().accepted
        done = sent.result().get_result_async()
        assert wait_for(done.done, 45.0), 'no result from the executor'
        result = done.result().result
        assert result.success, result.status.message
        assert result.status.code == GraspStatus.OK and result.failed_stage == ''
        # the last stage's feedback may arrive after the result, and rclpy's ActionClient
        # drops feedback of a finished goal: 'home' is checked by the arm's state below
        assert {'approach', 'close', 'lift', 'open'} <= set(feedback), feedback
        world.settle(120)
        assert world.placed_objects() == [box]
        assert np.allclose(world.backend.current_state(), HOME_Q, atol=0.02)
    finally:
        spinner.shutdown()
        client.destroy_node()
        executor.destroy_node()
