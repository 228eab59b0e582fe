# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Parameters of the grasp detector node: names, defaults, ranges, descriptions, validation.

The table :data:`PARAMETERS` is ROS-free (tests and docs read it); :func:`declare_all` turns it
into ``ParameterDescriptor`` declarations on an rclpy node and :func:`validate` checks a
requested change (used by the node's set-parameters callback). The detection
parameters take their defaults from ``DetectorConfig`` (whose gripper openings, finger sizes
and approach margin are the shipped gripper file's, ``config/grippers/franka_hand.yaml``);
``config/detector.yaml`` writes the same values, except the gripper file's: those default to
the values of the file ``gripper_config`` names (:func:`declare_all`). Units are in the names:
``_m`` metres, ``_px`` pixels of the full-resolution source image, ``_s`` seconds, ``_hz``
hertz; angles in radians.
"""

from __future__ import annotations

import math
from typing import Any

from kufenet_grasp.detection.detector import DetectorConfig
from kufenet_grasp.geometry.finger_clearance import FingerModel
from kufenet_grasp.geometry.gripper import DEFAULT_GRIPPER, GripperConfig, load_gripper
from kufenet_grasp.geometry.workspace import bounds_problem, corner_problem
from kufenet_grasp.grasp.preprocess import CROP_MODES
from kufenet_grasp.nodes.parameter_declaration import declare_specs
from kufenet_grasp.runtime.parameter_table import check_spec, ParamSpec

BACKENDS = ('auto', 'torch', 'onnxruntime', 'openvino')
RELIABILITIES = ('best_effort', 'reliable')
#: the detector's defaults: every detection parameter below takes its default from here
_DETECTOR = DetectorConfig()
#: the finger check's defaults (sizes from config/grippers/franka_hand.yaml)
_FINGERS = _DETECTOR.fingers or FingerModel()


PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec('autostart', True, 'configure and activate on start (no lifecycle manager '
              'needed)', read_only=True),
    ParamSpec('weights', '', 'model weights: a .safetensors / .onnx / .xml path or a preset '
              'name; empty = the shipped models/kufenet-80k.safetensors, else the '
              'kufenet-80k preset with RANDOM weights', read_only=True),
    ParamSpec('backend', 'auto', 'inference backend', choices=BACKENDS, read_only=True),
    ParamSpec('threads', 1, "CPU threads for one inference and for OpenCV's pre-processing",
              1, 64, read_only=True),
    ParamSpec('input_size', _DETECTOR.input_size, 'square network input side (px)', 8, 1024,
              read_only=True),
    ParamSpec('crop_mode', _DETECTOR.crop_mode,
              'center: square centre crop then resize; full: resize the '
              'whole image to the square input', choices=CROP_MODES, read_only=True),
    ParamSpec('roi_px', [0.0, 0.0, 0.0, 0.0], 'region of interest [x_min, y_min, x_max, '
              'y_max] in colour-image px: the network input window is centred on it and grasps '
              'outside it are rejected; all zeros = the whole image'),
    ParamSpec('roi_workspace.min_xyz', [0.0, 0.0, 0.0], 'lower corner (m, base_frame) of a box '
              'whose image, through the camera-to-base transform at each frame, is the region '
              'of interest (a moving wrist camera gets a new one every frame); both corners all '
              'zeros = off (then roi_px applies)'),
    ParamSpec('roi_workspace.max_xyz', [0.0, 0.0, 0.0], 'upper corner (m, base_frame) of that '
              'box, above roi_workspace.min_xyz on every axis'),
    ParamSpec('quality_threshold', _DETECTOR.quality_threshold, 'minimum grasp quality in '
              '[0, 1]', 0.0, 1.0),
    ParamSpec('top_k', _DETECTOR.top_k, 'grasps published / returned at most (best first)',
              1, 100),
    ParamSpec('min_peak_distance_px', _DETECTOR.min_distance_px, 'minimum distance between two '
              'grasp centres (px of the network input)', 1, 500),
    ParamSpec('depth_min_m', _DETECTOR.depth_range_m[0], 'nearest valid depth (m)', 0.0, 20.0),
    ParamSpec('depth_max_m', _DETECTOR.depth_range_m[1], 'farthest valid depth (m)', 0.0, 20.0),
    ParamSpec('depth_search_radius_px', _DETECTOR.depth_search_radius_px,
              'radius searched for the nearest valid depth when '
              'the grasp centre has none (px); 0 = reject', 0, 100),
    ParamSpec('gripper_config', DEFAULT_GRIPPER, 'gripper file, as grasp_executor takes it: a '
              'YAML path or the name of a file in share/kufenet_grasp/config/grippers; the '
              'finger check and the markers use its fingers, and the gripper.* openings, '
              'finger sizes and approach margin default to its values', read_only=True),
    ParamSpec('gripper.min_width_m', _DETECTOR.min_width_m, 'smallest gripper opening (m)',
              0.0, 1.0),
    ParamSpec('gripper.max_width_m', _DETECTOR.max_width_m, 'largest gripper opening (m)',
              0.001, 1.0),
    ParamSpec('gripper.width_margin_m', _DETECTOR.width_margin_m,
              'opening added to the measured object width in '
              'width_m (m); keep 0 when grasp_executor consumes the grasps (it adds its '
              "gripper's margin)", 0.0, 0.5),
    ParamSpec('gripper.fit_width_to_object', _DETECTOR.fit_width_to_object,
              "measure the object's extent along the "
              'closing axis in the depth image and open only that much (plus the margin) when '
              'the predicted rectangle is wider'),
    ParamSpec('gripper.finger_check', _DETECTOR.fingers is not None,
              'reject grasps where a finger would land on '
              "something: each finger's footprint must be free in the depth image down to "
              'finger_clearance_m below the grasp point'),
    ParamSpec('gripper.finger_thickness_m', _FINGERS.thickness_m,
              'finger size along the closing axis (m)', 0.001, 0.1),
    ParamSpec('gripper.finger_width_m', _FINGERS.width_m,
              'finger size across the closing axis (m)', 0.001, 0.2),
    ParamSpec('gripper.finger_clearance_m', _FINGERS.clearance_m,
              "free space needed at each finger below the grasp point's depth (m): how far "
              'the finger tips go past it, less the depth noise', 0.0, 0.1),
    ParamSpec('gripper.finger_max_blocked_fraction', _FINGERS.max_blocked_fraction,
              'share of a finger footprint that may be in the way (depth noise)', 0.0, 1.0),
    ParamSpec('gripper.approach_margin_m', _FINGERS.opening_margin_m,
              'how much wider than width_m the fingers open for the approach (m): the '
              "executor gripper's width_margin_m", 0.0, 0.5),
    ParamSpec('tcp_offset.xyz', [0.0, 0.0, 0.0], 'tool link in the grasp frame, translation '
              '(m): z = approach axis'),
    ParamSpec('tcp_offset.yaw', 0.0, 'tool link yaw about the approach axis (rad)',
              -math.pi, math.pi),
    ParamSpec('base_frame', 'base_link', 'frame of kufenet/grasp_pose (REP-105)',
              read_only=True),
    ParamSpec('tf_timeout_s', 0.1, 'how long to wait for the camera-to-base transform (s)',
              0.0, 5.0),
    ParamSpec('static_transform.enabled', False, 'use a fixed camera-to-base transform instead '
              'of tf2', read_only=True),
    ParamSpec('static_transform.translation', [0.0, 0.0, 0.0], 'camera optical frame origin in '
              'base_frame (m)', read_only=True),
    ParamSpec('static_transform.rotation', [0.0, 0.0, 0.0, 1.0], 'camera optical frame '
              'orientation in base_frame, unit quaternion (x, y, z, w)', read_only=True),
    ParamSpec('static_transform.calibration_file', '', 'calibration YAML (parent_frame, '
              'child_frame, translation, rotation_quaternion|rotation_rpy); overrides the two '
              'above when set', read_only=True),
    ParamSpec('max_frame_age_s', 1.0, 'refuse frames older than this (s); 0 = no limit',
              0.0, 3600.0),
    ParamSpec('max_clock_skew_s', 0.5, 'warn when frame stamps are more than this far ahead '
              "of the node's clock (s; clocks not synchronised); such frames age from their "
              'arrival', 0.0, 3600.0),
    ParamSpec('min_image_side_px', 32, 'refuse (BAD_INPUT) colour or depth images narrower or '
              'lower than this (px)', 1, 4096),
    ParamSpec('max_image_pixels', 3_145_728, 'refuse (BAD_INPUT) colour or depth images with '
              'more pixels than this, unread (default 3 Mpx, e.g. 2048x1536: a 32FC1 image of '
              "that size, 12 MiB, fits the DDS profile's 16 MiB shared-memory segment)",
              1, 67_108_864),
    ParamSpec('sync_slop_s', 0.05, 'largest stamp spread of colour, depth and info that still '
              'forms one frame (s)', 0.0, 1.0, read_only=True),
    ParamSpec('input_reliability', 'best_effort', 'QoS reliability of the camera '
              'subscriptions (best_effort also hears reliable publishers)',
              choices=RELIABILITIES, read_only=True),
    ParamSpec('input_queue_depth', 2, 'QoS depth of the camera subscriptions', 1, 5,
              read_only=True),
    ParamSpec('max_rate_hz', 10.0, 'compute budget: the model runs at most this often '
              'on average (Hz); frames over the budget are skipped, never delayed; 0 = as fast '
              'as frames arrive', 0.0, 1000.0),
    ParamSpec('no_frame_warning_s', 5.0, 'warn when no synchronised frame arrived for this long '
              '(s)', 0.5, 3600.0),
    ParamSpec('diagnostics_period_s', 1.0, 'period of /diagnostics (s)', 0.1, 60.0,
              read_only=True),
    ParamSpec('publish_debug_image', True, 'publish kufenet/debug_image (only computed while '
              'someone subscribes)'),
    ParamSpec('publish_markers', True, 'publish kufenet/markers (gripper fingers and approach '
              'arrow; only computed while someone subscribes)'),
)

SPECS: dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}
#: the corners of the workspace box that gives the region of interest (both all zeros = off)
ROI_WORKSPACE = ('roi_workspace.min_xyz', 'roi_workspace.max_xyz')
#: parameters whose defaults are the gripper file's (config/detector.yaml leaves them out)
FROM_GRIPPER_FILE = ('gripper.min_width_m', 'gripper.max_width_m', 'gripper.finger_thickness_m',
                     'gripper.finger_width_m', 'gripper.approach_margin_m')


def gripper_defaults(gripper: GripperConfig) -> dict[str, float]:
    """Values of the :data:`FROM_GRIPPER_FILE` parameters that ``gripper``'s file gives (m)."""
    return {'gripper.min_width_m': gripper.min_width_m,
            'gripper.max_width_m': gripper.max_width_m,
            'gripper.finger_thickness_m': gripper.finger_thickness_m,
            'gripper.finger_width_m': gripper.finger_width_m,
            'gripper.approach_margin_m': gripper.width_margin_m}


def declare_all(node: Any, defaults: dict[str, Any] | None = None) -> None:
    """Declare every parameter on ``node`` with a ParameterDescriptor.

    ``defaults`` replaces the table's defaults (e.g. from a test); values from YAML / the
    command line still win, as for any declared parameter. ``gripper_config`` is declared
    first: the parameters its file gives (:data:`FROM_GRIPPER_FILE`) default to that file's
    values. A file that cannot be read leaves the table's; configure then refuses it.
    """
    defaults = dict(defaults or {})
    first = SPECS['gripper_config']
    declare_specs(node, (first,), defaults)
    try:
        from_file = gripper_defaults(load_gripper(str(node.get_parameter(first.name).value)))
    except (OSError, ValueError):
        from_file = {}
    declare_specs(node, [spec for spec in PARAMETERS if spec is not first],
                  {**from_file, **defaults})


def validate(name: str, value: Any, current: dict[str, Any] | None = None) -> str | None:
    """Reason why ``name = value`` is refused, or None when it is acceptable.

    ``current`` holds the other parameters' values, for cross checks (depth_min < depth_max,
    gripper min < max).
    """
    spec = SPECS.get(name)
    if spec is None:
        return None
    problem = check_spec(spec, value)
    if problem:
        return problem
    if name in ('tcp_offset.xyz', 'static_transform.translation') and len(list(value)) != 3:
        return f'{name} must hold 3 numbers (x, y, z metres), got {list(value)!r}'
    if name == 'roi_px':
        roi = [float(v) for v in value]
        if len(roi) != 4 or not all(math.isfinite(v) for v in roi) or (
                any(roi) and not (roi[2] > roi[0] >= 0 and roi[3] > roi[1] >= 0)):
            return (f'{name} must be [x_min, y_min, x_max, y_max] px with x_max > x_min >= 0 '
                    f'and y_max > y_min >= 0, or all zeros; got {roi!r}')
    if name in ROI_WORKSPACE:
        problem = corner_problem(name, value)
        if problem:
            return problem
        box = {n: v for n, v in (current or {}).items() if n in ROI_WORKSPACE}
        box[name] = value
        lo, hi = (box.get(n) for n in ROI_WORKSPACE)
        if lo is not None and hi is not None and (any(lo) or any(hi)):
            problem = bounds_problem(lo, hi, ROI_WORKSPACE)
            if problem:
                return f'{problem} (or both all zeros: off)'
    if name == 'gripper_config':
        try:
            load_gripper(str(value))
        except (OSError, ValueError) as exc:
            return f'gripper_config: {exc}'
    if name == 'static_transform.rotation':
        q = [float(v) for v in value]
        if len(q) != 4 or abs(math.sqrt(sum(v * v for v in q)) - 1.0) > 1e-3:
            return f'{name} must be a unit quaternion (x, y, z, w), got {q!r}'
    cur = dict(current or {})
    cur[name] = value
    pairs = (('depth_min_m', 'depth_max_m'), ('gripper.min_width_m', 'gripper.max_width_m'))
    for low_name, high_name in pairs:
        if name in (low_name, high_name) and low_name in cur and high_name in cur \
                and not cur[low_name] < cur[high_name]:
            return f'{low_name} ({cur[low_name]}) must be smaller than {high_name} ' \
                   f'({cur[high_name]})'
    return None
