# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""MotionBackend over MoveIt 2's Python API (moveit_py's ``MoveItPy``).

Frames: targets are tool-link (``tool_link``) poses in ``base_frame``, metres. States are
``moveit.core.robot_state.RobotState`` copies; a plan's end state is its trajectory's last
waypoint, so every stage is planned from where the previous one ends.

* Free stages (pre_grasp, move_to_place): the arm planning component with a pose goal
  (``set_goal_state(pose_stamped_msg=..., pose_link=tool_link)``) and the default pipeline.
* Cartesian stages (approach, lift, retreat): the same planning component with the
  ``cartesian_pipeline`` / ``cartesian_planner_id`` (default Pilz ``LIN``, a straight line in
  Cartesian space). LIMITATION: moveit_py has no ``compute_cartesian_path``; if the MoveIt
  config does not load the Pilz pipeline, set ``cartesian_pipeline=""`` and these stages use
  the default planner, which reaches the pose but does NOT guarantee a straight line.
* Home: the named SRDF configuration ``home_configuration`` (e.g. ``ready``).
* Gripper: a MoveIt planning group (``gripper_group``, e.g. ``hand``) with a joint goal on its
  active joint (mimic joints follow), executed by MoveIt; MoveIt's controller manager turns
  it into a ``control_msgs/GripperCommand`` goal for a ``GripperActionController``. Give that
  controller ``allow_stalling: true`` so closing on an object counts as success. The command
  unit and the width mapping come from :class:`~kufenet_grasp.geometry.gripper.GripperConfig`.
* Execution: ``MoveItPy.execute(trajectory, controllers=[])`` in a worker thread; a cancel
  calls the trajectory execution manager's ``stop_execution()``.

moveit_py is imported lazily: without it the constructor raises a RuntimeError.
"""

from __future__ import annotations

from collections.abc import Callable
import copy
import threading
from typing import Any

from kufenet_grasp.execution.motion import StagePlan
from kufenet_grasp.geometry.gripper import GripperConfig
from kufenet_grasp.geometry.transforms import from_xyz_quat, RigidTransform
import numpy as np

MOVEIT_MISSING = ('moveit_py is not installed: use motion_backend:=sim or install '
                  'ros-$ROS_DISTRO-moveit-py')
#: polling period while a trajectory executes (s)
_POLL_S = 0.02


def pose_stamped_msg(pose: RigidTransform, frame_id: str) -> Any:
    """geometry_msgs/PoseStamped (metres, quaternion x y z w) of ``pose`` in ``frame_id``."""
    from geometry_msgs.msg import PoseStamped

    msg = PoseStamped()
    msg.header.frame_id = frame_id
    t, q = pose.translation, pose.quaternion_xyzw
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in t)
    (msg.pose.orientation.x, msg.pose.orientation.y, msg.pose.orientation.z,
     msg.pose.orientation.w) = (float(v) for v in q)
    return msg


class MoveItBackend:
    """Arm + gripper through MoveItPy (see the module docstring for the choices made)."""

    name = 'moveit'

    def __init__(self, node_name: str = 'kufenet_moveit_py', planning_group: str = 'panda_arm',
                 tool_link: str = 'panda_hand_tcp', gripper_group: str = 'hand',
                 gripper: GripperConfig | None = None, base_frame: str = 'base_link',
                 home_configuration: str = 'ready', planning_time_s: float = 5.0,
                 cartesian_pipeline: str = 'pilz_industrial_motion_planner',
                 cartesian_planner_id: str = 'LIN', hold_min_width_m: float = 0.002,
                 config_dict: dict[str, Any] | None = None) -> None:
        """Start MoveItPy (needs the MoveIt config as node parameters or ``config_dict``).

        Raises:
            RuntimeError: moveit_py is not installed.
            ValueError: empty group/link names or a non-positive planning time.
        """
        for key, value in (('planning_group', planning_group), ('tool_link', tool_link),
                           ('gripper_group', gripper_group), ('base_frame', base_frame),
                           ('home_configuration', home_configuration)):
            if not value:
                raise ValueError(f'MoveItBackend: {key} must not be empty')
        if not planning_time_s > 0:
            raise ValueError(f'MoveItBackend: planning_time_s must be > 0 s, '
                             f'got {planning_time_s!r}')
        try:
            from moveit.core.robot_state import RobotState
            from moveit.planning import MoveItPy, PlanRequestParameters
        except ImportError as err:
            raise RuntimeError(MOVEIT_MISSING) from err
        self._robot_state_type = RobotState
        self.group, self.tool_link, self.base_frame = planning_group, tool_link, base_frame
        self.gripper_group, self.home = gripper_group, home_configuration
        self.gripper = gripper
        self.hold_min_width_m = hold_min_width_m
        kwargs: dict[str, Any] = {'node_name': node_name}
        if config_dict is not None:
            kwargs['config_dict'] = config_dict
        self.moveit = MoveItPy(**kwargs)
        self.arm = self.moveit.get_planning_component(planning_group)
        self.hand = self.moveit.get_planning_component(gripper_group)
        self.scene_monitor = self.moveit.get_planning_scene_monitor()
        self.free_params = PlanRequestParameters(self.moveit)
        self.free_params.planning_time = float(planning_time_s)
        self.cartesian_params = PlanRequestParameters(self.moveit)
        self.cartesian_params.planning_time = float(planning_time_s)
        if cartesian_pipeline:
            self.cartesian_params.planning_pipeline = cartesian_pipeline
            self.cartesian_params.planner_id = cartesian_planner_id

    # ---------------------------------------------------------------- states
    def current_state(self) -> Any:
        """Return a copy of the monitored current RobotState."""
        with self.scene_monitor.read_only() as scene:
            return copy.copy(scene.current_state)

    @staticmethod
    def _end_state(trajectory: Any) -> Any:
        return trajectory[len(trajectory) - 1]

    def _plan(self, component: Any, stage: str, start_state: Any, target: RigidTransform,
              params: Any, **goal: Any) -> StagePlan | None:
        if start_state is None:
            component.set_start_state_to_current_state()
        else:
            component.set_start_state(robot_state=start_state)
        component.set_goal_state(**goal)
        result = component.plan(single_plan_parameters=params)
        if not result or getattr(result, 'trajectory', None) is None:
            return None
        trajectory = result.trajectory
        return StagePlan(stage, target, end_state=self._end_state(trajectory),
                         trajectory=trajectory)

    # -------------------------------------------------------------- planning
    def plan_stage(self, stage: str, start_state: Any, target: RigidTransform,
                   cartesian: bool) -> StagePlan | None:
        """Plan the arm from ``start_state`` to tool pose ``target`` (base frame)."""
        params = self.cartesian_params if cartesian else self.free_params
        return self._plan(self.arm, stage, start_state, target, params,
                          pose_stamped_msg=pose_stamped_msg(target, self.base_frame),
                          pose_link=self.tool_link)

    def plan_home(self, start_state: Any) -> StagePlan | None:
        """Plan the arm to the named configuration ``home_configuration``."""
        plan = self._plan(self.arm, 'home', start_state, RigidTransform.identity(),
                          self.free_params, configuration_name=self.home)
        if plan is not None:
            tool = plan.end_state.get_pose(self.tool_link)
            plan.target = _pose_to_transform(tool)
        return plan

    # ------------------------------------------------------------- execution
    def execute(self, plan: StagePlan, should_cancel: Callable[[], bool]) -> bool:
        """Execute in a worker thread; stop the trajectory when ``should_cancel()``."""
        if should_cancel():
            return False
        done = threading.Event()
        status: list[Any] = [False]

        def run() -> None:
            try:
                status[0] = self.moveit.execute(plan.trajectory, controllers=[])
            except RuntimeError as err:  # a failed execution, never a crashed node
                status[0] = err
            finally:
                done.set()

        threading.Thread(target=run, name=f'moveit_execute_{plan.stage}', daemon=True).start()
        while not done.wait(_POLL_S):
            if should_cancel():
                self.moveit.get_trajactory_execution_manager().stop_execution()
                done.wait()
                return False
        return _succeeded(status[0])

    def set_gripper(self, command: float, wait: bool = True) -> bool:
        """Move the gripper group's active joint to ``command`` (its unit, see GripperConfig).

        MoveIt executes gripper motions to completion; ``wait`` is accepted for the protocol.
        """
        goal = self.current_state()
        goal.set_joint_group_active_positions(self.gripper_group, np.array([float(command)]))
        goal.update()
        plan = self._plan(self.hand, 'gripper', None, RigidTransform.identity(),
                          self.free_params, robot_state=goal)
        return plan is not None and self.execute(plan, lambda: False)

    def _gripper_command(self) -> float:
        state = self.current_state()
        return float(state.get_joint_group_positions(self.gripper_group)[0])

    def gripper_width_m(self) -> float:
        """Return opening (m) from the gripper joint via the GripperConfig (needs ``gripper``)."""
        if self.gripper is None:
            raise ValueError('MoveItBackend: gripper_width_m needs a GripperConfig '
                             '(constructor argument gripper)')
        return self.gripper.width_for_command(self._gripper_command())

    def is_holding(self) -> bool:
        """Return True when the closed fingers stopped more than ``hold_min_width_m`` apart."""
        if self.gripper is None:
            raise ValueError('MoveItBackend: is_holding needs a GripperConfig '
                             '(constructor argument gripper)')
        return self.gripper_width_m() > self.gripper.min_width_m + self.hold_min_width_m


def _succeeded(status: Any) -> bool:
    """Whether MoveItPy.execute's return value means success (None: older API, success)."""
    if isinstance(status, Exception):
        return False
    if status is None:
        return True
    value = getattr(status, 'status', status)
    return value == 'SUCCEEDED' if isinstance(value, str) else bool(value)


def _pose_to_transform(pose: Any) -> RigidTransform:
    """Return the RigidTransform of a geometry_msgs/Pose (from RobotState.get_pose)."""
    p, q = pose.position, pose.orientation
    return from_xyz_quat((p.x, p.y, p.z), (q.x, q.y, q.z, q.w))
