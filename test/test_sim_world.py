# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The simulated world: scene contents, the camera's depth and noise, object checks, config."""

from __future__ import annotations

import math

from kufenet_grasp.geometry.calibration import load_static_mount
from kufenet_grasp.sim import assets
from kufenet_grasp.sim.world import camera_in_base, SimWorld, SimWorldError, WorldConfig
import numpy as np
import pytest

CALIBRATION = 'config/calibration/sim_camera.yaml'


@pytest.fixture(scope='module')
def world():
    w = SimWorld(WorldConfig(seed=11, width=160, height=120, fx=154.0, fy=154.0, cx=79.5,
                             cy=59.5))
    yield w
    w.close()


def test_default_objects_are_held_out_test_objects(world):
    test_ids = set(assets.split_object_ids()['test'])
    for seed in (1, 2):
        ids = world.reset(seed=seed)
        assert len(ids) == 1 and set(ids) <= test_ids
        assert len(world.workspace_objects()) == 1
    ids = world.reset(seed=3, scene_type='clutter')
    assert 1 <= len(ids) <= world.config.clutter_count and set(ids) <= test_ids


def test_camera_depth_of_the_table(world):
    world.reset(seed=4)
    world.remove_objects(world.object_bodies())
    noiseless = world.capture()
    height = world.config.camera_xyz[2]
    assert np.nanmedian(noiseless.true_depth_m) == pytest.approx(height, abs=0.002)
    assert np.nanmax(np.abs(noiseless.true_depth_m - height)) < 0.003
    noisy = noiseless.depth_m
    valid = np.isfinite(noisy)
    assert 0.8 < valid.mean() < 1.0  # the noise model leaves some holes
    assert np.median(noisy[valid]) == pytest.approx(height, abs=0.004)
    mm = noiseless.depth_mm()
    assert mm.dtype == np.uint16
    assert np.all(mm[~valid] == 0)
    assert np.median(mm[valid]) == pytest.approx(height * 1000, abs=4)


def test_camera_sees_a_box_top_at_its_height(world):
    world.reset(seed=4)
    world.remove_objects(world.object_bodies())
    world.add_box((0.06, 0.06, 0.04), (0.0, 0.0))
    frame = world.capture()
    h, w = frame.true_depth_m.shape
    centre = frame.true_depth_m[h // 2 - 2:h // 2 + 3, w // 2 - 2:w // 2 + 3]
    assert np.allclose(centre, world.config.camera_xyz[2] - 0.04, atol=0.003)
    assert frame.rgb.shape == (h, w, 3) and frame.rgb.dtype == np.uint8


def test_camera_in_base_matches_calibration_file(world):
    mount = load_static_mount(CALIBRATION)
    default = WorldConfig()
    assert mount.parent_frame == default.base_frame
    assert mount.child_frame == default.camera_frame
    assert mount.transform.is_close(camera_in_base(default), 1e-6)
    # the optical axis points straight down at the table
    assert np.allclose(world.camera_in_base().rotation[:, 2], [0, 0, -1])


def test_lift_and_place_checks(world):
    world.reset(seed=5)
    world.remove_objects(world.object_bodies())
    box = world.add_box((0.04, 0.04, 0.04), (0.05, 0.0))
    assert world.lifted_objects() == [] and world.placed_objects() == []
    assert world.workspace_objects() == [box]
    import pybullet as p

    tray = world.config.tray_xyz
    p.resetBasePositionAndOrientation(box, [tray[0], tray[1], 0.1], [0, 0, 0, 1],
                                      physicsClientId=world.client)
    assert world.lifted_objects() == [box]
    world.settle(240)
    assert world.placed_objects() == [box] and world.workspace_objects() == []
    world.remove_objects([box])
    assert world.object_bodies() == []


def test_sim_time_advances_and_survives_reset(world):
    before = world.sim_time_s
    world.settle(24)
    assert world.sim_time_s == pytest.approx(before + 0.1)
    world.reset(seed=6)
    assert world.sim_time_s >= before + 0.1 - 1e-9


@pytest.mark.parametrize('bad, match', [
    ({'scene_type': 'pile'}, 'scene_type'),
    ({'object_split': 'holdout'}, 'object_split'),
    ({'clutter_count': 0}, 'clutter_count'),
    ({'camera_xyz': (0.0, math.nan, 1.0)}, 'camera_xyz'),
    ({'fx': -1.0}, 'fx'),
])
def test_bad_config_is_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        WorldConfig(**bad)


def test_config_from_dict_rejects_unknown_keys():
    assert WorldConfig.from_dict({'seed': 3, 'camera_xyz': [0, 0, 0.7]}).camera_xyz == (0, 0, 0.7)
    with pytest.raises(SimWorldError, match='unknown world settings'):
        WorldConfig.from_dict({'sead': 3})


def test_sim_world_yaml_matches_world_defaults_and_calibration():
    from kufenet_grasp.nodes.sim_world import NODE_PARAMETERS, WORLD_PARAMETERS
    import yaml

    with open('config/sim_world.yaml') as stream:
        data = yaml.safe_load(stream)
    sim = data['/**/sim_world']['ros__parameters']
    assert set(sim) == set(WORLD_PARAMETERS) | set(NODE_PARAMETERS)
    config = WorldConfig.from_dict({k: v for k, v in sim.items() if k in WORLD_PARAMETERS})
    assert config == WorldConfig()
    static = data['/**/grasp_detector']['ros__parameters']['static_transform']
    mount = load_static_mount(CALIBRATION)
    assert static['enabled'] is True
    assert np.allclose(static['translation'], mount.transform.translation)
    assert np.allclose(static['rotation'], mount.transform.quaternion_xyzw)
    executor = data['/**/grasp_executor']['ros__parameters']
    # the executor's place pose lies above the tray centre
    tray_in_base = np.asarray(config.tray_xyz) - np.asarray(config.base_xyz)
    assert np.allclose(executor['place']['xyz'][:2], tray_in_base[:2])
