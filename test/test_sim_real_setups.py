# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Real set-ups in the synthetic data: cameras, depth sensors, object families and textures."""

import json
import math
from pathlib import Path

from kufenet_grasp.cli.main import main as kufenet_main
from kufenet_grasp.sim import assets, shapes
from kufenet_grasp.sim.camera import CameraIntrinsics, sample_camera_pose
from kufenet_grasp.sim.datagen import DatagenConfig, DatagenError
from kufenet_grasp.sim.depth_sensors import KINECT_MIN_DISTANCE, sample_depth_sensor, SENSORS
from kufenet_grasp.sim.scene import build_scene, NUM_TEXTURES, ObjectSpec, SceneSpec, texture_file
from kufenet_grasp.sim.structured_light import (
    add_structured_light_noise,
    axial_sigma,
    StructuredLightNoise,
)
import numpy as np
import pybullet as p
import pytest

#: no dark or edge dropouts, to look at one effect at a time
PLAIN = StructuredLightNoise(dark_dropout=0.0, edge_dropout=0.0)


@pytest.fixture(scope='module')
def client():
    cid = p.connect(p.DIRECT)
    yield cid
    p.disconnect(cid)


def test_camera_tilt_and_distance_ranges():
    rng = np.random.default_rng(0)
    tilts, dists = [], []
    for _ in range(300):
        cam = sample_camera_pose(rng, distance=(0.3, 1.5), tilt_deg=(20.0, 50.0),
                                 target_jitter=0.0)
        axis = cam.R[:, 2]
        tilts.append(math.degrees(math.acos(-axis[2])))
        dists.append(float(np.linalg.norm(cam.t)))  # target at the origin
    assert 20.0 - 1e-6 <= min(tilts) < 23.0 and 47.0 < max(tilts) <= 50.0 + 1e-6
    assert 0.3 - 1e-9 <= min(dists) < 0.4 and 1.4 < max(dists) <= 1.5 + 1e-9
    fixed = sample_camera_pose(rng, distance=(1.0, 1.0), tilt_deg=(45.0, 45.0))
    assert math.isclose(math.degrees(math.acos(-fixed.R[2, 2])), 45.0, abs_tol=1e-6)
    with pytest.raises(ValueError, match='tilt'):
        sample_camera_pose(rng, tilt_deg=(30.0, 10.0))


def test_tilt_range_from_zero_keeps_the_draws_of_a_maximum():
    a = sample_camera_pose(np.random.default_rng(3), max_tilt_deg=25.0)
    b = sample_camera_pose(np.random.default_rng(3), tilt_deg=(0.0, 25.0))
    assert a == b


def test_structured_light_axial_noise_and_quantisation():
    rng = np.random.default_rng(0)
    for z in (0.6, 1.0, 1.4):
        flat = np.full((200, 200), z, np.float32)
        noisy = add_structured_light_noise(flat, None, rng, PLAIN, fx=300.0)
        vals = noisy[np.isfinite(noisy)]
        assert vals.size > 0.99 * flat.size
        sigma = float(axial_sigma(np.float32(z), np.float32(0.0), PLAIN))
        step = z * z / (PLAIN.sensor_fx * PLAIN.baseline * PLAIN.subpixel)
        # Gaussian noise plus uniform quantisation error
        assert math.isclose(vals.std(), math.hypot(sigma, step / math.sqrt(12)), rel_tol=0.15)
        assert abs(vals.mean() - z) < 0.002
        disparity_steps = PLAIN.sensor_fx * PLAIN.baseline * PLAIN.subpixel / vals
        np.testing.assert_allclose(disparity_steps, np.round(disparity_steps), atol=1e-2)
    # Nguyen et al.: 1.2 mm + 1.9 mm (z - 0.4)^2 at normal incidence
    assert math.isclose(float(axial_sigma(np.float32(1.4), np.float32(0.0), PLAIN)),
                        0.0012 + 0.0019, rel_tol=1e-5)


def test_structured_light_shadows_holes_and_range():
    rng = np.random.default_rng(1)
    depth = np.full((120, 160), 1.2, np.float32)
    depth[40:80, 60:100] = 0.9  # a box 30 cm in front of the table
    noisy = add_structured_light_noise(depth, None, rng, PLAIN, fx=300.0)
    row = np.isnan(noisy[60])
    # the projector at +x leaves a shadow on the table left of the box, none on its right
    assert row[50:60].sum() >= 4 and row[101:110].sum() == 0
    assert not np.isnan(noisy[60, 65:95]).any()
    dark = np.full((120, 160, 3), 200, np.uint8)
    dark[:, :40] = 5
    flat = np.full((120, 160), 1.0, np.float32)
    holes = np.isnan(add_structured_light_noise(flat, dark, rng, StructuredLightNoise(
        edge_dropout=0.0, dark_dropout=0.7, dark_threshold=0.08), fx=300.0))
    assert 0.6 < holes[:, :40].mean() < 0.8 and holes[:, 40:].mean() < 0.01
    assert np.isnan(add_structured_light_noise(np.full((8, 8), 0.3, np.float32), None, rng,
                                               PLAIN)).all()  # nearer than its range


def test_structured_light_drops_steep_surfaces():
    # a plane seen at about 80 degrees of incidence: z grows fast along x
    h, w, fx = 60, 80, 100.0
    xs = (np.arange(w) - (w - 1) / 2) / fx
    slope = math.tan(math.radians(80.0))
    z = 1.0 / (1.0 - slope * xs[None, :] * 0.2)
    depth = np.repeat(z, h, axis=0).astype(np.float32)
    steep = np.isnan(add_structured_light_noise(depth, None, np.random.default_rng(2),
                                                StructuredLightNoise(
                                                    edge_dropout=0.0, dark_dropout=0.0,
                                                    edge_threshold=1.0, range_m=(0.1, 9.0),
                                                    max_incidence_deg=30.0), fx=fx))
    assert steep[5:-5, 5:-5].mean() > 0.9


def test_sensor_draw_and_near_cameras():
    rng = np.random.default_rng(0)
    far = [sample_depth_sensor(rng, 1.0).model for _ in range(600)]
    shares = [far.count(m) / len(far) for m in SENSORS]
    np.testing.assert_allclose(shares, (0.4, 0.4, 0.2), atol=0.06)
    near = {sample_depth_sensor(rng, KINECT_MIN_DISTANCE - 0.1).model for _ in range(200)}
    assert near == {'realsense_d4xx', 'perfect'}
    drawn = sample_depth_sensor(np.random.default_rng(5), 1.0, (1.0, 0.0, 0.0))
    assert json.loads(json.dumps(drawn.to_dict()))['params']['baseline'] == 0.075


def test_catalogue_splits_are_disjoint_and_cover_every_family():
    cat = assets.split_catalogue()
    seen: dict[int, str] = {}
    for split, families in cat.items():
        for family, ids in families.items():
            assert ids, (split, family)
            for i in ids:
                assert assets.object_family(i) == family
                assert seen.setdefault(i, split) == split
                assert assets.object_split(i) == split
    total = assets.NUM_RANDOM_URDFS + shapes.NUM_SHAPES + len(assets.MESHES)
    assert len(seen) == total
    assert cat['train']['random_urdf'] == assets.split_object_ids()['train']  # unchanged
    with pytest.raises(ValueError, match='catalogue id'):
        assets.object_family(5000)


def test_sample_object_ids_mixes_the_families():
    cat = assets.split_catalogue()['train']
    rng = np.random.default_rng(0)
    ids = [i for _ in range(300) for i in assets.sample_object_ids(rng, cat, 2)]
    shares = [np.mean([assets.object_family(i) == f for i in ids]) for f in assets.FAMILIES]
    np.testing.assert_allclose(shares, [1 / 3] * 3, atol=0.06)
    only = assets.sample_object_ids(rng, cat, 4, family_weights=(0.0, 1.0, 0.0))
    assert len(set(only)) == 4 and all(assets.object_family(i) == 'procedural' for i in only)


def test_procedural_shapes_are_deterministic_and_fit_the_gripper():
    assert shapes.shape_parts(17) == shapes.shape_parts(17)
    assert shapes.shape_parts(17) != shapes.shape_parts(25)
    assert {shapes.shape_kind(k) for k in range(16)} == set(shapes.KINDS)
    for k in range(0, shapes.NUM_SHAPES, 7):
        parts = shapes.shape_parts(k)
        np.testing.assert_allclose(shapes.centroid(parts), 0.0, atol=1e-9)
        lo, hi = shapes.MASS_RANGE
        assert lo <= shapes.mass_of(parts) <= hi
        for part in parts:
            assert part.geom in ('box', 'cylinder', 'capsule', 'sphere')
            assert all(s > 0 for s in part.size)


def _body_frame_extent(parts):
    """Size (m) of a box in the body frame holding every part (capsules/cylinders padded)."""
    from scipy.spatial.transform import Rotation

    pts = []
    for part in parts:
        rot = Rotation.from_quat(part.orientation)
        if part.geom == 'box':
            corners = np.array(np.meshgrid(*[[-s, s] for s in part.size])).reshape(3, -1).T
            pts += list(rot.apply(corners) + part.position)
        else:
            r = part.size[0]
            half = part.size[1] / 2 if len(part.size) > 1 else 0.0
            for end in (-half, half):
                centre = rot.apply([0.0, 0.0, end]) + part.position
                pts += [centre + d for d in np.vstack([np.eye(3) * r, -np.eye(3) * r])]
    pts = np.asarray(pts)
    return pts.max(axis=0) - pts.min(axis=0)


def _rest(client, object_ids, scale=None):
    objs = [ObjectSpec(oid, scale or assets.scale_range(oid)[1], (0.5, 0.5, 0.5, 1.0),
                       (0.3 * (i % 4) - 0.45, 0.3 * (i // 4) - 0.3, 0.12), (0.0, 0.0, 0.0, 1.0))
            for i, oid in enumerate(object_ids)]
    return build_scene(client, SceneSpec(objects=objs), max_settle_steps=960)


def test_shapes_and_meshes_build_and_rest_on_the_table(client):
    groups = [[assets.PROCEDURAL_BASE + k for k in range(len(shapes.KINDS))],
              [assets.PROCEDURAL_BASE + k for k in range(8, 16)],
              assets.family_ids('mesh')[:8], assets.family_ids('mesh')[8:]]
    for ids in groups:
        scene = _rest(client, ids)
        for oid, body in zip(ids, scene.objects):
            lo, hi = p.getAABB(body, physicsClientId=client)
            lin, _ = p.getBaseVelocity(body, physicsClientId=client)
            # resting on the table, not through it (compound AABBs are loose, so the contacts)
            contacts = p.getContactPoints(body, scene.plane, physicsClientId=client)
            assert contacts and min(c[8] for c in contacts) > -0.003, oid
            assert hi[2] < 0.25 and np.linalg.norm(lin) < 0.02, oid
            # at its largest scale, the object's narrowest side fits an 8 cm gripper
            if assets.object_family(oid) == 'procedural':
                parts = shapes.scaled(shapes.shape_parts(oid - assets.PROCEDURAL_BASE),
                                      assets.scale_range(oid)[1])
                if shapes.shape_kind(oid - assets.PROCEDURAL_BASE) == 'mug':
                    # a mug is held by its rim (one thin wall) or its handle
                    assert max(part.size[0] for part in parts[:12]) < 0.005, oid  # walls
                else:
                    assert min(_body_frame_extent(parts)) < 0.075, oid
            else:  # unrotated, where the AABB of a convex decomposition is tight
                body = assets.load_object(client, oid, (0.0, 0.0, 1.0), (0.0, 0.0, 0.0, 1.0),
                                          assets.scale_range(oid)[1])
                lo, hi = p.getAABB(body, physicsClientId=client)
                assert min(np.subtract(hi, lo)) < 0.075, oid


def test_settled_pose_rebuilds_the_same_object(client):
    # duck and teddy have their centre of mass off the URDF origin
    ids = [assets.MESH_BASE, assets.MESH_BASE + 1, assets.PROCEDURAL_BASE + 3]
    objs = [ObjectSpec(oid, 1.0, (1, 1, 1, 1), (0.2 * i, 0.0, 0.2),
                       (0.2, 0.3, 0.1, 0.927)) for i, oid in enumerate(ids)]
    norm = np.linalg.norm(objs[0].orientation)
    objs = [ObjectSpec(o.object_id, o.scale, o.rgba, o.position,
                       tuple(q / norm for q in o.orientation)) for o in objs]
    scene = build_scene(client, SceneSpec(objects=objs, settled=True))
    for obj, body in zip(objs, scene.objects):
        pos, _ = p.getBasePositionAndOrientation(body, physicsClientId=client)
        np.testing.assert_allclose(pos, obj.position, atol=1e-9)


def test_photo_textures_come_from_the_installed_package(client):
    import skimage

    package = Path(skimage.__file__).parent
    photos = assets.photo_texture_files()
    assert len(photos) == len(assets.PHOTO_TEXTURES)
    for path in photos:
        assert Path(path).is_file() and Path(path).parent == package / 'data'
    assert texture_file(NUM_TEXTURES) == photos[0]
    with pytest.raises(ValueError, match='texture_file'):
        texture_file(NUM_TEXTURES + len(photos))
    from kufenet_grasp.sim.camera import CameraPose, render

    intr = CameraIntrinsics.from_fov(64, 64, 30.0)
    cam = CameraPose.look_at([0.0, 0.0, 0.5], [0.0, 0.0, 0.0])
    images = []
    for texture in (-1, NUM_TEXTURES + 1):  # plain grey, brick.png
        build_scene(client, SceneSpec(objects=[ObjectSpec(assets.PROCEDURAL_BASE, 1.0,
                                                          (1, 1, 1, 1), (0.5, 0.5, 0.05),
                                                          (0, 0, 0, 1))],
                                      surface_rgba=(0.5, 0.5, 0.5, 1.0),
                                      surface_texture=texture, settled=True))
        images.append(render(client, intr, cam)[0].astype(float))
    assert images[0].std() < 3.0 and images[1].std() > 10.0  # the photo shows its pattern


def test_config_and_cli_refuse_bad_camera_ranges(tmp_path, capsys):
    with pytest.raises(DatagenError, match='tilt_deg'):
        DatagenConfig(tilt_deg=(10.0, 95.0))
    with pytest.raises(DatagenError, match='split_only'):
        DatagenConfig(split_only='dev')
    rc = kufenet_main(['datagen', '--out', str(tmp_path / 'x'), '--scenes', '1',
                       '--hfov', '3,20', '--no-progress'])
    assert rc == 2 and 'hfov_deg' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        kufenet_main(['datagen', '--out', str(tmp_path / 'x'), '--scenes', '1',
                      '--distance', '1.5,0.3'])


def test_cli_camera_sweep_cell_on_test_objects(tmp_path):
    out = tmp_path / 'sweep'
    rc = kufenet_main(['datagen', '--out', str(out), '--scenes', '2', '--size', '64',
                       '--max-candidates', '8', '--distance', '1.0,1.0', '--tilt', '45,45',
                       '--hfov', '60,60', '--split-only', 'test', '--no-progress'])
    assert rc == 0
    test_ids = {i for ids in assets.split_catalogue()['test'].values() for i in ids}
    records = [json.loads(f.read_text()) for f in out.glob('*/*/scene.json')]
    assert len(records) == 2 and all(r['split'] == 'test' for r in records)
    for rec in records:
        for attempt in rec['attempts']:
            assert set(attempt['object_ids']) <= test_ids
        if rec['status'] == 'ok':
            rot = np.asarray(rec['camera']['pose']['rotation'])
            assert math.isclose(math.degrees(math.acos(-rot[2, 2])), 45.0, abs_tol=1e-6)
            assert rec['camera']['intrinsics']['fx'] == pytest.approx(32 / math.tan(
                math.radians(30)))
            assert rec['depth_sensor']['model'] in SENSORS


def test_scene_spec_without_textures_keeps_the_earlier_draws():
    from kufenet_grasp.sim.scene import sample_scene_spec

    ids = [3, 14, 159]
    plain = sample_scene_spec(np.random.default_rng(9), ids, tray=False)
    explicit = sample_scene_spec(np.random.default_rng(9), ids, tray=False,
                                 scale_range=assets.RANDOM_URDF_SCALE)
    assert plain == explicit  # the simulated world and earlier datasets draw the same scenes
    assert all(o.texture == -1 for o in plain.objects) and plain.surface_texture < NUM_TEXTURES
    rng = np.random.default_rng(0)
    textured = [sample_scene_spec(rng, [assets.PROCEDURAL_BASE], tray=False, textures=True)
                for _ in range(200)]
    photo = [s.surface_texture >= NUM_TEXTURES for s in textured]
    assert 0.15 < np.mean(photo) < 0.35  # half textured, half of those photographs
    assert 0.15 < np.mean([s.objects[0].texture >= 0 for s in textured]) < 0.35
    scale = [s.objects[0].scale for s in textured]
    assert assets.PROCEDURAL_SCALE[0] <= min(scale) and max(scale) <= assets.PROCEDURAL_SCALE[1]
