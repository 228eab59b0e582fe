# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Rigid transforms (rotation + translation in metres) with ROS quaternion order (x, y, z, w).

``T_a_b`` maps points expressed in frame ``b`` into frame ``a``: ``p_a = R @ p_b + t``.
Quaternion and roll-pitch-yaw conversions are written out with plain floats (tested against
:class:`scipy.spatial.transform.Rotation`): they run for every grasp pose, and importing scipy
would make it the largest import of a detector process that runs an exported model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math

import numpy as np

_ORTHO_TOL = 1e-6
_QUAT_NORM_TOL = 1e-3


def _vector3(name: str, value: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise ValueError(f'{name} must be 3 finite numbers, got {value!r}')
    return arr


_EYE3 = np.eye(3)


@dataclass(frozen=True, eq=False)
class RigidTransform:
    """A rotation (3×3, orthonormal, det +1) and translation (3,) in metres.

    Both arrays are copied and made read-only on construction.
    """

    rotation: np.ndarray
    translation: np.ndarray

    def __post_init__(self) -> None:
        r = np.array(self.rotation, dtype=float)
        if r.shape != (3, 3) or not np.all(np.isfinite(r)):
            raise ValueError(f'RigidTransform: rotation must be a finite 3x3 matrix, '
                             f'got shape {r.shape}')
        # np.allclose(r.T @ r, I, atol=_ORTHO_TOL)'s test written out (its rtol 1e-5 on the
        # diagonal included) at a fraction of the cost: this runs for every grasp pose
        if (np.abs(r.T @ r - _EYE3) > _ORTHO_TOL + 1e-5 * _EYE3).any() \
                or np.linalg.det(r) < 0:
            raise ValueError('RigidTransform: rotation is not a proper rotation matrix '
                             '(R^T R != I or det(R) != +1)')
        t = _vector3('RigidTransform: translation', self.translation).copy()
        r.setflags(write=False)
        t.setflags(write=False)
        object.__setattr__(self, 'rotation', r)
        object.__setattr__(self, 'translation', t)

    def is_close(self, other: RigidTransform, atol: float = 1e-9) -> bool:
        """Return True if both transforms agree within ``atol`` (matrix entries, metres)."""
        return bool(np.allclose(self.matrix, other.matrix, atol=atol))

    @classmethod
    def identity(cls) -> RigidTransform:
        """Return the identity transform."""
        return cls(np.eye(3), np.zeros(3))

    @classmethod
    def _from_valid(cls, rotation: np.ndarray, translation: np.ndarray) -> RigidTransform:
        """Wrap arrays already known to be a proper rotation and a finite translation.

        Only for results of operations on valid transforms (composition, inverse), which stay
        rotations up to rounding; everything else goes through the checking constructor.
        """
        out = object.__new__(cls)
        r = np.array(rotation, dtype=float)
        t = np.array(translation, dtype=float)
        r.setflags(write=False)
        t.setflags(write=False)
        object.__setattr__(out, 'rotation', r)
        object.__setattr__(out, 'translation', t)
        return out

    @property
    def quaternion_xyzw(self) -> np.ndarray:
        """Rotation as a unit quaternion (x, y, z, w) with w >= 0."""
        return matrix_to_quaternion_xyzw(self.rotation)

    @property
    def matrix(self) -> np.ndarray:
        """The 4×4 homogeneous matrix."""
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = self.translation
        return m

    def compose(self, other: RigidTransform) -> RigidTransform:
        """``self ∘ other``: apply ``other`` first, then ``self`` (T_a_b ∘ T_b_c = T_a_c)."""
        return RigidTransform._from_valid(self.rotation @ other.rotation,
                                          self.rotation @ other.translation + self.translation)

    def __matmul__(self, other: RigidTransform) -> RigidTransform:
        return self.compose(other)

    def inverse(self) -> RigidTransform:
        """Return the inverse transform (T_b_a for T_a_b)."""
        rt = self.rotation.T
        return RigidTransform._from_valid(rt, -rt @ self.translation)

    def apply(self, points: np.ndarray | Sequence[float]) -> np.ndarray:
        """Transform point(s) (..., 3) m from the source frame to the target frame."""
        pts = np.asarray(points, dtype=float)
        if pts.shape[-1:] != (3,):
            raise ValueError(f'RigidTransform.apply: points must have shape (..., 3), '
                             f'got {pts.shape}')
        return pts @ self.rotation.T + self.translation

    def rpy(self) -> np.ndarray:
        """Roll, pitch, yaw in radians (fixed axes x-y-z, as in URDF / tf2)."""
        return matrix_to_rpy(self.rotation)


def matrix_to_quaternion_xyzw(rotation: np.ndarray) -> np.ndarray:
    """Return unit quaternion (x, y, z, w), w >= 0, of a proper rotation matrix (3×3).

    Shepperd's method: the largest of w, x, y, z is taken from the diagonal (no division by a
    small number), the others from the off-diagonal sums. Agrees with scipy's
    ``Rotation.from_matrix(...).as_quat()`` (sign fixed to w >= 0) to 1e-9 on rotations; it
    is written out because it runs for every published grasp pose (~2 µs against ~40 µs).
    """
    (m00, m01, m02), (m10, m11, m12), (m20, m21, m22) = np.asarray(rotation, float).tolist()
    trace = m00 + m11 + m22
    if trace >= max(m00, m11, m22):
        s = 2.0 * math.sqrt(max(1.0 + trace, 0.0))
        q = ((m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s, 0.25 * s)
    elif m00 >= m11 and m00 >= m22:
        s = 2.0 * math.sqrt(max(1.0 + m00 - m11 - m22, 0.0))
        q = (0.25 * s, (m01 + m10) / s, (m02 + m20) / s, (m21 - m12) / s)
    elif m11 >= m22:
        s = 2.0 * math.sqrt(max(1.0 + m11 - m00 - m22, 0.0))
        q = ((m01 + m10) / s, 0.25 * s, (m12 + m21) / s, (m02 - m20) / s)
    else:
        s = 2.0 * math.sqrt(max(1.0 + m22 - m00 - m11, 0.0))
        q = ((m02 + m20) / s, (m12 + m21) / s, 0.25 * s, (m10 - m01) / s)
    norm = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    sign = -1.0 if q[3] < 0 else 1.0
    return np.array([sign * c / norm for c in q])


def quaternion_xyzw_to_matrix(quat_xyzw: Sequence[float] | np.ndarray) -> np.ndarray:
    """Return the rotation matrix (3×3) of a unit quaternion (x, y, z, w)."""
    x, y, z, w = (float(c) for c in quat_xyzw)
    return np.array([
        [1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - z * w), 2.0 * (x * z + y * w)],
        [2.0 * (x * y + z * w), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - x * w)],
        [2.0 * (x * z - y * w), 2.0 * (y * z + x * w), 1.0 - 2.0 * (x * x + y * y)]])


def rpy_to_matrix(rpy: Sequence[float] | np.ndarray) -> np.ndarray:
    """Return ``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (fixed axes x-y-z, radians, as URDF)."""
    roll, pitch, yaw = (float(a) for a in rpy)
    cr, sr = math.cos(roll), math.sin(roll)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


def matrix_to_rpy(rotation: np.ndarray) -> np.ndarray:
    """Return roll, pitch, yaw (rad, fixed axes x-y-z) of a rotation matrix (3×3).

    At pitch ±90° (gimbal lock) roll is set to 0 and the rotation about z goes to yaw.
    """
    m = np.asarray(rotation, dtype=float)
    pitch = math.asin(max(-1.0, min(1.0, -m[2, 0])))
    if abs(m[2, 0]) < 1.0 - 1e-9:
        roll = math.atan2(m[2, 1], m[2, 2])
        yaw = math.atan2(m[1, 0], m[0, 0])
    else:
        roll = 0.0
        yaw = math.atan2(-m[0, 1], m[1, 1])
    return np.array([roll, pitch, yaw])


def from_xyz_quat(xyz: Sequence[float], quat_xyzw: Sequence[float],
                  norm_tol: float = _QUAT_NORM_TOL) -> RigidTransform:
    """Build a transform from a translation (m) and a unit quaternion (x, y, z, w).

    Raises:
        ValueError: if the quaternion is not finite or its norm differs from 1 by more than
            ``norm_tol`` (it is then renormalised exactly).

    """
    q = np.asarray(quat_xyzw, dtype=float)
    if q.shape != (4,) or not np.all(np.isfinite(q)):
        raise ValueError(f'quaternion must be 4 finite numbers (x, y, z, w), got {quat_xyzw!r}')
    norm = float(np.linalg.norm(q))
    if abs(norm - 1.0) > norm_tol:
        raise ValueError(f'quaternion (x, y, z, w) = {q.tolist()} is not unit length '
                         f'(norm {norm:.6f})')
    return RigidTransform(quaternion_xyzw_to_matrix(q / norm), _vector3('translation', xyz))


def from_xyz_rpy(xyz: Sequence[float], rpy: Sequence[float]) -> RigidTransform:
    """Build a transform from a translation (m) and roll, pitch, yaw (rad, fixed axes x-y-z)."""
    angles = _vector3('rpy', rpy)
    return RigidTransform(rpy_to_matrix(angles), _vector3('translation', xyz))


def from_xyz_yaw(xyz: Sequence[float], yaw: float) -> RigidTransform:
    """Build a transform from a translation (m) and a rotation of ``yaw`` rad about z."""
    return from_xyz_rpy(xyz, (0.0, 0.0, float(yaw)))
