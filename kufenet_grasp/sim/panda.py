# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""A Franka Emika Panda in PyBullet: kinematics (IK/FK, table collision) and the live robot.

Frames: ``base`` is ``panda_link0`` (REP-105 ``base_link``), z up, metres. The **tool link**
(TCP) is the point midway between the fingertips: ``panda_hand`` translated by
:data:`TCP_OFFSET_M` = 0.1034 m along the hand's z axis (the approach axis); its y axis is the
fingers' closing axis, as in the project's grasp frame; the finger tips reach 9.8 mm beyond
it (:data:`FINGERTIP_BEYOND_TCP_M`). Joint angles in radians, finger width
in metres (distance between the fingers, 0 to the hand's max_width_m), forces in newtons,
simulation at 240 Hz. The hand's openings and command mapping are those of
``config/grippers/franka_hand.yaml`` (:data:`HAND`).

:class:`PandaKinematics` lives in a private PyBullet client (the robot plus the table plane)
so that planning never disturbs the live simulation; :class:`Panda` is the robot in the
world's client, driven by joint position control within the real velocity/torque limits.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

from kufenet_grasp.geometry.gripper import load_gripper
from kufenet_grasp.geometry.transforms import from_xyz_quat, RigidTransform
from kufenet_grasp.sim.assets import data_path
import numpy as np
from scipy.spatial.transform import Rotation

PANDA_URDF = 'franka_panda/panda.urdf'
ARM_JOINTS = (0, 1, 2, 3, 4, 5, 6)
FINGER_JOINTS = (9, 10)
HAND_LINK = 8
FINGER_LINKS = (9, 10)
#: panda_hand to the fingertip (pad) centre along the hand's z axis (m): the tool link
TCP_OFFSET_M = 0.1034
#: how far the finger tips reach beyond the TCP along the approach axis (m, panda.urdf meshes)
FINGERTIP_BEYOND_TCP_M = 0.0098
#: ready pose (rad): tool pointing down, fingers along base y, 0.49 m up at x = 0.31 m
HOME_Q = (0.0, -0.785398, 0.0, -2.356194, 0.0, 1.570796, 0.785398)
#: joint velocity limits of the Panda datasheet (rad/s)
MAX_JOINT_VELOCITY = (2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61)
#: joint torque limits of the Panda datasheet (N m)
MAX_JOINT_TORQUE = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
LOWER_LIMITS = (-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973)
UPPER_LIMITS = (2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973)
#: the Panda's Franka hand (config/grippers/franka_hand.yaml): a finger joint's position is
#: its command, half the opening
HAND = load_gripper('franka_hand')
MAX_FINGER_WIDTH_M = HAND.max_width_m
#: upper limit of each finger joint (m): the command that opens the hand fully
_FINGER_JOINT_MAX_M = HAND.command_for_width(HAND.max_width_m)
FINGER_SPEED_MPS = 0.1  #: speed of each finger (m/s)
TIME_STEP_S = 1.0 / 240.0


def tool_from_hand() -> RigidTransform:
    """T_hand_tool: the tool link in the ``panda_hand`` frame (0.1034 m along hand z)."""
    return RigidTransform(np.eye(3), np.array([0.0, 0.0, TCP_OFFSET_M]))


def flipped(pose: RigidTransform) -> RigidTransform:
    """Return the same parallel-jaw grasp turned half a turn about its z (approach) axis."""
    return pose.compose(RigidTransform(np.diag([-1.0, -1.0, 1.0]), np.zeros(3)))


def rotation_error_rad(a: RigidTransform, b: RigidTransform) -> float:
    """Angle (rad) of the rotation between the orientations of ``a`` and ``b``."""
    return float(Rotation.from_matrix(a.rotation.T @ b.rotation).magnitude())


@dataclass(frozen=True)
class IkSettings:
    """IK tolerances: position (m), orientation (rad), attempts and solver iterations."""

    position_tol_m: float = 0.002
    orientation_tol_rad: float = 0.02
    attempts: int = 4
    iterations: int = 100

    def __post_init__(self) -> None:
        if self.position_tol_m <= 0 or self.orientation_tol_rad <= 0:
            raise ValueError(f'IkSettings: tolerances must be > 0, got position_tol_m='
                             f'{self.position_tol_m}, orientation_tol_rad='
                             f'{self.orientation_tol_rad}')
        if self.attempts < 1 or self.iterations < 1:
            raise ValueError('IkSettings: attempts and iterations must be >= 1')


def _as_q(q: np.ndarray | tuple[float, ...] | list[float], name: str) -> np.ndarray:
    arr = np.asarray(q, dtype=float)
    if arr.shape != (7,) or not np.all(np.isfinite(arr)):
        raise ValueError(f'{name}: joint state must be 7 finite angles (rad), got {q!r}')
    return arr


def _load_panda(client: int, base: RigidTransform) -> int:
    import pybullet as p

    quat = base.quaternion_xyzw
    return p.loadURDF(str(data_path() / PANDA_URDF), base.translation.tolist(), quat.tolist(),
                      useFixedBase=True, flags=p.URDF_USE_SELF_COLLISION_EXCLUDE_PARENT,
                      physicsClientId=client)


class PandaKinematics:
    """FK, IK and table-collision checks of the Panda in a private PyBullet client.

    The base is at the origin of that client; poses are tool-link poses in the base frame.
    ``table_z_m`` is the table surface height in the base frame (m).
    """

    def __init__(self, table_z_m: float = 0.0, ik: IkSettings | None = None,
                 table_margin_m: float = 0.01) -> None:
        import pybullet as p

        self.ik_settings = ik or IkSettings()
        self.table_margin_m = float(table_margin_m)
        self.client = p.connect(p.DIRECT)
        self.body = _load_panda(self.client, RigidTransform.identity())
        self.plane = p.loadURDF(str(data_path() / 'plane.urdf'), [0.0, 0.0, float(table_z_m)],
                                physicsClientId=self.client)
        self._hand_tool = tool_from_hand()
        self._tool_hand = self._hand_tool.inverse()
        self._movable = ARM_JOINTS + FINGER_JOINTS
        self._lower = list(LOWER_LIMITS) + [0.0, 0.0]
        self._upper = list(UPPER_LIMITS) + [_FINGER_JOINT_MAX_M] * 2
        self._ranges = [u - lo for u, lo in zip(self._upper, self._lower)]
        self._rest = list(HOME_Q) + [_FINGER_JOINT_MAX_M] * 2

    def close(self) -> None:
        """Disconnect the private client."""
        import pybullet as p

        if self.client >= 0:
            p.disconnect(self.client)
            self.client = -1

    def _set(self, q: np.ndarray) -> None:
        import pybullet as p

        for joint, angle in zip(ARM_JOINTS, q):
            p.resetJointState(self.body, joint, float(angle), physicsClientId=self.client)

    def forward(self, q: np.ndarray | tuple[float, ...]) -> RigidTransform:
        """Tool-link pose in the base frame for joint angles ``q`` (7, rad)."""
        import pybullet as p

        self._set(_as_q(q, 'PandaKinematics.forward'))
        state = p.getLinkState(self.body, HAND_LINK, computeForwardKinematics=True,
                               physicsClientId=self.client)
        return from_xyz_quat(state[4], state[5]).compose(self._hand_tool)

    def inverse(self, target: RigidTransform, seed: np.ndarray | tuple[float, ...]
                ) -> np.ndarray | None:
        """Joint angles (7, rad) that put the tool link at ``target`` (base frame).

        The search starts from ``seed`` (then from home); None when no solution lies within
        the tolerances of ``ik_settings``.
        """
        import pybullet as p

        st = self.ik_settings
        hand = target.compose(self._tool_hand)
        pos, quat = hand.translation.tolist(), hand.quaternion_xyzw.tolist()
        seeds = [_as_q(seed, 'PandaKinematics.inverse'), np.asarray(HOME_Q)]
        for start in seeds:
            q = start.copy()
            for _ in range(st.attempts):
                self._set(q)
                sol = p.calculateInverseKinematics(
                    self.body, HAND_LINK, pos, quat, lowerLimits=self._lower,
                    upperLimits=self._upper, jointRanges=self._ranges,
                    restPoses=list(q) + [_FINGER_JOINT_MAX_M] * 2, maxNumIterations=st.iterations,
                    residualThreshold=1e-6, physicsClientId=self.client)
                q = np.clip(np.asarray(sol[:7]), LOWER_LIMITS, UPPER_LIMITS)
                reached = self.forward(q)
                pos_err = float(np.linalg.norm(reached.translation - target.translation))
                if pos_err <= st.position_tol_m and \
                        rotation_error_rad(reached, target) <= st.orientation_tol_rad:
                    return q
        return None

    def collides_with_table(self, q: np.ndarray | tuple[float, ...]) -> bool:
        """Whether the arm at ``q`` (rad) comes within ``table_margin_m`` of the table.

        The fingers may touch it (they pick flat objects) but not sink in by more than 3 mm.
        """
        import pybullet as p

        self._set(_as_q(q, 'PandaKinematics.collides_with_table'))
        p.performCollisionDetection(physicsClientId=self.client)
        points = p.getClosestPoints(self.body, self.plane, self.table_margin_m,
                                    physicsClientId=self.client)
        for point in points:
            link, distance = point[3], point[8]
            if link in FINGER_LINKS:
                if distance < -0.003:
                    return True
            elif link >= 0 and distance < self.table_margin_m:
                return True
        return False


class Panda:
    """The live Panda in a PyBullet client: joint position control, gripper, contacts.

    ``base`` is T_world_base (m); ``table_z_m`` the table surface height in the world frame
    (used for a new ``kinematics`` when none is given; it is shared across world resets).
    Not thread-safe: callers sharing the client must serialise calls (see ``SimWorld.lock``).
    """

    def __init__(self, client: int, base: RigidTransform, table_z_m: float = 0.0,
                 ik: IkSettings | None = None, finger_force_n: float = 40.0,
                 kinematics: PandaKinematics | None = None) -> None:
        import pybullet as p

        if finger_force_n <= 0:
            raise ValueError(f'Panda: finger_force_n must be > 0 N, got {finger_force_n}')
        self.client = client
        self.base = base
        self.finger_force_n = float(finger_force_n)
        self.body = _load_panda(client, base)
        self.kinematics = kinematics or PandaKinematics(table_z_m - float(base.translation[2]),
                                                        ik)
        kw = {'physicsClientId': client}
        for link in FINGER_LINKS:
            p.changeDynamics(self.body, link, lateralFriction=1.5, spinningFriction=0.01,
                             rollingFriction=0.0, frictionAnchor=True, **kw)
        self.steps = 0
        self.ignored_bodies: set[int] = set()  #: bodies never counted as held (the table)
        self._finger_target_m = MAX_FINGER_WIDTH_M
        self.reset(HOME_Q, MAX_FINGER_WIDTH_M)

    def close(self) -> None:
        """Release the private kinematics client."""
        self.kinematics.close()

    # ------------------------------------------------------------------ state
    def reset(self, q: np.ndarray | tuple[float, ...], width_m: float) -> None:
        """Teleport the arm to ``q`` (rad) and the fingers to ``width_m``; hold there."""
        import pybullet as p

        q = _as_q(q, 'Panda.reset')
        for joint, angle in zip(ARM_JOINTS, q):
            p.resetJointState(self.body, joint, float(angle), 0.0, physicsClientId=self.client)
        half = float(np.clip(width_m, 0.0, MAX_FINGER_WIDTH_M)) / 2
        for joint in FINGER_JOINTS:
            p.resetJointState(self.body, joint, half, 0.0, physicsClientId=self.client)
        self.command_arm(q)
        self.command_fingers(2 * half)

    def joint_positions(self) -> np.ndarray:
        """Return current arm joint angles (7, rad)."""
        import pybullet as p

        states = p.getJointStates(self.body, ARM_JOINTS, physicsClientId=self.client)
        return np.array([s[0] for s in states])

    def tool_pose(self) -> RigidTransform:
        """Return current tool-link pose in the base frame (m)."""
        import pybullet as p

        state = p.getLinkState(self.body, HAND_LINK, computeForwardKinematics=True,
                               physicsClientId=self.client)
        world_hand = from_xyz_quat(state[4], state[5])
        return self.base.inverse().compose(world_hand).compose(tool_from_hand())

    def finger_width_m(self) -> float:
        """Return current distance between the fingers (m)."""
        import pybullet as p

        states = p.getJointStates(self.body, FINGER_JOINTS, physicsClientId=self.client)
        return float(sum(s[0] for s in states))

    # ---------------------------------------------------------------- control
    def command_arm(self, q: np.ndarray, qd: np.ndarray | None = None) -> None:
        """Joint position targets ``q`` (rad) with feed-forward velocities ``qd`` (rad/s)."""
        import pybullet as p

        qd = np.zeros(7) if qd is None else np.asarray(qd, dtype=float)
        p.setJointMotorControlArray(
            self.body, ARM_JOINTS, p.POSITION_CONTROL, targetPositions=[float(v) for v in q],
            targetVelocities=[float(v) for v in qd], forces=list(MAX_JOINT_TORQUE),
            positionGains=[0.3] * 7, velocityGains=[1.0] * 7, physicsClientId=self.client)

    def command_fingers(self, width_m: float, force_n: float | None = None) -> None:
        """Drive the fingers towards ``width_m`` apart (m) with ``force_n`` per finger (N)."""
        import pybullet as p

        if not math.isfinite(width_m):
            raise ValueError(f'Panda.command_fingers: width_m must be finite, got {width_m}')
        half = float(np.clip(width_m, 0.0, MAX_FINGER_WIDTH_M)) / 2
        self._finger_target_m = 2 * half
        force = self.finger_force_n if force_n is None else float(force_n)
        for joint in FINGER_JOINTS:
            p.setJointMotorControl2(self.body, joint, p.POSITION_CONTROL, targetPosition=half,
                                    force=force, maxVelocity=FINGER_SPEED_MPS,
                                    physicsClientId=self.client)

    def step(self, count: int = 1) -> None:
        """Advance the simulation ``count`` steps of 1/240 s."""
        import pybullet as p

        for _ in range(int(count)):
            p.stepSimulation(physicsClientId=self.client)
        self.steps += int(count)

    # ------------------------------------------------------------- contacts
    def finger_contacts(self) -> set[int]:
        """Bodies (other than the robot) touched by BOTH fingers."""
        import pybullet as p

        touched = []
        for link in FINGER_LINKS:
            pts = p.getContactPoints(bodyA=self.body, linkIndexA=link,
                                     physicsClientId=self.client)
            touched.append({pt[2] for pt in pts if pt[2] != self.body})
        return touched[0] & touched[1]

    def object_between_fingers(self) -> bool:
        """Whether a body (not the robot, not ``ignored_bodies``) lies between the fingers.

        Three rays across the closing axis at depths around the TCP test the gap.
        """
        import pybullet as p

        tool = self.base.compose(self.tool_pose())
        half = max(self.finger_width_m() / 2 - 0.002, 0.001)
        y, z = tool.rotation[:, 1], tool.rotation[:, 2]
        starts, ends = [], []
        for depth in (-0.015, -0.005, 0.005):
            centre = tool.translation + depth * z
            starts.append((centre + half * y).tolist())
            ends.append((centre - half * y).tolist())
        hits = p.rayTestBatch(starts, ends, physicsClientId=self.client)
        ignored = self.ignored_bodies | {self.body, -1}
        return any(hit[0] not in ignored for hit in hits)

    def is_holding(self, min_width_m: float = 0.003) -> bool:
        """Whether an object is held.

        Held: both fingers touch one body (not in ``ignored_bodies``), or the fingers were
        commanded to close but stalled more than ``min_width_m`` (m) apart and wider than
        their target (something is between them).
        """
        if self.finger_contacts() - self.ignored_bodies:
            return True
        width = self.finger_width_m()
        return width > min_width_m and width > self._finger_target_m + 0.002
