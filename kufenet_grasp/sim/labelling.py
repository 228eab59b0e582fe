# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Physics-checked planar grasp labels.

Sample candidates on the rendered image, test them with the simulated gripper, keep the
successes as image-space grasps.

Image-space grasps follow docs/ARCHITECTURE.md: centre (x, y) px, angle rad of the closing
axis from image +x counter-clockwise as displayed, wrapped to [-pi/2, pi/2), opening and jaw
in px. A candidate maps to a 3D gripper pose whose approach is the camera's optical axis
through the 3D point of the centre pixel, pushed ``depth`` metres beyond the visible surface.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
import math

from kufenet_grasp.grasp.labels import format_jacquard_grasps
from kufenet_grasp.grasp.rectangle import GraspRectangle, wrap_angle
from kufenet_grasp.sim.camera import backproject, CameraIntrinsics, CameraPose
from kufenet_grasp.sim.gripper import (
    FINGER_LENGTH,
    FINGER_THICKNESS,
    FINGER_WIDTH,
    GraspPose,
    MAX_OPENING,
    ParallelGripper,
    try_grasp,
)
import numpy as np


@dataclass(frozen=True)
class ImageGrasp:
    """A planar grasp in image pixels plus the metric values it was tested with.

    ``x, y`` centre px; ``angle`` rad; ``opening``/``jaw`` px; ``opening_m`` gripper opening
    (m); ``depth_m`` how far (m) the TCP went beyond the surface along the optical axis;
    ``z`` the z-depth (m) of the surface at the centre; ``body`` the targeted object index.
    """

    x: float
    y: float
    angle: float
    opening: float
    jaw: float
    opening_m: float
    depth_m: float
    z: float
    body: int

    def to_rectangle(self) -> GraspRectangle:
        """As a :class:`~kufenet_grasp.grasp.rectangle.GraspRectangle` (quality 1)."""
        return GraspRectangle(center=(self.x, self.y), angle=self.angle, opening=self.opening,
                              jaw=self.jaw, quality=1.0)

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return asdict(self)


def format_grasps(grasps: list[ImageGrasp]) -> str:
    """Jacquard ``grasps.txt`` text: one ``x;y;theta_deg;opening;jaw`` line per grasp."""
    return format_jacquard_grasps(g.to_rectangle() for g in grasps)


def grasp_pose(intrinsics: CameraIntrinsics, cam_pose: CameraPose, grasp: ImageGrasp
               ) -> GraspPose:
    """3D TCP pose (world) of an image grasp.

    Approach = optical axis, closing axis = the image direction of ``grasp.angle``, TCP
    ``grasp.depth_m`` beyond the surface point.
    """
    rot = cam_pose.R
    point = backproject(intrinsics, grasp.x, grasp.y, grasp.z + grasp.depth_m)
    closing_cam = np.array([math.cos(grasp.angle), -math.sin(grasp.angle), 0.0])
    y_axis = rot @ closing_cam
    z_axis = rot[:, 2]
    x_axis = np.cross(y_axis, z_axis)
    return GraspPose(rot @ point + cam_pose.t, np.stack([x_axis, y_axis, z_axis], axis=1))


@dataclass(frozen=True)
class LabelSettings:
    """Candidate sampling: counts, the opening margin (m) and the grasp depth range (m)."""

    max_candidates: int = 64
    max_successes: int = 1000
    antipodal_fraction: float = 0.7
    margin: tuple[float, float] = (0.008, 0.025)
    depth: tuple[float, float] = (0.01, 0.035)
    support_clearance: float = 0.004
    min_pixels: int = 30
    #: reject a candidate when something in a finger footprint is this much (m) above the
    #: surface at the centre (the finger would land on it); mild overlaps are left to physics
    clear_above: float = 0.005
    #: extra executions of each successful grasp, perturbed by ±shift_m / ±turn_deg, that
    #: must all succeed too (robust labels); 0 keeps every nominal success
    robust_checks: int = 1
    shift_m: float = 0.002
    turn_deg: float = 3.0


def perturb(grasp: ImageGrasp, rng: np.random.Generator, fx: float, shift_m: float,
            turn_deg: float) -> ImageGrasp:
    """Copy of ``grasp`` with its centre shifted and its angle turned, uniformly at random.

    The centre moves by up to ±``shift_m`` metres along the image x and y axes (in px at the
    grasp's depth, focal length ``fx`` px) and the angle turns by up to ±``turn_deg`` degrees.
    """
    shift_px = shift_m * fx / grasp.z
    return replace(grasp, x=grasp.x + rng.uniform(-shift_px, shift_px),
                   y=grasp.y + rng.uniform(-shift_px, shift_px),
                   angle=wrap_angle(grasp.angle + math.radians(rng.uniform(-turn_deg, turn_deg))))


def _extent(mask: np.ndarray, start: np.ndarray, direction: np.ndarray, max_len: float
            ) -> float:
    """Distance (px) from ``start`` along ``direction`` until ``mask`` is left."""
    h, w = mask.shape
    steps = np.arange(0.0, max_len, 0.5)
    pts = start[None, :] + steps[:, None] * direction[None, :]
    xi = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
    yi = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
    inside = mask[yi, xi] & (pts[:, 0] >= 0) & (pts[:, 0] <= w - 1) & (pts[:, 1] >= 0) & \
        (pts[:, 1] <= h - 1)
    out = np.flatnonzero(~inside)
    return float(steps[out[0]]) if out.size else float(max_len)


def _candidate_lines(mask: np.ndarray, rng: np.random.Generator, count: int, fraction: float,
                     max_len: float) -> list[tuple[float, float, float, float]]:
    """Return (x, y, angle, width px) of grasp lines across ``mask``.

    Antipodal ones start on the contour along the inward normal, the rest cross a random
    interior pixel at a random angle.
    """
    import cv2

    ys, xs = np.nonzero(mask)
    blurred = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.5)
    gy, gx = np.gradient(blurred)
    edge = mask & (cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0)
    ey, ex = np.nonzero(edge)
    lines = []
    for _ in range(count):
        if ex.size and rng.random() < fraction:
            i = int(rng.integers(ex.size))
            normal = np.array([gx[ey[i], ex[i]], gy[ey[i], ex[i]]])
            if np.linalg.norm(normal) < 1e-6:
                continue
            phi = math.atan2(normal[1], normal[0]) + rng.normal(0.0, math.radians(8))
            d = np.array([math.cos(phi), math.sin(phi)])
            start = np.array([ex[i], ey[i]], dtype=float)
            width = _extent(mask, start + d, d, max_len) + 1.0
            cx, cy = start + d * (width / 2 - 0.5)
        else:
            i = int(rng.integers(xs.size))
            phi = rng.uniform(-math.pi, math.pi)
            d = np.array([math.cos(phi), math.sin(phi)])
            centre = np.array([xs[i], ys[i]], dtype=float)
            a, b = _extent(mask, centre, d, max_len), _extent(mask, centre, -d, max_len)
            width = a + b
            cx, cy = centre + d * (a - b) / 2
        # image direction (dx, dy) has angle atan2(-dy, dx) in the project's convention
        lines.append((float(cx), float(cy), wrap_angle(math.atan2(-d[1], d[0])), float(width)))
    return lines


def _fingers_clear(depth: np.ndarray, x: float, y: float, angle: float, half_open_px: float,
                   jaw_px: float, thick_px: float, z_tip: float) -> bool:
    """Image-space pre-check that the two finger footprints of the open gripper are clear.

    True when nothing in them is nearer to the camera than z-depth ``z_tip`` (m).
    """
    h, w = depth.shape
    c, s = math.cos(angle), -math.sin(angle)  # closing axis in image (dx, dy)
    along = np.array([c, s])
    across = np.array([-s, c])
    for side in (1.0, -1.0):
        for t in np.linspace(0.0, thick_px, 3):
            for u in np.linspace(-jaw_px / 2, jaw_px / 2, 5):
                px = np.array([x, y]) + along * side * (half_open_px + t) + across * u
                xi, yi = int(np.rint(px[0])), int(np.rint(px[1]))
                if 0 <= xi < w and 0 <= yi < h and np.isfinite(depth[yi, xi]) \
                        and depth[yi, xi] < z_tip:
                    return False
    return True


def label_grasps(
    client: int,
    gripper: ParallelGripper,
    state_id: int,
    intrinsics: CameraIntrinsics,
    cam_pose: CameraPose,
    depth: np.ndarray,
    seg: np.ndarray,
    bodies: list[int],
    support_z: float,
    rng: np.random.Generator,
    settings: LabelSettings | None = None,
) -> tuple[list[ImageGrasp], int]:
    """Sample and physics-test grasps on the objects ``bodies`` (PyBullet ids) visible in ``seg``.

    ``depth`` is the perfect z-depth (m). The world is restored to ``state_id`` before each
    trial. A candidate is kept when it and ``settings.robust_checks`` perturbed copies of it all
    succeed. Returns the kept grasps and the number of physics trials run.
    """
    st = settings or LabelSettings()
    visible = [(i, b) for i, b in enumerate(bodies) if int(np.sum(seg == b)) >= st.min_pixels]
    if not visible:
        return [], 0
    per_object = max(1, st.max_candidates // len(visible))
    rot, origin = cam_pose.R, cam_pose.t
    axis_world = rot[:, 2]
    grasps: list[ImageGrasp] = []
    trials = 0
    import pybullet as p

    for index, body in visible:
        mask = seg == body
        z_obj = float(np.nanmedian(depth[mask]))
        max_len = MAX_OPENING * intrinsics.fx / max(z_obj - 0.1, 0.05)
        for cx, cy, angle, width_px in _candidate_lines(mask, rng, per_object,
                                                        st.antipodal_fraction, max_len):
            xi, yi = int(np.rint(cx)), int(np.rint(cy))
            if not (0 <= xi < intrinsics.width and 0 <= yi < intrinsics.height):
                continue
            z = float(depth[yi, xi])
            if seg[yi, xi] != body or not np.isfinite(z):
                continue
            opening_m = width_px * z / intrinsics.fx + rng.uniform(*st.margin)
            if opening_m > MAX_OPENING:
                continue
            surface = rot @ backproject(intrinsics, cx, cy, z) + origin
            # deepest TCP along the optical axis that keeps the fingertips above the support
            if axis_world[2] >= -1e-6:
                continue
            max_depth = (support_z + st.support_clearance - surface[2]) / axis_world[2]
            depth_m = min(rng.uniform(*st.depth), max_depth, FINGER_LENGTH * 0.9)
            if depth_m <= 0.002:
                continue
            f_over_z = intrinsics.fx / z
            if not _fingers_clear(depth, cx, cy, angle, opening_m / 2 * f_over_z,
                                  FINGER_WIDTH * f_over_z, FINGER_THICKNESS * f_over_z,
                                  z - st.clear_above):
                continue
            cand = ImageGrasp(x=cx, y=cy, angle=angle, opening=opening_m * f_over_z,
                              jaw=FINGER_WIDTH * f_over_z, opening_m=opening_m,
                              depth_m=depth_m, z=z, body=index)
            tests = [cand] + [perturb(cand, rng, intrinsics.fx, st.shift_m, st.turn_deg)
                              for _ in range(st.robust_checks)]
            for test in tests:
                p.restoreState(state_id, physicsClientId=client)
                trials += 1
                if not try_grasp(client, grasp_pose(intrinsics, cam_pose, test), opening_m,
                                 gripper=gripper, objects=[body]):
                    break
            else:
                grasps.append(cand)
                if len(grasps) >= st.max_successes:
                    return grasps, trials
    p.restoreState(state_id, physicsClientId=client)
    return grasps, trials
