# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Build the grasp detector from the detector's parameters: weights, backend, warm-up, config.

Shared by the ``grasp_detector`` node and ``kufenet detect`` so that both run the same model
with the same settings. ``settings`` is a flat dict of the detector's parameter values keyed
by their dotted names (``quality_threshold``, ``gripper.max_width_m``, ...), as declared in
``kufenet_grasp/nodes/detector_params.py`` and written in ``config/detector.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kufenet_grasp.common.package_files import find_package_file
from kufenet_grasp.common.vectors import float3, float4
from kufenet_grasp.deploy.model_metadata import input_spec_dict, read_model_metadata
from kufenet_grasp.deploy.runtimes import create_exported_backend, is_exported_path
from kufenet_grasp.detection.detector import DetectorConfig, GraspDetector, InferFn
from kufenet_grasp.geometry.finger_clearance import FingerModel
from kufenet_grasp.geometry.gripper import GripperConfig, load_gripper
from kufenet_grasp.geometry.transforms import from_xyz_yaw, RigidTransform
from kufenet_grasp.geometry.workspace import WorkspaceBounds
from kufenet_grasp.grasp.model_input import InputSpec, LEGACY_INPUT
import numpy as np

#: builds an inference backend: (backend name, weights source, input_size px, threads) -> object
#: with ``infer(x (1,4,S,S) float32) -> (1,4,S,S)``. Tests replace it with an oracle backend.
BackendFactory = Callable[[str, str, int, int], Any]
DEFAULT_PRESET = 'kufenet-80k'


def create_default_backend(name: str, source: str, input_size: int, threads: int) -> Any:
    """Return the project's backend for ``source``.

    An exported ``.onnx`` / ``.xml`` file runs through ``kufenet_grasp.deploy.runtimes``,
    which never imports PyTorch (a smaller, faster-starting process); weights files and
    presets go through ``kufenet_grasp.deploy.backends.create_backend``.
    """
    if is_exported_path(source):
        return create_exported_backend(name, source, input_size=input_size, threads=threads)
    from kufenet_grasp.deploy.backends import create_backend

    return create_backend(name, source, input_size=input_size, threads=threads)


def shipped_weights() -> tuple[str, bool]:
    """(source, is_random): the shipped ``models/kufenet-80k.safetensors``, or the preset.

    The file is looked up in the installed share, else the source tree
    (:mod:`kufenet_grasp.common.package_files`). Without it the source is the ``kufenet-80k``
    preset name, which builds a model with RANDOM weights.
    """
    path = find_package_file('models', f'{DEFAULT_PRESET}.safetensors')
    return (str(path), False) if path is not None else (DEFAULT_PRESET, True)


def input_spec_of_source(source: str) -> InputSpec:
    """Input spec recorded in a weights file or an exported model; the legacy input otherwise.

    An exported ``.onnx`` / ``.xml`` file carries its weights file's metadata, read here
    without PyTorch.
    """
    if is_exported_path(source):
        return InputSpec.from_dict(input_spec_dict(read_model_metadata(source)))
    if not str(source).endswith('.safetensors'):
        return LEGACY_INPUT
    from kufenet_grasp.models.weights import input_spec_of, read_metadata

    return input_spec_of(read_metadata(source))


def detector_config(settings: dict[str, Any], input_spec: InputSpec | None = None
                    ) -> DetectorConfig:
    """``DetectorConfig`` from the detector's parameter values (see the module docstring).

    ``input_spec`` (how the network input is made) comes from the weights metadata
    (:func:`input_spec_of_source`); None = the legacy pixel crop.
    """
    fingers = replace(
        FingerModel.from_gripper(gripper_config(settings)),
        clearance_m=float(settings['gripper.finger_clearance_m']),
        max_blocked_fraction=float(settings['gripper.finger_max_blocked_fraction']),
    ) if bool(settings['gripper.finger_check']) else None
    return DetectorConfig(
        input_size=int(settings['input_size']),
        crop_mode=str(settings['crop_mode']),
        quality_threshold=float(settings['quality_threshold']),
        top_k=int(settings['top_k']),
        min_distance_px=int(settings['min_peak_distance_px']),
        depth_range_m=(float(settings['depth_min_m']), float(settings['depth_max_m'])),
        depth_search_radius_px=int(settings['depth_search_radius_px']),
        min_width_m=float(settings['gripper.min_width_m']),
        max_width_m=float(settings['gripper.max_width_m']),
        width_margin_m=float(settings['gripper.width_margin_m']),
        fit_width_to_object=bool(settings['gripper.fit_width_to_object']),
        fingers=fingers,
        input_spec=input_spec or LEGACY_INPUT,
        roi_px=_roi(settings.get('roi_px')),
    )


def gripper_config(settings: dict[str, Any]) -> GripperConfig:
    """Return the ``gripper_config`` file with the detector's ``gripper.*`` parameters applied.

    Openings, finger sizes and the approach margin (``gripper.approach_margin_m``, the
    executor's ``width_margin_m``) come from the parameters (whose defaults are the file's),
    the rest (finger length, command mapping) from the file: the finger check and the markers
    use it. An unknown name or an unreadable file raises a one-line FileNotFoundError /
    ValueError.
    """
    return replace(load_gripper(str(settings['gripper_config'])),
                   min_width_m=float(settings['gripper.min_width_m']),
                   max_width_m=float(settings['gripper.max_width_m']),
                   finger_thickness_m=float(settings['gripper.finger_thickness_m']),
                   finger_width_m=float(settings['gripper.finger_width_m']),
                   width_margin_m=float(settings['gripper.approach_margin_m']))


def _roi(value: Any) -> tuple[float, float, float, float] | None:
    """Return the ``roi_px`` parameter as a box, None for all zeros (the whole image)."""
    roi = float4(value or (0, 0, 0, 0), 'roi_px')
    return None if not any(roi) else roi


def load_model(settings: dict[str, Any], source: str,
               factory: BackendFactory | None = None) -> InferFn:
    """Build the inference backend for ``source`` and warm it up; return its ``infer``.

    Uses the ``backend``, ``input_size`` (px) and ``threads`` settings; OpenCV's resizing and
    smoothing get the same thread budget as the model.

    Raises:
        ValueError: the model's output does not match ``input_size`` (or is not finite);
            the factory's own errors (missing file, refused pickle, ...) pass through.

    """
    import cv2

    size, threads = int(settings['input_size']), int(settings['threads'])
    cv2.setNumThreads(threads)
    backend = (factory or create_default_backend)(str(settings['backend']), source, size,
                                                  threads)
    warm = np.asarray(backend.infer(np.zeros((1, 4, size, size), np.float32)))
    if warm.shape != (1, 4, size, size) or not np.all(np.isfinite(warm)):
        raise ValueError(f"model '{source}' does not match input_size {size}: warm-up "
                         f'output has shape {warm.shape} (expected (1, 4, {size}, {size}) '
                         f'finite maps)')
    return backend.infer


def build_detector(infer_fn: InferFn, settings: dict[str, Any],
                   input_spec: InputSpec | None = None) -> GraspDetector:
    """Return the ``GraspDetector`` that runs ``infer_fn`` with the given parameter values.

    ``input_spec``: the model's, from :func:`input_spec_of_source` (None = legacy crop).
    """
    return GraspDetector(infer_fn, detector_config(settings, input_spec))


def tcp_offset(settings: dict[str, Any]) -> RigidTransform:
    """T_grasp_tool from the ``tcp_offset.xyz`` (m) and ``tcp_offset.yaw`` (rad) parameters."""
    return from_xyz_yaw(list(settings['tcp_offset.xyz']), float(settings['tcp_offset.yaw']))


def roi_workspace(settings: dict[str, Any]) -> WorkspaceBounds | None:
    """Return the ``roi_workspace.*`` box (m, base frame), None when both corners are zeros."""
    lo = float3(settings.get('roi_workspace.min_xyz') or (0.0, 0.0, 0.0), 'roi_workspace.min_xyz')
    hi = float3(settings.get('roi_workspace.max_xyz') or (0.0, 0.0, 0.0), 'roi_workspace.max_xyz')
    if not any(lo) and not any(hi):
        return None
    return WorkspaceBounds(lo, hi)
