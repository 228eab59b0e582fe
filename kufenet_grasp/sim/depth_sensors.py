# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The depth sensor of a synthetic scene: Kinect v1, RealSense D4xx or perfect depth.

Each scene draws one sensor model and turns its perfect z-depth (m, NaN invalid) into what that
sensor would return: :mod:`kufenet_grasp.sim.structured_light` for the Kinect v1,
:mod:`kufenet_grasp.sim.depth_noise` (active stereo) for the RealSense D4xx, the rendered depth
unchanged for 'perfect'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from kufenet_grasp.sim.camera import CameraIntrinsics
from kufenet_grasp.sim.depth_noise import add_stereo_noise, sample_stereo_noise, StereoNoise
from kufenet_grasp.sim.structured_light import (
    add_structured_light_noise,
    sample_structured_light_noise,
    StructuredLightNoise,
)
import numpy as np

SENSORS = ('kinect_v1', 'realsense_d4xx', 'perfect')
DEFAULT_WEIGHTS = (0.4, 0.4, 0.2)
#: below this camera-to-support distance (m) a Kinect v1 sees little (its range starts at
#: about 0.45 m), so such scenes use the RealSense model instead
KINECT_MIN_DISTANCE = 0.6

_Params = TypeVar('_Params', StructuredLightNoise, StereoNoise)


@dataclass(frozen=True)
class DepthSensor:
    """A drawn sensor: its model name and noise parameters (None for 'perfect')."""

    model: str
    params: StructuredLightNoise | StereoNoise | None = None

    def to_dict(self) -> dict:
        """JSON-ready dictionary: ``model`` and ``params``."""
        return {'model': self.model,
                'params': self.params.to_dict() if self.params is not None else None}


def sample_depth_sensor(rng: np.random.Generator, camera_distance: float,
                        weights: tuple[float, float, float] = DEFAULT_WEIGHTS) -> DepthSensor:
    """Draw a sensor by ``weights`` over :data:`SENSORS` for a camera ``camera_distance`` m off."""
    w = np.asarray(weights, dtype=float)
    if w.shape != (3,) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f'sample_depth_sensor: weights must be 3 non-negative numbers with a '
                         f'positive sum, got {weights}')
    model = SENSORS[int(rng.choice(3, p=w / w.sum()))]
    if model == 'kinect_v1' and camera_distance < KINECT_MIN_DISTANCE:
        model = 'realsense_d4xx'
    if model == 'kinect_v1':
        return DepthSensor(model, sample_structured_light_noise(rng))
    if model == 'realsense_d4xx':
        return DepthSensor(model, sample_stereo_noise(rng))
    return DepthSensor(model)


def _params(sensor: DepthSensor, kind: type[_Params]) -> _Params | None:
    """Return the sensor's noise parameters, which must be of ``kind`` (None: defaults)."""
    if sensor.params is not None and not isinstance(sensor.params, kind):
        raise ValueError(f'sensor_depth: a {sensor.model} sensor needs {kind.__name__} '
                         f'parameters, got {type(sensor.params).__name__}')
    return sensor.params


def sensor_depth(sensor: DepthSensor, depth: np.ndarray, rgb: np.ndarray,
                 rng: np.random.Generator, intrinsics: CameraIntrinsics) -> np.ndarray:
    """Return what ``sensor`` measures for perfect z-depth ``depth`` (m) and the view's ``rgb``."""
    if sensor.model == 'kinect_v1':
        return add_structured_light_noise(depth, rgb, rng, _params(sensor, StructuredLightNoise),
                                          fx=intrinsics.fx, fy=intrinsics.fy, cx=intrinsics.cx,
                                          cy=intrinsics.cy)
    if sensor.model == 'realsense_d4xx':
        return add_stereo_noise(depth, rng, _params(sensor, StereoNoise), fx=intrinsics.fx)
    if sensor.model == 'perfect':
        return np.asarray(depth, dtype=np.float32).copy()
    raise ValueError(f'sensor_depth: unknown sensor model {sensor.model!r}')
