# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Ray-cast z-depth of boxes on a table for tests: any camera pose, no renderer needed.

World frame: the table is the plane z = 0, boxes are axis-aligned ``(x0, y0, x1, y1, height)``
in metres standing on it. The camera looks at ``target`` from ``distance`` metres, tilted
``tilt_deg`` from vertical; its optical frame follows REP-103 (x right, y down, z forward).
"""

import math

from kufenet_grasp.geometry.camera import PinholeCamera
import numpy as np


def look_at(distance_m, tilt_deg, target=(0.0, 0.0, 0.0), azimuth_deg=90.0):
    """Camera centre (3,) and rotation (3x3, columns = optical axes in the world)."""
    tilt, azimuth = math.radians(tilt_deg), math.radians(azimuth_deg)
    target = np.asarray(target, float)
    eye = target + distance_m * np.array([math.sin(tilt) * math.cos(azimuth),
                                          math.sin(tilt) * math.sin(azimuth), math.cos(tilt)])
    forward = (target - eye) / np.linalg.norm(target - eye)
    helper = np.array([1.0, 0.0, 0.0])
    right = np.cross(forward, helper)
    if np.linalg.norm(right) < 1e-6:
        right = np.cross(forward, np.array([0.0, 1.0, 0.0]))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return eye, np.stack([right, down, forward], axis=1)


def render_depth(camera: PinholeCamera, eye, rotation, boxes=(), table_half_m=2.0):
    """Z-depth (m, float32 H×W, NaN where a ray misses) of the table and ``boxes``."""
    us, vs = np.meshgrid(np.arange(camera.width, dtype=float),
                         np.arange(camera.height, dtype=float))
    rays_cam = np.stack([(us - camera.cx) / camera.fx, (vs - camera.cy) / camera.fy,
                         np.ones_like(us)], axis=-1)  # z = 1: t along the ray is the z-depth
    rays = rays_cam @ np.asarray(rotation).T
    eye = np.asarray(eye, float)
    best = np.full(us.shape, np.inf)
    with np.errstate(divide='ignore', invalid='ignore'):
        t_table = -eye[2] / rays[..., 2]
        hit = eye[None, None, :] + t_table[..., None] * rays
        on_table = (t_table > 0) & (np.abs(hit[..., 0]) <= table_half_m) \
            & (np.abs(hit[..., 1]) <= table_half_m)
        best = np.where(on_table, t_table, best)
        for x0, y0, x1, y1, height in boxes:
            lo = np.array([x0, y0, 0.0])
            hi = np.array([x1, y1, height])
            t1 = (lo - eye) / rays
            t2 = (hi - eye) / rays
            t_near = np.nanmax(np.minimum(t1, t2), axis=-1)
            t_far = np.nanmin(np.maximum(t1, t2), axis=-1)
            inside = (t_far >= t_near) & (t_near > 0)
            best = np.where(inside & (t_near < best), t_near, best)
    return np.where(np.isfinite(best), best, np.nan).astype(np.float32)
