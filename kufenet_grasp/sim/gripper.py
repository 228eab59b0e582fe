# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""A free-floating parallel-jaw gripper (Panda-hand-like) for testing grasps in PyBullet.

Gripper frame: origin at the tool centre point (TCP, midway between the fingertips), z = the
approach direction (from the palm towards the object), y = the closing axis, x = along the
jaws. ``GraspPose`` holds the TCP position (world, m) and this frame's rotation (columns x, y,
z in world coordinates). The base is driven by a fixed constraint, the fingers by prismatic
joints under position control. Its opening and finger sizes are the Franka hand's
(``config/grippers/franka_hand.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass

from kufenet_grasp.geometry.gripper import load_gripper
import numpy as np

_HAND = load_gripper('franka_hand')
#: m, the hand's largest opening plus 5 mm: the labelling gripper opens a little wider
MAX_OPENING = _HAND.max_width_m + 0.005
FINGER_LENGTH = _HAND.finger_length_m  #: m, along the approach axis
FINGER_THICKNESS = _HAND.finger_thickness_m  #: m, along the closing axis
FINGER_WIDTH = _HAND.finger_width_m  #: m, along the jaws (x): the "jaw" size of a label
PARK_POSITION = (0.0, 0.0, 3.0)  #: m, above and behind any downward-looking camera


@dataclass(frozen=True)
class GraspPose:
    """TCP ``position`` (world, m) and ``rotation`` (3×3, columns = gripper x, y, z in world)."""

    position: np.ndarray
    rotation: np.ndarray

    def __post_init__(self) -> None:
        if np.shape(self.position) != (3,) or np.shape(self.rotation) != (3, 3):
            raise ValueError(f'GraspPose: position must be a 3-vector and rotation 3x3, got '
                             f'{np.shape(self.position)} and {np.shape(self.rotation)}')

    def quaternion(self) -> list[float]:
        """Rotation as a PyBullet (x, y, z, w) quaternion."""
        from scipy.spatial.transform import Rotation

        return [float(v) for v in Rotation.from_matrix(np.asarray(self.rotation)).as_quat()]


@dataclass(frozen=True)
class TrialSettings:
    """Motion of one grasp trial (distances m, durations in physics steps of 1/240 s)."""

    pre_grasp: float = 0.06
    approach_steps: int = 24
    close_steps: int = 48
    grip_force: float = 40.0  #: N per finger
    lift_height: float = 0.15
    lift_steps: int = 60
    shake_amplitude: float = 0.02
    shake_steps: int = 48
    min_lift: float = 0.08  #: m the object must have risen to count as held


class ParallelGripper:
    """The gripper body in one PyBullet client; created parked at ``PARK_POSITION``."""

    def __init__(self, client: int, friction: float = 1.5) -> None:
        import pybullet as p

        kw = {'physicsClientId': client}
        self.client = client
        palm_half = [FINGER_WIDTH / 2 + 0.005, MAX_OPENING / 2 + FINGER_THICKNESS + 0.005, 0.01]
        palm_pos = [0, 0, -FINGER_LENGTH - palm_half[2]]
        palm_col = p.createCollisionShape(p.GEOM_BOX, halfExtents=palm_half,
                                          collisionFramePosition=palm_pos, **kw)
        palm_vis = p.createVisualShape(p.GEOM_BOX, halfExtents=palm_half,
                                       visualFramePosition=palm_pos,
                                       rgbaColor=[0.3, 0.3, 0.3, 1], **kw)
        finger_half = [FINGER_WIDTH / 2, FINGER_THICKNESS / 2, FINGER_LENGTH / 2]
        shapes = []
        for side in (1, -1):
            pos = [0, side * FINGER_THICKNESS / 2, -FINGER_LENGTH / 2]
            shapes.append((
                p.createCollisionShape(p.GEOM_BOX, halfExtents=finger_half,
                                       collisionFramePosition=pos, **kw),
                p.createVisualShape(p.GEOM_BOX, halfExtents=finger_half, visualFramePosition=pos,
                                    rgbaColor=[0.8, 0.8, 0.8, 1], **kw)))
        self.body = p.createMultiBody(
            baseMass=0.5, baseCollisionShapeIndex=palm_col, baseVisualShapeIndex=palm_vis,
            basePosition=list(PARK_POSITION),
            linkMasses=[0.05, 0.05],
            linkCollisionShapeIndices=[s[0] for s in shapes],
            linkVisualShapeIndices=[s[1] for s in shapes],
            linkPositions=[[0, 0, 0], [0, 0, 0]],
            linkOrientations=[[0, 0, 0, 1], [0, 0, 0, 1]],
            linkInertialFramePositions=[[0, 0, 0], [0, 0, 0]],
            linkInertialFrameOrientations=[[0, 0, 0, 1], [0, 0, 0, 1]],
            linkParentIndices=[0, 0],
            linkJointTypes=[p.JOINT_PRISMATIC, p.JOINT_PRISMATIC],
            linkJointAxis=[[0, 1, 0], [0, -1, 0]], **kw)
        for link in (-1, 0, 1):
            p.changeDynamics(self.body, link, lateralFriction=friction, spinningFriction=0.01,
                             rollingFriction=0.0, **kw)
        for joint in (0, 1):
            p.changeDynamics(self.body, joint, jointLowerLimit=0.0,
                             jointUpperLimit=MAX_OPENING / 2, **kw)
        self.constraint = p.createConstraint(self.body, -1, -1, -1, p.JOINT_FIXED, [0, 0, 0],
                                             [0, 0, 0], list(PARK_POSITION), **kw)
        p.changeConstraint(self.constraint, maxForce=1000, **kw)

    def teleport(self, position: np.ndarray, quaternion: list[float], opening: float) -> None:
        """Place the TCP at ``position`` (world, m) with fingers ``opening`` m apart."""
        import pybullet as p

        kw = {'physicsClientId': self.client}
        p.resetBasePositionAndOrientation(self.body, list(position), quaternion, **kw)
        p.resetBaseVelocity(self.body, [0, 0, 0], [0, 0, 0], **kw)
        for joint in (0, 1):
            p.resetJointState(self.body, joint, opening / 2, 0.0, **kw)
        self.hold(position, quaternion)
        self.set_opening(opening)

    def hold(self, position: np.ndarray, quaternion: list[float]) -> None:
        """Move the base constraint's target to ``position``/``quaternion`` (world)."""
        import pybullet as p

        p.changeConstraint(self.constraint, jointChildPivot=list(position),
                           jointChildFrameOrientation=quaternion, maxForce=1000,
                           physicsClientId=self.client)

    def set_opening(self, opening: float, force: float = 40.0) -> None:
        """Drive the fingers towards ``opening`` m apart with ``force`` N each."""
        import pybullet as p

        for joint in (0, 1):
            p.setJointMotorControl2(self.body, joint, p.POSITION_CONTROL,
                                    targetPosition=opening / 2, force=force, maxVelocity=0.3,
                                    physicsClientId=self.client)

    def park(self) -> None:
        """Move the gripper out of the workspace (and out of any camera's view)."""
        self.teleport(np.asarray(PARK_POSITION), [0, 0, 0, 1], MAX_OPENING)

    def touches(self, body: int, link: int) -> bool:
        """Whether gripper link ``link`` (-1 palm, 0/1 fingers) is in contact with ``body``."""
        import pybullet as p

        return bool(p.getContactPoints(self.body, body, link, -1, physicsClientId=self.client))

    def holds(self, body: int) -> bool:
        """Whether both fingers touch ``body``."""
        return self.touches(body, 0) and self.touches(body, 1)


def _move(gripper: ParallelGripper, start: np.ndarray, end: np.ndarray, quat: list[float],
          steps: int) -> None:
    """Drive the TCP linearly from ``start`` to ``end`` (world, m) over ``steps`` steps."""
    import pybullet as p

    for i in range(1, steps + 1):
        gripper.hold(start + (end - start) * (i / steps), quat)
        p.stepSimulation(physicsClientId=gripper.client)


def try_grasp(
    client: int,
    pose: GraspPose,
    opening: float,
    gripper: ParallelGripper | None = None,
    objects: list[int] | None = None,
    settings: TrialSettings | None = None,
) -> bool:
    """Execute one grasp and report whether it held.

    Open to ``opening`` m, approach the TCP ``pose`` along its z axis from
    ``settings.pre_grasp`` m away, close, lift, shake. True when one of ``objects`` (default:
    every other body) is held by both fingers and raised by ``settings.min_lift`` m.

    The trial changes the world: restore a saved state (``p.restoreState``) between trials.
    """
    import pybullet as p

    if not 0.0 < opening <= MAX_OPENING + 1e-9:
        raise ValueError(f'try_grasp: opening must be in (0, {MAX_OPENING}] m, got {opening}')
    st = settings or TrialSettings()
    grip = gripper or ParallelGripper(client)
    kw = {'physicsClientId': client}
    if objects is None:
        objects = [p.getBodyUniqueId(i, **kw) for i in range(p.getNumBodies(**kw))]
        objects = [b for b in objects if b != grip.body]
    start_z = {b: p.getBasePositionAndOrientation(b, **kw)[0][2] for b in objects}
    quat = pose.quaternion()
    target = np.asarray(pose.position, dtype=float)
    approach = np.asarray(pose.rotation, dtype=float)[:, 2]
    pre = target - approach * st.pre_grasp
    grip.teleport(pre, quat, opening)
    p.performCollisionDetection(**kw)
    if p.getContactPoints(bodyA=grip.body, **kw):
        grip.park()
        return False  # the open gripper collides before the approach even starts
    _move(grip, pre, target, quat, st.approach_steps)
    grip.set_opening(0.0, st.grip_force)
    for _ in range(st.close_steps):
        p.stepSimulation(**kw)
    lifted = target + np.array([0.0, 0.0, st.lift_height])
    _move(grip, target, lifted, quat, st.lift_steps)
    if not any(grip.holds(b) for b in objects):
        grip.park()
        return False  # dropped during the lift (early exit saves the shake)
    quarter = max(1, st.shake_steps // 4)
    side = np.asarray(pose.rotation, dtype=float)[:, 0] * st.shake_amplitude
    here = lifted
    for offset in (side, -side, side, np.zeros(3)):
        _move(grip, here, lifted + offset, quat, quarter)
        here = lifted + offset
    success = any(
        grip.holds(b) and p.getBasePositionAndOrientation(b, **kw)[0][2] - start_z[b] > st.min_lift
        for b in objects)
    grip.park()
    return success
