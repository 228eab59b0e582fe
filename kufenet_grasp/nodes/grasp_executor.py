# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""grasp_executor: the PickAndPlace action server around the ROS-free PickSequence.

Action ``kufenet/pick_and_place`` (kufenet_msgs/action/PickAndPlace): the goal's grasp when
``use_grasp``, else the best ``top_k`` grasps from the ``kufenet/detect_grasps`` service
(called asynchronously with ``detect_timeout_s``: NO_DATA when the service is absent, TIMEOUT
when it does not answer). Every pose must already be in ``base_frame`` (the detector
transforms its poses); another frame gives TF_FAILED. Feedback names each stage; the result
carries the GraspStatus code, message, failed stage and the grasp used.

``auto_pick``: a fresh grasp on ``kufenet/grasp_pose`` (with its rectangle on
``kufenet/grasp``) starts a pick through this node's own action while idle.

The motion backend is injectable (the simulation hosts the executor in its process; tests use
a fake); standalone, ``motion_backend`` selects MoveIt. Spin with a MultiThreadedExecutor:
the detector call waits in one thread for a response handled in another.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from typing import Any

from geometry_msgs.msg import PoseStamped
from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.execution.candidates import GraspCandidate, rank_candidates
from kufenet_grasp.execution.motion import MotionBackend
from kufenet_grasp.execution.pick_sequence import PickSequence
from kufenet_grasp.geometry.gripper import GripperConfig, load_gripper
from kufenet_grasp.nodes import executor_params
from kufenet_grasp.nodes.moveit_backend import MoveItBackend
from kufenet_grasp.nodes.qos import output_qos
from kufenet_grasp.nodes.ros_conversions import (
    pose_stamped,
    pose_to_transform,
    stamp_to_seconds,
    status_msg,
    status_of,
)
from kufenet_msgs.action import PickAndPlace
from kufenet_msgs.msg import GraspRectangle
from kufenet_msgs.srv import DetectGrasps
from rcl_interfaces.msg import SetParametersResult
import rclpy
from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.logging import get_logger
from rclpy.node import Node

ACTION_NAME = 'kufenet/pick_and_place'
DETECT_SERVICE = 'kufenet/detect_grasps'
#: how often a goal waiting for the detector checks for a cancel (s)
CANCEL_POLL_S = 0.05


class _Refused(Exception):
    """A goal that ends before the pick sequence: (status code, message)."""

    def __init__(self, code: GraspStatus, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class GraspExecutorNode(Node):
    """Serves kufenet/pick_and_place with a PickSequence over a MotionBackend."""

    def __init__(self, backend: MotionBackend | None = None, *,
                 parameter_defaults: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """``backend`` None builds the one named by ``motion_backend`` (MoveIt)."""
        super().__init__('grasp_executor', **kwargs)
        executor_params.declare_all(self, parameter_defaults)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        try:
            self.gripper: GripperConfig = load_gripper(self._param('gripper_config'))
            self.backend = backend if backend is not None else self._create_backend()
        except Exception:
            self.destroy_node()
            raise
        self._busy = threading.Lock()
        self._auto_pending = False
        self._latest_rect: GraspRectangle | None = None
        group = ReentrantCallbackGroup()
        self._server = ActionServer(
            self, PickAndPlace, ACTION_NAME, execute_callback=self._execute,
            goal_callback=self._on_goal, cancel_callback=self._on_cancel,
            callback_group=group)
        self._detect = self.create_client(DetectGrasps, DETECT_SERVICE, callback_group=group)
        self._self_client = ActionClient(self, PickAndPlace, ACTION_NAME, callback_group=group)
        self.create_subscription(GraspRectangle, 'kufenet/grasp', self._on_rect, output_qos(),
                                 callback_group=group)
        self.create_subscription(PoseStamped, 'kufenet/grasp_pose', self._on_grasp_pose,
                                 output_qos(), callback_group=group)
        self.get_logger().info(f'grasp_executor ready: backend {self.backend.name}, gripper '
                               f"{self.gripper.name}, base_frame {self._param('base_frame')}")

    # ----------------------------------------------------------- parameters
    def _param(self, name: str) -> Any:
        return self.get_parameter(name).value

    def _values(self) -> dict[str, Any]:
        return {spec.name: self._param(spec.name) for spec in executor_params.PARAMETERS}

    def _on_set_parameters(self, params: list[Any]) -> SetParametersResult:
        current = self._values()
        for param in params:
            reason = executor_params.validate(param.name, param.value, current)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
            current[param.name] = param.value
        return SetParametersResult(successful=True)

    def _create_backend(self) -> MotionBackend:
        """Return standalone node's backend (``motion_backend``); RuntimeError when impossible."""
        if self._param('motion_backend') == 'sim':
            raise RuntimeError("motion_backend 'sim' runs only inside the simulation: start "
                               'sim_world (make demo), which hosts the executor with its '
                               'PyBullet backend; standalone, use motion_backend:=moveit')

        return MoveItBackend(node_name=self._param('moveit.node_name'),
                             planning_group=self._param('moveit.planning_group'),
                             tool_link=self._param('moveit.tool_link'),
                             gripper_group=self._param('moveit.gripper_group'),
                             gripper=self.gripper,
                             base_frame=self._param('base_frame'),
                             home_configuration=self._param('moveit.home_configuration'),
                             planning_time_s=self._param('plan_timeout_s'))

    # --------------------------------------------------------------- action
    def _on_goal(self, goal: PickAndPlace.Goal) -> GoalResponse:
        """Accept one pick at a time: an accepted goal holds ``_busy`` until it ends.

        Taking the lock here, not in the execute callback, means two goals that arrive
        together cannot both be accepted (rclpy executes every accepted goal at once).
        """
        if not self._busy.acquire(blocking=False):
            self.get_logger().warn('pick_and_place goal rejected: a pick is running')
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _on_cancel(self, goal_handle: Any) -> CancelResponse:
        """Return always accept: the sequence stops, opens the gripper and returns home."""
        self.get_logger().info('pick_and_place: cancel requested')
        return CancelResponse.ACCEPT

    async def _execute(self, goal_handle: Any) -> PickAndPlace.Result:
        """Run one pick (``_busy`` was taken on acceptance); blocks this thread while it runs."""
        try:
            return self._pick(goal_handle)
        finally:
            self._busy.release()

    def _pick(self, goal_handle: Any) -> PickAndPlace.Result:
        goal: PickAndPlace.Goal = goal_handle.request
        values = self._values()

        def feedback(stage: str, progress: float, index: int) -> None:
            goal_handle.publish_feedback(PickAndPlace.Feedback(
                stage=stage, progress=float(progress), candidate=max(int(index), 0)))

        try:
            place = self._place(goal, values)
            if goal.use_grasp:
                candidates = [self._goal_candidate(goal, values['base_frame'])]
            else:
                feedback('checking', 0.0, 0)  # the detector may take detect_timeout_s
                candidates = self._detect_candidates(
                    values, lambda: goal_handle.is_cancel_requested)
        except _Refused as refused:
            self.get_logger().warn(f'pick_and_place: {refused.message}')
            if refused.code == GraspStatus.CANCELLED and goal_handle.is_cancel_requested:
                goal_handle.canceled()
            else:
                goal_handle.abort()
            return self._result(refused.code, refused.message, 'checking')
        config = executor_params.pick_config(values, 0.0 if goal.use_grasp else None)
        ranked = rank_candidates(candidates, config.top_k)
        sequence = PickSequence(self.backend, config, self.gripper, clock=self._now_s)
        try:
            outcome = sequence.run(ranked, place, lambda: goal_handle.is_cancel_requested,
                                   feedback)
        except (RuntimeError, ValueError) as err:  # a backend error ends the goal, not the node
            self.get_logger().error(f'pick_and_place: motion backend error: {err}')
            goal_handle.abort()
            return self._result(GraspStatus.EXECUTION_FAILED,
                                f'motion backend {self.backend.name} failed: {err}', 'planning')
        used = ranked[outcome.grasp_index] if 0 <= outcome.grasp_index < len(ranked) else None
        result = self._result(outcome.status, outcome.message, outcome.failed_stage,
                              used, values['base_frame'])
        if outcome.success:
            goal_handle.succeed()
        elif outcome.status == GraspStatus.CANCELLED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        # one call site per severity: rclpy refuses a call site whose severity changes
        text = f'pick_and_place: {outcome.status.name}: {outcome.message}'
        if outcome.success:
            self.get_logger().info(text)
        else:
            self.get_logger().warn(text)
        return result

    def _result(self, code: GraspStatus, message: str, stage: str,
                used: GraspCandidate | None = None, frame: str = '') -> PickAndPlace.Result:
        result = PickAndPlace.Result(success=code == GraspStatus.OK, failed_stage=stage,
                                     status=status_msg(code, message))
        if used is not None:
            stamp = self.get_clock().now().to_msg()
            if isinstance(used.source, GraspRectangle):
                result.grasp_used = used.source
                stamp = used.source.header.stamp
            result.grasp_pose_used = pose_stamped(used.pose, frame, stamp)
        return result

    def _now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # -------------------------------------------------------- grasp sources
    def _place(self, goal: PickAndPlace.Goal, values: dict[str, Any]) -> Any:
        if not goal.use_place_pose:
            return executor_params.place_pose(values)
        self._require_frame(goal.place_pose, values['base_frame'], 'place_pose')
        return self._transform(goal.place_pose, 'place_pose')

    @staticmethod
    def _require_frame(pose: PoseStamped, base_frame: str, what: str) -> None:
        if pose.header.frame_id != base_frame:
            raise _Refused(GraspStatus.TF_FAILED,
                           f'{what} is in frame {pose.header.frame_id!r}, not base_frame '
                           f'{base_frame!r}; the executor does not look up tf2: give poses in '
                           f'{base_frame!r} (the detector does when its transform works)')

    @staticmethod
    def _transform(pose: PoseStamped, what: str) -> Any:
        try:
            return pose_to_transform(pose.pose)
        except ValueError as err:
            raise _Refused(GraspStatus.BAD_INPUT, f'{what}: {err}') from err

    def _candidate(self, rect: GraspRectangle, pose: PoseStamped, base_frame: str,
                   what: str) -> GraspCandidate:
        """Candidate of a rectangle + pose; width <= 0 or NaN = unknown, stamp 0 = unknown."""
        self._require_frame(pose, base_frame, what)
        width = float(rect.width_m)
        stamp = stamp_to_seconds(pose.header.stamp)
        quality = float(rect.quality)
        if not (math.isfinite(quality) and 0.0 <= quality <= 1.0):
            raise _Refused(GraspStatus.BAD_INPUT, f'{what}: quality {quality} is not in '
                           f'[0, 1]')
        return GraspCandidate(self._transform(pose, what),
                              width_m=width if math.isfinite(width) and width > 0 else math.nan,
                              quality=quality, stamp_s=stamp if stamp > 0 else None,
                              source=rect)

    def _goal_candidate(self, goal: PickAndPlace.Goal, base_frame: str) -> GraspCandidate:
        return self._candidate(goal.grasp, goal.grasp_pose, base_frame, 'goal grasp_pose')

    def _detect_candidates(self, values: dict[str, Any],
                           cancelled: Any = lambda: False) -> list[GraspCandidate]:
        """Ask the detector; never waits longer than ``detect_timeout_s`` in total.

        ``cancelled()`` is polled while waiting: a cancelled goal stops waiting at once.
        """
        timeout = float(values['detect_timeout_s'])
        answered = threading.Event()
        start = time.monotonic()  # real time: a paused sim clock must not stall the wait
        if not self._detect.wait_for_service(timeout_sec=timeout):
            raise _Refused(GraspStatus.NO_DATA,
                           f'detector service {DETECT_SERVICE} is not available after '
                           f'{timeout} s: is grasp_detector running and active?')
        request = DetectGrasps.Request(max_grasps=int(values['top_k']),
                                       max_age_s=float(values['max_grasp_age_s']))
        future = self._detect.call_async(request)
        future.add_done_callback(lambda _: answered.set())
        deadline = start + timeout
        while not answered.wait(min(CANCEL_POLL_S, max(0.0, deadline - time.monotonic()))):
            if cancelled():
                self._detect.remove_pending_request(future)
                raise _Refused(GraspStatus.CANCELLED,
                               'cancelled while waiting for the detector; nothing moved')
            if time.monotonic() >= deadline:
                break
        if not future.done():
            self._detect.remove_pending_request(future)
            gone = '' if self._detect.service_is_ready() else \
                ' (the service has gone meanwhile: did grasp_detector stop?)'
            raise _Refused(GraspStatus.TIMEOUT,
                           f'detector service {DETECT_SERVICE} did not answer within '
                           f'detect_timeout_s = {timeout} s{gone}')
        response = future.result()
        if response.status.code != GraspStatus.OK:
            raise _Refused(status_of(response.status), f'detector: {response.status.message}')
        if not response.poses:
            raise _Refused(GraspStatus.NO_GRASP, 'detector returned no grasp')
        return [self._candidate(rect, pose, values['base_frame'], f'detected grasp {i}')
                for i, (rect, pose) in enumerate(zip(response.grasps.grasps, response.poses))]

    # ------------------------------------------------------------ auto mode
    def _on_rect(self, msg: GraspRectangle) -> None:
        self._latest_rect = msg

    def _on_grasp_pose(self, msg: PoseStamped) -> None:
        """auto_pick: start a pick with this fresh grasp when idle."""
        if not self._param('auto_pick') or self._busy.locked() or self._auto_pending:
            return
        rect = self._latest_rect
        max_age = float(self._param('max_grasp_age_s'))
        age = self._now_s() - stamp_to_seconds(msg.header.stamp)
        if msg.header.frame_id != self._param('base_frame') or (max_age > 0 and age > max_age):
            self.get_logger().warn(
                f'auto_pick: ignoring a grasp pose in frame {msg.header.frame_id!r}, '
                f'{age:.2f} s old', throttle_duration_sec=5.0)
            return
        if rect is None or rect.header.stamp != msg.header.stamp:
            return  # its rectangle (quality, width) has not arrived yet
        goal = PickAndPlace.Goal(use_grasp=True, grasp=rect, grasp_pose=msg)
        self._auto_pending = True
        future = self._self_client.send_goal_async(goal)
        future.add_done_callback(self._on_auto_goal_response)

    def _on_auto_goal_response(self, future: Any) -> None:
        handle = future.result()
        if handle is None or not handle.accepted:
            self._auto_pending = False
            return
        handle.get_result_async().add_done_callback(self._on_auto_result)

    def _on_auto_result(self, future: Any) -> None:
        self._auto_pending = False


def main(args: list[str] | None = None) -> None:
    """Run the grasp_executor node (standalone: motion_backend moveit) until Ctrl-C."""
    rclpy.init(args=args)
    try:
        node = GraspExecutorNode()
    except (RuntimeError, ValueError, FileNotFoundError) as err:
        get_logger('grasp_executor').fatal(str(err))
        rclpy.try_shutdown()
        sys.exit(1)
    try:
        rclpy.spin(node, executor=MultiThreadedExecutor())
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
