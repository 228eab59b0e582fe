# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The sim_world node over DDS: the three camera topics as the RealSense driver publishes them."""

from __future__ import annotations

import itertools
import json
import threading

from kufenet_grasp.nodes.sim_world import SimWorldNode
from kufenet_grasp.runtime.image_encoding import image_to_numpy
from kufenet_grasp.sim import assets
from node_fixtures import call_service, init_ros, Spinner, wait_for
import numpy as np
import pytest
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_srvs.srv import Trigger

#: starts rclpy nodes and talks over DDS (make test-fast leaves it out)
pytestmark = pytest.mark.ros

SMALL = {'width': 96, 'height': 72, 'fx': 92.0, 'fy': 92.0, 'cx': 47.5, 'cy': 35.5,
         'publish_rate_hz': 10.0, 'host_executor': False, 'seed': 2}
_names = itertools.count()


class Listener(Node):
    """Records the camera topics of one namespace."""

    def __init__(self, namespace: str) -> None:
        super().__init__(f'camera_listener_{next(_names)}', namespace=namespace)
        self.lock = threading.Lock()
        self.got: dict[str, list] = {'color': [], 'depth': [], 'info': []}
        for key, kind, topic in (('color', Image, 'color/image_raw'),
                                 ('depth', Image, 'depth/image_raw'),
                                 ('info', CameraInfo, 'color/camera_info')):
            self.create_subscription(kind, topic, lambda m, k=key: self._on(k, m),
                                     qos_profile_sensor_data)

    def _on(self, key: str, msg: object) -> None:
        with self.lock:
            self.got[key].append(msg)

    def complete_stamps(self) -> list:
        """Stamps for which all three messages arrived."""
        with self.lock:
            sets = [{(m.header.stamp.sec, m.header.stamp.nanosec) for m in v}
                    for v in self.got.values()]
        return sorted(sets[0] & sets[1] & sets[2])


@pytest.fixture(scope='module')
def running():
    init_ros()
    namespace = f'/simcam{next(_names)}'
    sim = SimWorldNode(parameter_defaults=dict(SMALL), namespace=namespace)
    listener = Listener(namespace)
    spinner = Spinner(sim, listener)
    yield sim, listener, spinner
    spinner.shutdown()
    listener.destroy_node()
    sim.destroy_node()


def test_three_topics_share_stamp_frame_and_size(running):
    _, listener, _ = running
    assert wait_for(lambda: len(listener.complete_stamps()) >= 2, 20.0)
    stamp = listener.complete_stamps()[-1]
    with listener.lock:
        msgs = {k: next(m for m in v if (m.header.stamp.sec, m.header.stamp.nanosec) == stamp)
                for k, v in listener.got.items()}
    assert {m.header.frame_id for m in msgs.values()} == {'camera_color_optical_frame'}
    color, depth, info = msgs['color'], msgs['depth'], msgs['info']
    assert (color.encoding, depth.encoding) == ('rgb8', '16UC1')
    assert (color.width, color.height) == (depth.width, depth.height) == (info.width,
                                                                          info.height) == (96, 72)
    assert info.distortion_model == 'plumb_bob' and list(info.d) == [0.0] * 5
    assert list(info.k) == pytest.approx([92.0, 0, 47.5, 0, 92.0, 35.5, 0, 0, 1])
    assert list(info.p) == pytest.approx([92.0, 0, 47.5, 0, 0, 92.0, 35.5, 0, 0, 0, 1, 0])
    metres = image_to_numpy(depth)
    valid = np.isfinite(metres)
    assert valid.mean() > 0.5
    # the table is 0.65 m below the camera; objects only come closer
    assert np.nanmedian(metres) == pytest.approx(0.65, abs=0.01)
    assert np.nanmax(metres) < 0.68


def test_reset_and_check_services(running):
    sim, _, spinner = running
    client_node = Node(f'sim_client_{next(_names)}', namespace=sim.get_namespace())
    spinner.add(client_node)
    reset = client_node.create_client(Trigger, 'sim_world/reset')
    check = client_node.create_client(Trigger, 'sim_world/check')
    answer = call_service(client_node, reset, Trigger.Request())
    assert answer is not None and answer.success
    ids = json.loads(answer.message)['objects']
    assert ids and set(ids) <= set(assets.split_object_ids()['test'])
    state = call_service(client_node, check, Trigger.Request())
    assert state is not None and not state.success  # nothing placed yet
    assert json.loads(state.message)['placed'] == []
    spinner.remove(client_node)
    client_node.destroy_node()


def test_bad_rate_is_refused():
    init_ros()
    with pytest.raises(ValueError, match='publish_rate_hz'):
        SimWorldNode(parameter_defaults={**SMALL, 'publish_rate_hz': 0.0},
                     namespace=f'/bad{next(_names)}')


def test_publish_clock_advances_simulation_time():
    from rosgraph_msgs.msg import Clock

    init_ros()
    namespace = f'/simclock{next(_names)}'
    sim = SimWorldNode(parameter_defaults={**SMALL, 'publish_clock': True,
                                           'publish_rate_hz': 1.0}, namespace=namespace)
    probe = Node(f'clock_probe_{next(_names)}', namespace=namespace)
    stamps: list[float] = []
    probe.create_subscription(Clock, '/clock', lambda m: stamps.append(
        m.clock.sec + m.clock.nanosec * 1e-9), 10)
    spinner = Spinner(sim, probe)
    try:
        assert wait_for(lambda: len(stamps) > 20 and stamps[-1] - stamps[0] > 0.1, 30.0), \
            f'/clock: {len(stamps)} messages, {stamps[:3]} ... {stamps[-3:]}'
        seen = list(stamps)
        backwards = [(a, b) for a, b in itertools.pairwise(seen) if b < a]
        assert not backwards, f'/clock went backwards: {backwards[:3]}'
        # /clock carries sec + nanosec; compare with a nanosecond of slack for the float sum.
        assert sim.world.sim_time_s >= seen[-1] - 1e-9
    finally:
        spinner.shutdown()
        probe.destroy_node()
        sim.destroy_node()


def test_destroying_the_node_while_frames_are_sent_from_another_thread_is_clean():
    # make demo destroys sim_world while an executor thread may be inside publish_frame:
    # the frame in flight finishes and later calls do nothing (no InvalidHandle)
    init_ros()
    sim = SimWorldNode(parameter_defaults={**SMALL, 'publish_rate_hz': 1.0},
                       namespace=f'/simstop{next(_names)}')
    errors: list[BaseException] = []
    stop = threading.Event()

    def send() -> None:
        while not stop.is_set():
            try:
                sim.publish_frame()
            except BaseException as exc:  # noqa: B902 - the test reports whatever escaped
                errors.append(exc)
                return

    sender = threading.Thread(target=send)
    sender.start()
    assert wait_for(lambda: sim.frames_published >= 2, 30.0)
    sim.destroy_node()
    published = sim.frames_published
    stop.set()
    sender.join(timeout=10.0)
    assert not errors, f'publish_frame raised after destroy_node: {errors[0]!r}'
    sim.publish_frame()  # after destruction: returns quietly
    assert sim.frames_published == published
