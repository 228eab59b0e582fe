# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Execute an image grasp on a generated scene, rebuilt from its ``scene.json``, in physics.

This is how a detected grasp is judged by what a gripper does rather than by the labels: the
scene's objects are put back at their resting poses, and the grasp is tried exactly as the
generator tried its candidates (:func:`~kufenet_grasp.sim.labelling.label_grasps`): the TCP
goes :data:`GRASP_DEPTH_M` beyond the surface along the optical axis (less where the
fingertips would reach the support), the gripper opens to the grasp's opening, closes, lifts
and shakes. A generated scene's labels come from a few dozen sampled candidates, so a grasp
that holds may still lie where no label was drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any

from kufenet_grasp.sim.camera import backproject, CameraIntrinsics, CameraPose
from kufenet_grasp.sim.gripper import (
    FINGER_LENGTH,
    FINGER_WIDTH,
    MAX_OPENING,
    ParallelGripper,
    try_grasp,
)
from kufenet_grasp.sim.labelling import grasp_pose, ImageGrasp, LabelSettings
from kufenet_grasp.sim.scene import build_scene, SceneSpec
import numpy as np

#: how far (m) the TCP goes beyond the surface point: the middle of the generator's range
GRASP_DEPTH_M = float(np.mean(LabelSettings().depth))


@dataclass(frozen=True)
class PlanarGrasp:
    """A grasp in the pixels of a scene's image: centre ``x, y`` px, ``angle`` rad, opening m.

    The angle is the closing axis from the image +x axis, counter-clockwise as displayed
    (:mod:`kufenet_grasp.grasp.rectangle`); ``opening_m`` is what the gripper opens to.
    """

    x: float
    y: float
    angle: float
    opening_m: float


class SceneTrials:
    """A generated scene rebuilt in its own PyBullet client, for trying grasps one by one.

    ``record`` is the scene's ``scene.json`` (status ``ok``); ``depth_m`` its perfect z-depth
    image (m), from which each grasp's surface depth is read. Use as a context manager (the
    client is disconnected on exit).
    """

    def __init__(self, record: dict[str, Any], depth_m: np.ndarray) -> None:
        """Rebuild the scene of ``record``; ``depth_m`` is its perfect depth image (m)."""
        import pybullet as p

        if record.get('status') != 'ok' or 'scene' not in record:
            raise ValueError('SceneTrials: the scene record has no finished scene')
        self._depth = np.asarray(depth_m, dtype=np.float32)
        self.intrinsics = CameraIntrinsics(**record['camera']['intrinsics'])
        if self._depth.shape != (self.intrinsics.height, self.intrinsics.width):
            raise ValueError(f'SceneTrials: depth image {self._depth.shape} does not match the '
                             f'camera ({self.intrinsics.height}, {self.intrinsics.width})')
        self.camera = CameraPose.from_dict(record['camera']['pose'])
        self._client = p.connect(p.DIRECT)
        try:
            self._scene = build_scene(self._client, SceneSpec.from_dict(record['scene']))
            self._gripper = ParallelGripper(self._client)
            self._state = p.saveState(physicsClientId=self._client)
        except Exception:
            p.disconnect(self._client)
            raise

    def __enter__(self) -> SceneTrials:
        """Return self."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Disconnect the PyBullet client."""
        self.close()

    def close(self) -> None:
        """Disconnect the PyBullet client (idempotent)."""
        import pybullet as p

        if self._client is not None:
            p.disconnect(self._client)
            self._client = None

    def image_grasp(self, grasp: PlanarGrasp) -> ImageGrasp | None:
        """Return the generator's form of ``grasp`` (depth, opening px); None off the image.

        Also None on invalid depth, for a camera that does not look down, or where the TCP
        could not go 2 mm beyond the surface without the fingertips entering the support.
        """
        xi, yi = int(round(grasp.x)), int(round(grasp.y))
        if not (0 <= xi < self.intrinsics.width and 0 <= yi < self.intrinsics.height):
            return None
        z = float(self._depth[yi, xi])
        if not (math.isfinite(z) and z > 0):
            return None
        axis = self.camera.R[:, 2]
        if axis[2] >= -1e-6:  # the camera does not look down at the support
            return None
        surface = self.camera.R @ backproject(self.intrinsics, grasp.x, grasp.y, z) \
            + self.camera.t
        # as the generator: the fingertips stay a few millimetres above the support
        max_depth = (self._scene.support_z + LabelSettings().support_clearance
                     - surface[2]) / axis[2]
        depth = min(GRASP_DEPTH_M, max_depth, FINGER_LENGTH * 0.9)
        if depth <= 0.002:
            return None
        f_over_z = self.intrinsics.fx / z
        return ImageGrasp(x=float(grasp.x), y=float(grasp.y), angle=float(grasp.angle),
                          opening=grasp.opening_m * f_over_z, jaw=FINGER_WIDTH * f_over_z,
                          opening_m=float(grasp.opening_m), depth_m=float(depth), z=z, body=-1)

    def holds(self, grasp: PlanarGrasp) -> bool:
        """Execute ``grasp`` from the scene's resting state; True when an object is held.

        The opening is clamped to the gripper's (0, MAX_OPENING]. A grasp off the image, on
        invalid depth, or whose fingertips would have to enter the support does not hold.
        """
        import pybullet as p

        if self._client is None:
            raise RuntimeError('SceneTrials: closed')
        image = self.image_grasp(grasp)
        if image is None:
            return False
        opening = min(max(image.opening_m, 1e-3), MAX_OPENING)
        p.restoreState(self._state, physicsClientId=self._client)
        return try_grasp(self._client, grasp_pose(self.intrinsics, self.camera, image), opening,
                         gripper=self._gripper, objects=list(self._scene.objects))
