# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The demo: a short run writes report.json and the contact sheet; report helpers; the CLI."""

from __future__ import annotations

import argparse
import json

import cv2
from kufenet_grasp.cli import demo as demo_cli
from kufenet_grasp.demo.report import (
    attempt_tile,
    AttemptRecord,
    contact_sheet,
    SHEET_NAME,
    summarise,
    TILE_H,
    TILE_W,
)
from kufenet_grasp.demo.run_demo import DemoOptions, run_demo
from node_fixtures import oracle_factory
import numpy as np
import pytest

#: starts rclpy nodes and talks over DDS (make test-fast leaves it out)
pytestmark = pytest.mark.ros

#: a small camera keeps the test light (the detector resizes to its input anyway)
SMALL_CAMERA = {'width': 128, 'height': 96, 'fx': 123.0, 'fy': 123.0, 'cx': 63.5, 'cy': 47.5,
                'publish_rate_hz': 4.0}


def _record(i: int, success: bool, status: str = 'OK', stage: str = '') -> AttemptRecord:
    grasp = {'center_x': 60.0, 'center_y': 40.0, 'angle': 0.3, 'opening_px': 20.0,
             'jaw_px': 8.0, 'quality': 0.8, 'width_m': 0.03, 'depth_m': 0.6}
    return AttemptRecord(index=i, scene=i, success=success, status=status, failed_stage=stage,
                         message='', object_id=7, grasp=grasp, duration_s=1.0 + i)


def test_short_demo_run_writes_report_and_contact_sheet(tmp_path):
    # the oracle backend (grasp maps of the raised region) stands in for trained weights
    options = DemoOptions(attempts=2, out_root=tmp_path, progress=False, seed=3,
                          namespace='demo_test', sim_overrides=dict(SMALL_CAMERA),
                          attempt_timeout_s=30.0, backend_factory=oracle_factory)
    lines: list[str] = []
    folder, summary = run_demo(options, log=lines.append)
    assert folder.parent == tmp_path and folder.name.startswith('demo-')
    report = json.loads((folder / 'report.json').read_text())
    assert report['summary']['attempts'] == 2 == summary['attempts']
    for attempt in report['attempts']:
        assert {'success', 'status', 'failed_stage', 'object_id', 'grasp', 'duration_s'} <= set(
            attempt)
        assert attempt['success'] == (attempt['status'] == 'OK'
                                      and attempt['failed_stage'] == '')
        if attempt['grasp'] is not None:  # a detected grasp was executed: pose in base_link
            assert 0.0 < attempt['grasp']['quality'] <= 1.0
            assert 0.2 < attempt['grasp_pose']['xyz'][0] < 0.9
    assert report['summary']['successes'] == sum(a['success'] for a in report['attempts'])
    sheet = cv2.imread(str(folder / SHEET_NAME))
    assert sheet is not None and sheet.shape == (TILE_H, 2 * TILE_W, 3)
    assert any('success rate' in line for line in lines)


def test_summary_counts_failures_by_status_and_stage():
    records = [_record(0, True), _record(1, False, 'PLAN_FAILED', 'approach'),
               _record(2, False, 'NO_GRASP', 'checking'), _record(3, True)]
    summary = summarise(records)
    assert summary['attempts'] == 4 and summary['successes'] == 2
    assert summary['success_rate'] == pytest.approx(0.5)
    assert summary['failures_by_status'] == {'PLAN_FAILED': 1, 'NO_GRASP': 1}
    assert summary['failures_by_stage'] == {'approach': 1, 'checking': 1}
    assert summary['mean_duration_s'] == pytest.approx(2.5)
    assert summarise([])['success_rate'] == 0.0


def test_contact_sheet_layout_and_tile_colours():
    rgb = np.full((96, 128, 3), 128, np.uint8)
    good, bad = attempt_tile(rgb, _record(0, True)), attempt_tile(rgb, _record(1, False, 'X'))
    assert good.shape == (TILE_H, TILE_W, 3)
    # success draws green, failure red
    assert good[..., 1].astype(int).sum() > bad[..., 1].astype(int).sum()
    sheet = contact_sheet([good, bad, good], columns=2)
    assert sheet.shape == (2 * TILE_H, 2 * TILE_W, 3)
    assert np.all(sheet[TILE_H:, TILE_W:] == 0)
    with pytest.raises(ValueError, match='no tiles'):
        contact_sheet([])
    with pytest.raises(ValueError, match='rgb'):
        attempt_tile(np.zeros((4, 4)), _record(0, True))


def test_a_detector_that_cannot_configure_ends_the_demo_with_its_reason(tmp_path):
    from kufenet_grasp.demo.run_demo import DemoError

    corrupt = tmp_path / 'corrupt.safetensors'
    corrupt.write_bytes(b'\xff' * 64)  # a header length far past the end of the file
    # the node stays unconfigured; the demo reports why instead of waiting for activation
    options = DemoOptions(attempts=1, out_root=tmp_path, progress=False, weights=str(corrupt),
                          namespace='demo_corrupt', sim_overrides=dict(SMALL_CAMERA))
    with pytest.raises(DemoError, match='failed to configure') as failure:
        run_demo(options, log=lambda line: None)
    assert 'corrupt.safetensors' in str(failure.value)
    assert 'truncated or corrupt' in str(failure.value)  # the node's own reason


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match='attempts'):
        DemoOptions(attempts=0)
    with pytest.raises(ValueError, match='clutter'):
        DemoOptions(clutter=-1)
    with pytest.raises(ValueError, match='parameter file'):
        DemoOptions(config_dir=tmp_path)
    parser = argparse.ArgumentParser()
    demo_cli.add_arguments(parser)
    assert demo_cli.run(parser.parse_args(['--attempts', '0'])) == 2
    args = parser.parse_args(['--attempts', '3', '--clutter', '5', '--no-progress'])
    assert (args.attempts, args.clutter, args.no_progress) == (3, 5, True)


def test_labeller_grasps_run_through_the_action(tmp_path):
    options = DemoOptions(attempts=1, out_root=tmp_path, progress=False, seed=5,
                          namespace='demo_labeller', grasp_source='labeller',
                          sim_overrides=dict(SMALL_CAMERA), attempt_timeout_s=30.0)
    folder, summary = run_demo(options, log=lambda line: None)
    attempt = json.loads((folder / 'report.json').read_text())['attempts'][0]
    assert summary['attempts'] == 1
    if attempt['status'] == 'OK':
        assert attempt['grasp']['quality'] == pytest.approx(1.0)
        assert len(attempt['grasp_pose']['xyz']) == 3
        assert attempt['success'] == (attempt['failed_stage'] == '')
    else:
        assert not attempt['success'] and attempt['message']
    with pytest.raises(ValueError, match='--grasps'):
        DemoOptions(grasp_source='oracle')


def test_detector_params_reach_the_detector_override_file():
    from kufenet_grasp.demo.run_demo import _overrides

    parsed = demo_cli.parse_detector_params(['gripper.finger_check=true',
                                             'gripper.finger_clearance_m=0',
                                             'quality_threshold=0.5'])
    assert parsed == {'gripper.finger_check': True, 'gripper.finger_clearance_m': 0.0,
                      'quality_threshold': 0.5}
    options = DemoOptions(detector_overrides=parsed)
    params = _overrides(options, 'w.safetensors')['/**/grasp_detector']['ros__parameters']
    assert params == {**parsed, 'weights': 'w.safetensors'}
    for bad, why in (('nonsense', 'NAME=VALUE'), ('no_such=1', 'unknown'),
                     ('gripper.finger_check=0.5', 'wants a bool'),
                     ('quality_threshold=2.0', r'\[0.0, 1.0\]')):
        with pytest.raises(ValueError, match=why):
            demo_cli.parse_detector_params([bad])
    parser = argparse.ArgumentParser()
    demo_cli.add_arguments(parser)
    assert demo_cli.run(parser.parse_args(['--detector-param', 'top_k=0'])) == 2
