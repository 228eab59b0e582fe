# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""FrameProcessor: the best grasp is handed out early, and a failed transform lookup."""

from __future__ import annotations

from kufenet_grasp.nodes import detector_params
from kufenet_grasp.nodes.frame_processing import FrameInput, FrameProcessor
from kufenet_grasp.nodes.tf_lookup import TransformUnavailable
from kufenet_msgs.msg import GraspStatus
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


def test_best_grasp_goes_out_once_before_the_outcome_with_the_same_pose():
    early = []
    tf = _Tf()
    outcome = _processor().process(_frame(), 100.0, tf, on_best=lambda *m: early.append(m))
    assert outcome.code == GraspStatus.OK and outcome.best_published
    assert len(early) == 1 and tf.lookups == 1  # the early lookup is reused for the rest
    rect, pose = early[0]
    assert (rect.center_x, rect.center_y, rect.width_m) == (
        outcome.rects[0].center_x, outcome.rects[0].center_y, outcome.rects[0].width_m)
    assert pose.header.frame_id == 'base_link' == outcome.poses[0].header.frame_id
    p, q = pose.pose.position, outcome.poses[0].pose.position
    assert np.allclose((p.x, p.y, p.z), (q.x, q.y, q.z))
    # without a callback nothing is marked as sent
    assert not _processor().process(_frame(), 100.0, _Tf()).best_published


def test_failed_transform_lookup_sends_nothing_early_and_reports_it():
    early = []
    tf = _Tf(fail=True)
    outcome = _processor().process(_frame(), 100.0, tf, on_best=lambda *m: early.append(m))
    assert early == [] and not outcome.best_published
    assert tf.lookups == 1  # a failed lookup is not waited for twice
    assert outcome.code == GraspStatus.TF_FAILED and 'no transform' in outcome.summary
    assert outcome.rects and not outcome.poses  # pixel grasps still go out, without poses
