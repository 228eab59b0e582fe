# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Parameters of the grasp_executor node: names, defaults, ranges, descriptions, validation.

The table :data:`PARAMETERS` is ROS-free; :func:`declare_all` declares it on an rclpy node with
``ParameterDescriptor`` s and :func:`validate` checks a requested change. Defaults match
``config/executor.yaml``. Units are in the names: ``_m`` metres, ``_s`` seconds, ``_deg``
degrees (``tcp_offset.yaw`` in radians); positions are in ``base_frame``.
"""

from __future__ import annotations

import math
from typing import Any

from kufenet_grasp.common.vectors import float3
from kufenet_grasp.execution.pick_sequence import PickConfig
from kufenet_grasp.geometry.grasp_pose import tcp_offset
from kufenet_grasp.geometry.gripper import DEFAULT_GRIPPER
from kufenet_grasp.geometry.transforms import from_xyz_rpy
from kufenet_grasp.geometry.workspace import bounds_problem, corner_problem, WorkspaceBounds
from kufenet_grasp.nodes.parameter_declaration import declare_specs
from kufenet_grasp.runtime.parameter_table import check_spec, ParamSpec

MOTION_BACKENDS = ('moveit', 'sim')

PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec('base_frame', 'base_link', 'frame of every pose the executor commands (REP-105); '
              'grasp and place poses must be expressed in it', read_only=True),
    ParamSpec('motion_backend', 'moveit', 'arm backend of the standalone node: moveit '
              '(MoveItPy) or sim (only inside sim_world / make demo)', choices=MOTION_BACKENDS,
              read_only=True),
    ParamSpec('workspace.min_xyz', [0.2, -0.4, 0.0], 'workspace box lower corner in base_frame '
              '(m); no target below it is ever commanded'),
    ParamSpec('workspace.max_xyz', [0.8, 0.4, 0.6], 'workspace box upper corner in base_frame '
              '(m)'),
    ParamSpec('max_approach_angle_deg', 30.0, 'largest angle between the approach axis and '
              'straight down (deg)', 0.0, 180.0),
    ParamSpec('pre_grasp_distance_m', 0.1, 'pre-grasp standoff back along the approach axis '
              '(m)', 0.0, 1.0),
    ParamSpec('lift_height_m', 0.1, 'lift straight up after closing (m)', 0.0, 1.0),
    ParamSpec('floor_clearance_m', 0.003, 'grasps are raised (by at most 3 cm) so the '
              'fingertips and tool link stay this far above the workspace floor (m)', 0.0, 0.1),
    ParamSpec('retreat_distance_m', 0.1, 'retreat back along the approach axis after '
              'releasing (m)', 0.0, 1.0),
    ParamSpec('place.xyz', [0.4, 0.3, 0.15], 'default place pose: grasp-frame origin in '
              'base_frame (m)'),
    ParamSpec('place.rpy', [math.pi, 0.0, 0.0], 'default place pose: roll, pitch, yaw (rad, '
              'fixed axes x-y-z); [pi, 0, 0] points the approach axis straight down'),
    ParamSpec('quality_threshold', 0.3, 'refuse grasps below this quality', 0.0, 1.0),
    ParamSpec('max_grasp_age_s', 2.0, 'refuse grasps older than this (s); 0 = no limit',
              0.0, 3600.0),
    ParamSpec('top_k', 3, 'candidates tried at most, best first', 1, 100),
    ParamSpec('detect_timeout_s', 2.0, 'how long to wait for kufenet/detect_grasps (s)',
              0.05, 60.0),
    ParamSpec('plan_timeout_s', 5.0, 'planning time per stage (s), given to the backend',
              0.1, 120.0, read_only=True),
    ParamSpec('execution_timeout_s', 30.0, 'longest execution of one stage (s); 0 = no limit',
              0.0, 600.0),
    ParamSpec('tcp_offset.xyz', [0.0, 0.0, 0.0], 'tool link in the grasp frame (m), '
              'z = approach axis; 0 for a tool link between the fingertips (panda_hand_tcp, '
              'the simulation); [0, 0, -0.1034] for the Franka panda_hand link'),
    ParamSpec('tcp_offset.yaw', 0.0, 'tool link yaw about the approach axis (rad)',
              -math.pi, math.pi),
    ParamSpec('gripper_config', DEFAULT_GRIPPER, 'gripper mapping: a YAML path or the name of '
              'a file in share/kufenet_grasp/config/grippers', read_only=True),
    ParamSpec('auto_pick', False, 'start a pick whenever a fresh grasp arrives on '
              'kufenet/grasp_pose while idle'),
    ParamSpec('moveit.node_name', 'kufenet_moveit_py', "name of MoveItPy's internal node",
              read_only=True),
    ParamSpec('moveit.planning_group', 'panda_arm', 'MoveIt planning group of the arm',
              read_only=True),
    ParamSpec('moveit.tool_link', 'panda_hand_tcp', 'link whose pose the goals set (the tool '
              'link; see tcp_offset)', read_only=True),
    ParamSpec('moveit.gripper_group', 'hand', 'MoveIt planning group of the gripper joints',
              read_only=True),
    ParamSpec('moveit.home_configuration', 'ready', 'named (SRDF) configuration of home',
              read_only=True),
)

SPECS: dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}
#: the corners of the workspace box
WORKSPACE = ('workspace.min_xyz', 'workspace.max_xyz')
_VECTORS = ('place.xyz', 'place.rpy', 'tcp_offset.xyz')


def declare_all(node: Any, defaults: dict[str, Any] | None = None) -> None:
    """Declare every parameter on ``node`` with a ParameterDescriptor (``defaults`` replaced)."""
    declare_specs(node, PARAMETERS, defaults, strict=True)


def validate(name: str, value: Any, current: dict[str, Any] | None = None) -> str | None:
    """Reason why ``name = value`` is refused, or None when it is acceptable."""
    spec = SPECS.get(name)
    if spec is None:
        return None
    problem = check_spec(spec, value)
    if problem:
        return problem
    if name in _VECTORS:
        numbers = list(value)
        if len(numbers) != 3 or not all(math.isfinite(float(v)) for v in numbers):
            return f'{name} must hold 3 finite numbers, got {numbers!r}'
    if name in WORKSPACE:
        cur = {**(current or {}), name: value}
        if not set(WORKSPACE) <= set(cur):
            return corner_problem(name, value)
        return bounds_problem(cur[WORKSPACE[0]], cur[WORKSPACE[1]], WORKSPACE)
    return None


def pick_config(values: dict[str, Any], quality_threshold: float | None = None) -> Any:
    """Return :class:`~kufenet_grasp.execution.pick_sequence.PickConfig` of parameter ``values``.

    ``quality_threshold`` overrides the parameter (explicit goal grasps use 0).
    """
    threshold = values['quality_threshold'] if quality_threshold is None else quality_threshold
    return PickConfig(
        workspace=WorkspaceBounds(tuple(values['workspace.min_xyz']),
                                  tuple(values['workspace.max_xyz'])),
        max_approach_angle_rad=math.radians(values['max_approach_angle_deg']),
        pre_grasp_distance_m=float(values['pre_grasp_distance_m']),
        lift_height_m=float(values['lift_height_m']),
        retreat_distance_m=float(values['retreat_distance_m']),
        quality_threshold=float(threshold),
        max_grasp_age_s=float(values['max_grasp_age_s']),
        top_k=int(values['top_k']),
        execution_timeout_s=float(values['execution_timeout_s']),
        floor_clearance_m=float(values['floor_clearance_m']),
        tcp_offset=tcp_offset(float3(values['tcp_offset.xyz'], 'tcp_offset.xyz'),
                              float(values['tcp_offset.yaw'])))


def place_pose(values: dict[str, Any]) -> Any:
    """Return the configured place pose (grasp frame in base_frame) as a RigidTransform."""
    return from_xyz_rpy([float(v) for v in values['place.xyz']],
                        [float(v) for v in values['place.rpy']])
