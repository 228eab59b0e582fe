# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Camera model, rigid transforms and the grasp frame, checked on analytic scenes."""

from __future__ import annotations

from dataclasses import dataclass
import subprocess
import sys

from kufenet_grasp.geometry.camera import from_camera_info_k, from_camera_info_msg, PinholeCamera
from kufenet_grasp.geometry.depth import depth_at
from kufenet_grasp.geometry.grasp_pose import (
    apply_tcp_offset,
    closing_axis_camera,
    grasp_frame_rotation,
    grasp_pose_in_camera,
    tcp_offset,
)
from kufenet_grasp.geometry.transforms import (
    from_xyz_quat,
    from_xyz_rpy,
    matrix_to_quaternion_xyzw,
    matrix_to_rpy,
    quaternion_xyzw_to_matrix,
    RigidTransform,
    rpy_to_matrix,
)
import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from test_geometry_scene import BoxScene, CAMERA, look_at, straight_down, tilted


@dataclass
class Rect:
    center: tuple[float, float]
    angle: float
    opening: float
    jaw: float = 20.0
    quality: float = 1.0


def image_angle_of(direction_base: np.ndarray, point_base: np.ndarray,
                   t_base_cam: RigidTransform) -> float:
    """Image angle (CCW as displayed) of a base-frame direction at a base-frame point."""
    t_cam_base = t_base_cam.inverse()
    a = CAMERA.project(t_cam_base.apply(point_base))
    b = CAMERA.project(t_cam_base.apply(point_base + 0.01 * direction_base))
    du, dv = b - a
    return float(np.arctan2(-dv, du))


def test_camera_deproject_project_round_trip_and_k():
    cam = from_camera_info_k([600, 0, 320, 0, 610, 240, 0, 0, 1], 640, 480, 'cam')
    assert cam.fy == 610 and cam.cx == 320 and cam.frame_id == 'cam'
    p = cam.deproject(400.0, 100.0, 0.8)
    assert p[2] == pytest.approx(0.8)
    assert p[0] == pytest.approx((400 - 320) * 0.8 / 600)
    assert np.allclose(cam.project(p), [400.0, 100.0])
    assert np.allclose(cam.k @ p / p[2], [400.0, 100.0, 1.0])


def test_camera_scaled_and_cropped_keep_rays():
    cam = PinholeCamera(600, 600, 319.5, 239.5, 640, 480)
    crop = cam.cropped(80, 0, 480, 480)
    p = np.array([0.05, -0.02, 0.5])
    assert np.allclose(crop.project(p), cam.project(p) - [80, 0])
    half = cam.scaled(0.5)
    assert (half.width, half.height) == (320, 240)
    assert np.allclose((half.project(p) + 0.5), (cam.project(p) + 0.5) * 0.5)


@pytest.mark.parametrize('k, match', [([1, 2, 3], '9 numbers'),
                                      ([1, 0, 0, 0, 1, 0, 0, 0, 0], 'pinhole'),
                                      ([0, 0, 320, 0, 0, 240, 0, 0, 1], 'focal')])
def test_bad_camera_info_raises(k, match):
    with pytest.raises(ValueError, match=match):
        from_camera_info_k(k, 640, 480)


def test_camera_rejects_bad_size_and_points_behind():
    with pytest.raises(ValueError, match='width'):
        PinholeCamera(600, 600, 320, 240, 0, 480)
    with pytest.raises(ValueError, match='z > 0'):
        CAMERA.project([0.0, 0.0, -1.0])


@pytest.mark.parametrize('seed', range(20))
def test_transform_quaternion_round_trip_compose_inverse(seed):
    rng = np.random.default_rng(seed)
    xyz = rng.uniform(-3, 3, 3)
    q = rng.normal(size=4)
    q = np.asarray(q) / np.linalg.norm(q)
    t = from_xyz_quat(xyz, q)
    back = from_xyz_quat(t.translation, t.quaternion_xyzw)
    assert np.allclose(back.matrix, t.matrix, atol=1e-9)
    ident = t.compose(t.inverse())
    assert np.allclose(ident.matrix, np.eye(4), atol=1e-9)
    p = np.array([0.1, -0.2, 0.3])
    assert np.allclose(t.inverse().apply(t.apply(p)), p)
    assert np.allclose((t @ t).apply(p), t.apply(t.apply(p)))


def test_rpy_matches_ros_convention_and_bad_quaternion_raises():
    t = from_xyz_rpy([0, 0, 0], [0, 0, np.pi / 2])
    assert np.allclose(t.apply([1, 0, 0]), [0, 1, 0])
    assert np.allclose(t.quaternion_xyzw, [0, 0, np.sin(np.pi / 4), np.cos(np.pi / 4)])
    assert np.allclose(from_xyz_rpy([0, 0, 0], [0.1, -0.2, 0.3]).rpy(), [0.1, -0.2, 0.3])
    with pytest.raises(ValueError, match='not unit'):
        from_xyz_quat([0, 0, 0], [0, 0, 0, 2])
    with pytest.raises(ValueError, match='rotation'):
        RigidTransform(np.diag([1.0, 1.0, -1.0]), np.zeros(3))


def test_closing_axis_follows_image_angle_and_sign_rule():
    assert np.allclose(closing_axis_camera(0.0, CAMERA), [1, 0, 0])
    # 90 deg CCW on screen = image up = optical -y; sign rule makes it +y
    assert np.allclose(closing_axis_camera(np.pi / 2, CAMERA), [0, 1, 0])
    a = np.radians(30)
    assert np.allclose(closing_axis_camera(a, CAMERA), [np.cos(a), -np.sin(a), 0])
    # a half turn gives the same axis
    assert np.allclose(closing_axis_camera(a - np.pi, CAMERA), closing_axis_camera(a, CAMERA))


@pytest.mark.parametrize('t_base_cam', [straight_down(0.6), tilted(30.0, 0.6),
                                        look_at(np.array([0.25, 0.2, 0.45]), np.zeros(3))],
                         ids=['straight_down', 'tilted_30', 'oblique'])
def test_grasp_pose_on_box_top_in_base_frame(t_base_cam):
    scene = BoxScene()
    depth = scene.render_depth(CAMERA, t_base_cam)
    target = scene.top_centre
    uv = CAMERA.project(t_base_cam.inverse().apply(target))
    angle = image_angle_of(scene.short_axis, target, t_base_cam)
    rect = Rect((float(uv[0]), float(uv[1])), angle, opening=40.0)
    z = depth_at(depth, *uv, radius_px=2)
    pose_cam = grasp_pose_in_camera(rect, z, CAMERA)
    pose_base = t_base_cam.compose(pose_cam)
    assert np.linalg.norm(pose_base.translation - target) < 0.01
    x_axis, y_axis, z_axis = pose_base.rotation.T
    optical = t_base_cam.rotation[:, 2]
    assert np.allclose(z_axis, optical)  # approach along the optical axis
    assert np.allclose(np.cross(x_axis, y_axis), z_axis)  # right-handed
    # y lies in the plane of the viewing ray and the box's short side (it images onto it) ...
    ray = pose_base.translation - t_base_cam.translation
    normal = np.cross(ray, scene.short_axis)
    assert abs(y_axis @ normal / np.linalg.norm(normal)) < 1e-3
    # ... so it is along the short side, up to the camera tilt, and not along the long side
    cos_tilt = -optical[2]  # cosine of the angle between the optical axis and straight down
    assert abs(y_axis @ scene.short_axis) >= cos_tilt - 1e-3
    assert abs(y_axis @ scene.long_axis) < 0.5
    # deterministic sign: x component in the camera frame >= 0
    assert pose_cam.rotation[0, 1] >= 0


def test_grasp_pose_rejects_invalid_depth():
    with pytest.raises(ValueError, match='depth_m'):
        grasp_pose_in_camera(Rect((320.0, 240.0), 0.0, 30.0), float('nan'), CAMERA)


def test_tcp_offset_moves_tool_back_along_approach():
    pose = grasp_pose_in_camera(Rect((319.5, 239.5), 0.3, 30.0), 0.5, CAMERA)
    tool = apply_tcp_offset(pose, tcp_offset((0.0, 0.0, -0.1), yaw_rad=np.pi / 2))
    assert np.allclose(tool.translation, [0, 0, 0.4])
    # the tool's x axis is the grasp's y axis after a 90 degree yaw
    assert np.allclose(tool.rotation[:, 0], pose.rotation[:, 1])
    assert np.allclose(tool.rotation[:, 2], pose.rotation[:, 2])


def test_camera_from_camera_info_message_and_uncalibrated():
    from types import SimpleNamespace

    info = SimpleNamespace(k=[615.0, 0, 321.0, 0, 616.0, 242.0, 0, 0, 1], width=640, height=480,
                           header=SimpleNamespace(frame_id='camera_color_optical_frame'))
    cam = from_camera_info_msg(info)
    assert (cam.fx, cam.cy, cam.frame_id) == (615.0, 242.0, 'camera_color_optical_frame')
    with pytest.raises(ValueError, match='not calibrated'):
        from_camera_info_msg(SimpleNamespace(**dict(vars(info), k=[0.0] * 9)))
    with pytest.raises(ValueError, match='lacks CameraInfo'):
        from_camera_info_msg(SimpleNamespace(k=[0.0] * 9))


def test_transform_copies_its_input():
    rotation = np.eye(3)
    t = RigidTransform(rotation, [0.0, 0.0, 1.0])
    rotation[0, 0] = 5.0  # the caller's array stays writable and does not alias
    assert t.rotation[0, 0] == 1.0
    assert t.is_close(from_xyz_rpy([0, 0, 1], [0, 0, 0]))


def test_rotation_check_has_allclose_tolerances():
    rng = np.random.default_rng(1)
    for _ in range(200):
        m = np.eye(3) + rng.normal(scale=rng.choice([1e-7, 1e-6, 5e-6, 1e-4]), size=(3, 3))
        expected = np.allclose(m.T @ m, np.eye(3), atol=1e-6) and np.linalg.det(m) > 0
        try:
            RigidTransform(m, np.zeros(3))
            accepted = True
        except ValueError:
            accepted = False
        assert accepted == expected


def test_quaternion_matches_scipy_in_every_branch():
    rng = np.random.default_rng(3)
    # random rotations, plus half turns about each axis (w = 0: x, y or z is the largest)
    matrices = list(Rotation.random(300, random_state=4).as_matrix())
    matrices += [np.diag(d) for d in ([1.0, -1, -1], [-1.0, 1, -1], [-1.0, -1, 1])]
    matrices += [from_xyz_rpy([0, 0, 0], rng.uniform(-np.pi, np.pi, 3)).rotation
                 for _ in range(100)]
    for m in matrices:
        q = matrix_to_quaternion_xyzw(m)
        expected = Rotation.from_matrix(m).as_quat()
        assert np.isclose(np.linalg.norm(q), 1.0) and q[3] >= 0
        # q and -q are one rotation; with w = 0 either sign is a valid answer
        assert min(np.abs(q - expected).max(), np.abs(q + expected).max()) < 1e-9
        assert np.allclose(Rotation.from_quat(q).as_matrix(), m, atol=1e-9)


def test_composition_and_inverse_stay_read_only_rotations():
    a = from_xyz_rpy([0.1, 0.2, 0.3], [0.3, -0.2, 1.0])
    b = from_xyz_rpy([-0.4, 0.0, 0.5], [-1.2, 0.4, 0.1])
    for t in (a @ b, a.inverse(), (a @ b).inverse() @ a):
        assert isinstance(t, RigidTransform)
        assert not t.rotation.flags.writeable and not t.translation.flags.writeable
        assert np.allclose(t.rotation.T @ t.rotation, np.eye(3), atol=1e-12)
        assert np.linalg.det(t.rotation) == pytest.approx(1.0)
    composed = a @ b
    assert np.allclose(composed.matrix, a.matrix @ b.matrix)
    assert np.allclose(a.inverse().matrix, np.linalg.inv(a.matrix))


def test_deproject_point_matches_deproject():
    cam = from_camera_info_k([600, 0, 320, 0, 610, 240, 0, 0, 1], 640, 480, 'cam')
    for u, v, z in ((0.0, 0.0, 0.5), (400.5, 100.25, 0.8), (639.0, 479.0, 2.0)):
        assert np.allclose(cam.deproject_point(u, v, z), cam.deproject(u, v, z), atol=0)


@pytest.mark.parametrize('angle', np.linspace(-np.pi, np.pi, 13))
def test_grasp_pose_rotation_is_the_grasp_frame_of_its_closing_axis(angle):
    class Rect:
        center = (250.0, 300.0)

    Rect.angle = float(angle)
    pose = grasp_pose_in_camera(Rect, 0.7, CAMERA)
    assert np.allclose(pose.rotation, grasp_frame_rotation(closing_axis_camera(angle, CAMERA)),
                       atol=1e-12)
    assert np.allclose(pose.translation, CAMERA.deproject(250.0, 300.0, 0.7))


@pytest.mark.parametrize('seed', range(5))
def test_quaternion_and_rpy_conversions_match_scipy(seed):
    rng = np.random.default_rng(seed)
    for rotation in Rotation.random(50, random_state=seed):
        quat = rotation.as_quat()
        assert np.allclose(quaternion_xyzw_to_matrix(quat), rotation.as_matrix(), atol=1e-12)
        rpy = rng.uniform([-np.pi, -np.pi / 2, -np.pi], [np.pi, np.pi / 2, np.pi])
        expected = Rotation.from_euler('xyz', rpy).as_matrix()
        assert np.allclose(rpy_to_matrix(rpy), expected, atol=1e-12)
        assert np.allclose(matrix_to_rpy(expected), Rotation.from_matrix(expected).as_euler('xyz'),
                           atol=1e-9)


def test_rpy_at_gimbal_lock_rebuilds_the_same_rotation():
    for pitch in (np.pi / 2, -np.pi / 2):
        rotation = rpy_to_matrix((0.3, pitch, -1.1))
        assert np.allclose(rpy_to_matrix(matrix_to_rpy(rotation)), rotation, atol=1e-9)


def test_the_detection_path_does_not_import_scipy():
    code = ('import sys; import kufenet_grasp.geometry.transforms, '
            'kufenet_grasp.geometry.grasp_pose, kufenet_grasp.detection.detector; '
            "print('scipy' in sys.modules)")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == 'False'
