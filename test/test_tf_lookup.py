# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""CameraToBase with tf2_ros: the listener gets its own node and thread (tf2_ros is faked).

tf2_ros is not installable here; a stand-in module records how the project calls it, so the
glue (node name, namespace, spin_thread, clean shutdown) is tested against tf2_ros' documented
signature ``TransformListener(buffer, node, *, spin_thread=False)``.
"""

from __future__ import annotations

import sys
import types

from kufenet_grasp.nodes.tf_lookup import CameraToBase
from node_fixtures import init_ros
import pytest
from rclpy.node import Node

#: starts rclpy nodes and talks over DDS (make test-fast leaves it out)
pytestmark = pytest.mark.ros


class _Executor:

    def __init__(self) -> None:
        self.shut_down = False

    def shutdown(self) -> None:
        self.shut_down = True


class _Thread:

    def __init__(self) -> None:
        self.joined = False

    def join(self, timeout: float | None = None) -> None:
        self.joined = True


class _Listener:
    made: list[_Listener] = []

    def __init__(self, buffer, node, *, spin_thread: bool = False) -> None:
        self.buffer, self.node, self.spin_thread = buffer, node, spin_thread
        self.executor, self.dedicated_listener_thread = _Executor(), _Thread()
        _Listener.made.append(self)


@pytest.fixture
def fake_tf2(monkeypatch):
    module = types.ModuleType('tf2_ros')
    module.Buffer = type('Buffer', (), {})
    module.TransformListener = _Listener
    monkeypatch.setitem(sys.modules, 'tf2_ros', module)
    _Listener.made.clear()
    return module


def test_tf_listener_runs_on_its_own_node_and_thread_and_stops_cleanly(fake_tf2):
    init_ros()
    node = Node('grasp_detector', namespace='/arm1')
    try:
        lookup = CameraToBase(node, 'base_link')
        assert lookup.mode == 'tf2'
        (listener,) = _Listener.made
        assert listener.spin_thread is True
        assert listener.node is not node  # not the detector's node: its executor may be busy
        assert listener.node.get_fully_qualified_name() == '/arm1/grasp_detector_tf'
        lookup.close()
        assert listener.executor.shut_down and listener.dedicated_listener_thread.joined
        assert lookup.mode == 'none'
    finally:
        node.destroy_node()


def test_a_static_mount_needs_no_tf_listener(fake_tf2):
    from kufenet_grasp.geometry.transforms import from_xyz_quat
    from kufenet_grasp.nodes.tf_lookup import StaticCameraMount

    init_ros()
    node = Node('grasp_detector_static')
    try:
        mount = StaticCameraMount(from_xyz_quat([0.5, 0.0, 0.6], [0, 0, 0, 1]), 'base_link')
        lookup = CameraToBase(node, 'base_link', mount)
        assert lookup.mode == 'static' and not _Listener.made
        lookup.close()
    finally:
        node.destroy_node()
