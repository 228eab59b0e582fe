# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Reference grasps for the demo without a trained model: the dataset's physics labeller.

``--grasps labeller`` measures the robot side of the pipeline (executor, motion backend,
gripper physics) with grasps that the free-floating gripper of the synthetic dataset
(``kufenet_grasp.sim.labelling``) verified on the current scene. The grasp frame is returned
like the detector returns it: origin on the visible surface point of the rectangle centre,
z along the camera's optical axis, y the closing axis, in ``base_link`` (metres).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kufenet_grasp.geometry.transforms import RigidTransform
from kufenet_grasp.sim.gripper import ParallelGripper
from kufenet_grasp.sim.labelling import grasp_pose, label_grasps, LabelSettings
from kufenet_grasp.sim.world import SimWorld
import numpy as np

#: object width (m) handed to the executor: the labeller's opening minus its smallest margin
LABEL_MARGIN_M = 0.008
#: the Panda's largest opening minus the executor's default width margin (m)
PANDA_MAX_OBJECT_WIDTH_M = 0.07


@dataclass(frozen=True)
class ReferenceGrasp:
    """A verified grasp: rectangle (px, rad), its frame in base_link and the object width (m)."""

    center: tuple[float, float]
    angle: float
    opening_px: float
    jaw_px: float
    width_m: float
    depth_m: float
    pose: RigidTransform


def labelled_grasp(world: SimWorld, rng: np.random.Generator, candidates: int = 24
                   ) -> ReferenceGrasp | None:
    """Return a physics-verified grasp on the world's objects, or None when none is found.

    Of up to 4 verified grasps the first that fits the Panda hand is chosen (else the first).
    The world is restored to its state before labelling (the labeller's gripper is removed).
    """
    import pybullet as p

    if candidates < 1:
        raise ValueError(f'labelled_grasp: candidates must be >= 1, got {candidates}')
    frame = world.capture(rng)
    kw = {'physicsClientId': world.client}
    with world.lock:
        bodies = world.object_bodies()
        if not bodies:
            return None
        gripper = ParallelGripper(world.client)
        gripper.park()
        state = p.saveState(**kw)
        try:
            found, _ = label_grasps(world.client, gripper, state, world.config.intrinsics,
                                    world.camera_pose_world(), frame.true_depth_m,
                                    frame.segmentation, bodies, 0.0, rng,
                                    LabelSettings(max_candidates=candidates, max_successes=4))
        finally:
            p.restoreState(state, **kw)
            p.removeState(state, **kw)
            p.removeBody(gripper.body, **kw)
    if not found:
        return None
    fitting = [g for g in found
               if g.opening_m - LABEL_MARGIN_M <= PANDA_MAX_OBJECT_WIDTH_M]
    grasp = (fitting or found)[0]
    surface = grasp_pose(world.config.intrinsics, world.camera_pose_world(),
                         replace(grasp, depth_m=0.0))
    pose = world.base.inverse().compose(RigidTransform(np.asarray(surface.rotation),
                                                       np.asarray(surface.position)))
    width = max(grasp.opening_m - LABEL_MARGIN_M, 0.0)
    return ReferenceGrasp((grasp.x, grasp.y), float(grasp.angle), float(grasp.opening),
                          float(grasp.jaw), float(width), float(grasp.z), pose)
