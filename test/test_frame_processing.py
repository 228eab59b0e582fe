# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""FrameProcessor: grasps come best first, each built once; a failed lookup; refused frames."""

from __future__ import annotations

import dataclasses

from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.geometry.camera import PinholeCamera
from kufenet_grasp.geometry.workspace import WorkspaceBounds
from kufenet_grasp.geometry.workspace_roi import workspace_roi_px
from kufenet_grasp.nodes import detector_params
from kufenet_grasp.nodes.frame_processing import FrameInput, FrameProcessor
from kufenet_grasp.nodes.tf_lookup import TransformUnavailable
from node_fixtures import (
    _image,
    CX,
    CY,
    DETECTOR_PARAMS,
    FRAME_ID,
    FX,
    FY,
    HEIGHT,
    OracleBackend,
    render,
    T_BASE_CAMERA,
    WIDTH,
)
import numpy as np
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header


class _Tf:
    """A CameraToBase stand-in: the fixture's transform, or a lookup that fails."""

    base_frame = 'base_link'

    def __init__(self, fail: bool = False) -> None:
        self.fail, self.lookups = fail, 0

    def lookup(self, camera_frame, stamp):
        self.lookups += 1
        if self.fail:
            raise TransformUnavailable('no transform from base_link to the camera (test)')
        return T_BASE_CAMERA


def _frame() -> FrameInput:
    header = Image().header
    header.frame_id = FRAME_ID
    header.stamp.sec = 100
    rgb, depth = render()
    info = CameraInfo(header=header, width=WIDTH, height=HEIGHT,
                      k=[FX, 0.0, CX, 0.0, FY, CY, 0.0, 0.0, 1.0])
    return FrameInput(_image(rgb, 'rgb8', header), _image(depth, '32FC1', header), info)


def _processor() -> FrameProcessor:
    settings = {spec.name: spec.default for spec in detector_params.PARAMETERS}
    settings.update(DETECTOR_PARAMS)
    return FrameProcessor(OracleBackend(settings['input_size']).infer, settings, 'oracle')


def test_the_best_grasp_comes_first_built_once_and_the_outcome_holds_the_same_record():
    tf = _Tf()
    run = _processor().start(_frame(), 100.0, tf)
    best = next(iter(run))
    assert tf.lookups == 1 and best.pose is not None
    assert best.pose.header.frame_id == 'base_link'
    assert (best.msg.center_x, best.msg.center_y) == best.detected.rect_image_px.center
    assert best.msg.width_m == best.detected.width_m
    rest = list(run)
    outcome = run.outcome()
    assert outcome.code == GraspStatus.OK and tf.lookups == 1  # one lookup a frame
    assert outcome.grasps[0] is best and outcome.grasps[1:] == rest
    assert outcome.rects[0] is best.msg and outcome.poses[0] is best.pose
    assert [g.tool_pose for g in outcome.grasps] == [p for p, _ in outcome.marker_poses()]
    assert run.outcome() is outcome  # asking again measures nothing twice
    # process() is start() with every grasp taken: the same grasps
    again = _processor().process(_frame(), 100.0, _Tf())
    assert [(r.center_x, r.center_y, r.width_m) for r in again.rects] == \
        [(r.center_x, r.center_y, r.width_m) for r in outcome.rects]
    p, q = again.poses[0].pose.position, best.pose.pose.position
    assert np.allclose((p.x, p.y, p.z), (q.x, q.y, q.z))


def test_failed_transform_lookup_gives_pixel_grasps_and_reports_it():
    tf = _Tf(fail=True)
    run = _processor().start(_frame(), 100.0, tf)
    grasps = list(run)
    outcome = run.outcome()
    assert grasps and all(g.pose is None and g.tool_pose is None for g in grasps)
    assert tf.lookups == 1  # a failed lookup is not waited for twice
    assert outcome.code == GraspStatus.TF_FAILED and 'no transform' in outcome.summary
    assert outcome.rects and not outcome.poses  # pixel grasps still go out, without poses


def test_a_refused_frame_yields_nothing_and_says_why():
    frame = _frame()
    frame.info.width = WIDTH // 2  # camera info of another image size
    run = _processor().start(frame, 100.0, _Tf())
    assert list(run) == []
    outcome = run.outcome()
    assert outcome.code == GraspStatus.BAD_INPUT and 'camera info is for' in outcome.summary
    frame.info.width = WIDTH
    frame.info.header = Header(stamp=frame.color.header.stamp, frame_id='another_frame')
    outcome = _processor().process(frame, 100.0, _Tf())
    assert outcome.code == GraspStatus.BAD_INPUT and "'another_frame'" in outcome.summary


def _workspace_processor(min_xyz, max_xyz) -> FrameProcessor:
    settings = {spec.name: spec.default for spec in detector_params.PARAMETERS}
    settings.update(DETECTOR_PARAMS)
    settings.update({'roi_workspace.min_xyz': list(min_xyz),
                     'roi_workspace.max_xyz': list(max_xyz)})
    return FrameProcessor(OracleBackend(settings['input_size']).infer, settings, 'oracle')


def test_the_workspace_box_is_the_region_of_interest_through_the_transform():
    free = _processor().process(_frame(), 100.0, _Tf())
    assert free.code == GraspStatus.OK
    best = free.poses[0].pose.position
    centre = np.array([best.x, best.y, best.z])
    lo, hi = centre - [0.06, 0.06, 0.1], centre + [0.06, 0.06, 0.1]
    tf = _Tf()
    run = _workspace_processor(lo, hi).start(_frame(), 100.0, tf)
    grasps = list(run)
    outcome = run.outcome()
    assert outcome.code == GraspStatus.OK and grasps
    assert tf.lookups == 1  # the ROI and the poses share one lookup
    camera = PinholeCamera(FX, FY, CX, CY, WIDTH, HEIGHT)
    x0, y0, x1, y1 = workspace_roi_px(WorkspaceBounds(tuple(lo), tuple(hi)),
                                      T_BASE_CAMERA.inverse(), camera)
    for grasp in grasps:
        u, v = grasp.detected.rect_image_px.center
        assert x0 <= u <= x1 and y0 <= v <= y1


def test_a_workspace_box_out_of_view_gives_no_grasp_and_says_so():
    run = _workspace_processor((5.0, 5.0, 0.0), (5.2, 5.2, 0.2)).start(_frame(), 100.0, _Tf())
    assert list(run) == []
    outcome = run.outcome()
    assert outcome.code == GraspStatus.NO_GRASP and 'not in the camera view' in outcome.summary


def test_without_a_transform_the_workspace_box_is_skipped_with_a_warning():
    run = _workspace_processor((0.0, -1.0, -1.0), (2.0, 1.0, 1.0)).start(
        _frame(), 100.0, _Tf(fail=True))
    grasps = list(run)
    outcome = run.outcome()
    assert grasps and outcome.code == GraspStatus.TF_FAILED
    assert any('roi_workspace not applied' in w for w in outcome.warnings)


def test_a_workspace_box_with_its_corners_swapped_is_refused():
    reason = detector_params.validate('roi_workspace.max_xyz', [0.1, 0.5, 0.5],
                                      {'roi_workspace.min_xyz': [0.2, 0.0, 0.0]})
    assert reason is not None and 'below roi_workspace.max_xyz' in reason
    assert detector_params.validate('roi_workspace.max_xyz', [0.0, 0.0, 0.0],
                                    {'roi_workspace.min_xyz': [0.0, 0.0, 0.0]}) is None


def test_without_camera_info_the_workspace_box_is_skipped_with_a_warning():
    frame = dataclasses.replace(_frame(), info=None)
    tf = _Tf()
    run = _workspace_processor((0.0, -1.0, -1.0), (2.0, 1.0, 1.0)).start(frame, 100.0, tf)
    grasps = list(run)
    outcome = run.outcome()
    assert grasps and all(g.pose is None for g in grasps)  # pixel grasps still come
    assert any('roi_workspace needs the camera intrinsics' in w for w in outcome.warnings)
    assert tf.lookups == 0  # nothing to place the box with: no transform looked up
