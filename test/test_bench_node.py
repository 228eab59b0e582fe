# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet bench-node``: latency book-keeping and a short run against a detector process."""

from __future__ import annotations

import json
import os
from pathlib import Path

from kufenet_grasp.bench.node_latency import (
    detector_report,
    DetectorReport,
    LatencyLedger,
    parse_rates,
    ProcessCpu,
    reported_work_ms,
)
import pytest

#: the detector's Fast DDS profile shipped in config/dds
DETECTOR_PROFILE = Path(__file__).resolve().parents[1] / 'config' / 'dds' / 'fastdds_detector.xml'

#: starts rclpy nodes and talks over DDS (make test-fast leaves it out)
pytestmark = pytest.mark.ros

MS = 1_000_000  # nanoseconds


def test_ledger_pairs_grasps_with_frames_by_stamp() -> None:
    ledger = LatencyLedger()
    for i in range(10):
        ledger.sent(1000 * MS + i * 33 * MS)
    # frames 0, 2, 4 answered 10, 20, 30 ms after their stamp; a repeat answer does not count
    for i, delay in ((0, 10), (2, 20), (4, 30)):
        ledger.received(1000 * MS + i * 33 * MS, 1000 * MS + i * 33 * MS + delay * MS)
    ledger.received(1000 * MS, 1000 * MS + 99 * MS)
    result = ledger.summarise(1000 * MS, 1000 * MS + 330 * MS, max_rate_hz=5.0,
                              detector_cpu_s=0.033, publisher_cpu_s=None)
    assert (result.frames_sent, result.frames_answered, result.frames_dropped) == (10, 3, 7)
    assert result.p50_ms == pytest.approx(20.0)
    assert result.max_ms == pytest.approx(30.0)
    assert result.mean_ms == pytest.approx(20.0)
    assert 20.0 < result.p95_ms <= 30.0
    assert result.sent_hz == pytest.approx(10 / 0.33)
    assert result.detector_cpu_percent == pytest.approx(10.0)
    assert result.publisher_cpu_percent is None
    assert result.to_dict()['max_rate_hz'] == 5.0


def test_ledger_reports_the_detectors_own_work_inside_the_window() -> None:
    ledger = LatencyLedger()
    ledger.sent(10 * MS)
    ledger.received(10 * MS, 22 * MS)
    assert ledger.summarise(0, 100 * MS, 0.0).in_node_ms is None  # no diagnostics yet
    for t, work in ((5 * MS, 50.0), (20 * MS, 8.0), (40 * MS, 9.0), (60 * MS, 12.0),
                    (150 * MS, 70.0)):
        ledger.in_node(t, DetectorReport(work))
    # only the reports received inside [10, 100) ms count: median of 8, 9, 12
    assert ledger.summarise(10 * MS, 100 * MS, 0.0).in_node_ms == pytest.approx(9.0)
    ledger.clear()
    ledger.sent(10 * MS)
    assert ledger.summarise(0, 100 * MS, 0.0).in_node_ms is None


def test_ledger_splits_latency_into_frame_age_and_work_to_the_first_grasp() -> None:
    ledger = LatencyLedger()
    ledger.sent(10 * MS)
    ledger.received(10 * MS, 40 * MS)
    for t, age, first in ((20 * MS, 6.0, 12.0), (30 * MS, 8.0, None), (50 * MS, 10.0, 14.0)):
        ledger.in_node(t, DetectorReport(20.0, age, first))
    result = ledger.summarise(0, 100 * MS, 0.0)
    assert result.frame_age_ms == pytest.approx(8.0)
    assert result.first_grasp_ms == pytest.approx(13.0)  # the report without one is skipped
    assert result.in_node_ms == pytest.approx(20.0)


def test_detector_report_reads_the_timings_and_tolerates_an_older_detector() -> None:
    values = {'latency (ms)': '20.5', 'frames processed': '4',
              'time to first grasp (ms)': '12.5', 'frame age at start (ms)': '-3.0'}
    assert detector_report(values) == DetectorReport(20.5, -3.0, 12.5)
    older = {'latency (ms)': '20.5', 'frames processed': '4'}  # no split reported
    assert detector_report(older) == DetectorReport(20.5, None, None)
    garbled = dict(values, **{'time to first grasp (ms)': 'soon'})
    assert detector_report(garbled) == DetectorReport(20.5, -3.0, None)
    no_grasp_yet = dict(values, **{'time to first grasp (ms)': '0.0'})
    assert detector_report(no_grasp_yet).first_grasp_ms is None
    assert detector_report({'frames processed': '0'}) is None


def test_reported_work_is_read_from_diagnostics_and_garbage_is_skipped() -> None:
    assert reported_work_ms({'latency (ms)': '9.8', 'frames processed': '12'}) == 9.8
    for values in ({'latency (ms)': '9.8', 'frames processed': '0'},  # nothing processed yet
                   {'latency (ms)': '0.0', 'frames processed': '3'},
                   {'latency (ms)': 'nan', 'frames processed': '3'},
                   {'latency (ms)': 'fast', 'frames processed': '3'},
                   {'latency (ms)': '9.8', 'frames processed': 'many'},
                   {'input rate (Hz)': '30.0'}, {}):
        assert reported_work_ms(values) is None, values


def test_ledger_window_excludes_frames_outside_it() -> None:
    ledger = LatencyLedger()
    for stamp in (0, 10 * MS, 20 * MS, 30 * MS):
        ledger.sent(stamp)
        ledger.received(stamp, stamp + 5 * MS)
    result = ledger.summarise(10 * MS, 30 * MS, 0.0)
    assert result.frames_sent == 2 and result.frames_answered == 2
    with pytest.raises(ValueError, match='no frame'):
        ledger.summarise(100 * MS, 200 * MS, 0.0)
    ledger.clear()
    assert ledger.answered == 0


def test_parse_rates() -> None:
    assert parse_rates('5, 15,30') == [5.0, 15.0, 30.0]
    assert parse_rates('0') == [0.0]
    for bad in ('', '-1', '5,nan', 'fast'):
        with pytest.raises(ValueError):
            parse_rates(bad)


def test_process_cpu_reads_own_process() -> None:
    cpu = ProcessCpu(os.getpid())
    first = cpu.seconds()
    assert first is not None and first > 0.0
    sum(i * i for i in range(200_000))
    assert cpu.seconds() >= first
    assert ProcessCpu(2 ** 22 + 12345).seconds() is None  # no such process


def test_process_rss_reads_a_process_and_not_a_missing_one() -> None:
    from kufenet_grasp.bench.memory import process_rss_mib, rss_mib

    current, peak = process_rss_mib(os.getpid())
    assert current is not None and 0 < current <= peak
    assert abs(current - rss_mib()) < 64  # the same process read two ways
    assert process_rss_mib(2 ** 22 + 12345) == (None, None)


def test_cli_refuses_bad_rates(capsys) -> None:
    from kufenet_grasp.cli.main import main

    assert main(['bench-node', '--sweep-max-rate', '5,-2']) == 2
    assert 'rates must be' in capsys.readouterr().err


def test_cli_refuses_a_missing_detector_profile(capsys, tmp_path) -> None:
    from kufenet_grasp.cli.main import main

    assert main(['bench-node', '--detector-dds-profile', str(tmp_path / 'none.xml')]) == 2
    err = capsys.readouterr().err
    assert 'none.xml: no such file' in err and len(err.strip().splitlines()) == 1


def test_a_detector_that_cannot_configure_stops_the_bench(capsys, tmp_path) -> None:
    from kufenet_grasp.cli.main import main

    corrupt = tmp_path / 'corrupt.safetensors'
    corrupt.write_bytes(b'\xff' * 64)
    assert main(['bench-node', '--weights', str(corrupt), '--duration', '1', '--scenes',
                 '1']) == 1
    err = capsys.readouterr().err.strip()
    assert 'refused to configure' in err and 'corrupt.safetensors' in err
    assert len(err.splitlines()) == 1  # the reason, not the log tail after a long wait


def test_detector_process_gets_its_own_dds_profile(tmp_path) -> None:
    from kufenet_grasp.bench.node_bench import detector_env, NodeBenchSettings
    from kufenet_grasp.common.package_files import SOURCE_ROOT

    inherited = detector_env(NodeBenchSettings())
    assert inherited.get('FASTRTPS_DEFAULT_PROFILES_FILE') == \
        os.environ.get('FASTRTPS_DEFAULT_PROFILES_FILE')
    own = detector_env(NodeBenchSettings(detector_dds_profile=str(DETECTOR_PROFILE)))
    assert own['FASTRTPS_DEFAULT_PROFILES_FILE'] == str(DETECTOR_PROFILE)
    assert own['PYTHONPATH'].split(os.pathsep)[0] == str(SOURCE_ROOT)  # this package first


def test_bench_node_runs_detector_process_and_reports(tmp_path, capsys) -> None:
    """A short sweep against the shipped weights: frames answered, latencies ordered."""
    from kufenet_grasp.cli.main import main

    out = tmp_path / 'bench.json'
    # the detector with its own profile (a small shared-memory segment) still hears the camera
    code = main(['bench-node', '--duration', '3', '--warmup', '0.5', '--scenes', '1',
                 '--sweep-max-rate', '0,2', '--detector-dds-profile', str(DETECTOR_PROFILE),
                 '--json', '--out', str(out)])
    assert code == 0, capsys.readouterr().err
    report = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == report
    unlimited, capped = report['results']
    for row in (unlimited, capped):
        assert row['frames_sent'] > 0 and row['frames_answered'] > 0
        assert row['frames_dropped'] == row['frames_sent'] - row['frames_answered']
        assert 0 < row['p50_ms'] <= row['p95_ms'] <= row['max_ms']
        assert row['detector_cpu_percent'] > 0
        # the detector's own per-frame work, read from its /diagnostics during the window
        assert row['in_node_ms'] is not None and 0 < row['in_node_ms'] < 1000
        # a fresh detector process per row: its start-up and its resident memory
        assert 0 < row['startup_s'] < 120
        assert 20 < row['rss_mib'] <= row['peak_rss_mib']
    # max_rate_hz = 2 caps the detector: at most 2 answers a second (+1 for the window edge)
    assert capped['max_rate_hz'] == 2.0
    assert capped['frames_answered'] <= 2 * capped['duration_s'] + 1
    assert report['settings']['camera_rate_hz'] == 30.0
    assert report['transport']['detector_fastdds_profile'] == str(DETECTOR_PROFILE)


def test_frame_profile_tool_splits_a_frame_into_its_steps(capsys) -> None:
    """tools/profile_frame.py: the node's per-frame work without DDS, step by step."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / 'tools' / 'profile_frame.py'
    spec = importlib.util.spec_from_file_location('profile_frame', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main(['--scenes', '1', '--frames', '3', '--warmup', '1', '--gaps-ms', '0,5',
                      '--json']) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r['gap_ms'] for r in rows] == [0.0, 5.0]
    for row in rows:
        assert 0 < row['infer'] < row['detect'] <= row['process']
        assert row['preprocess'] > 0 and row['postprocess'] > 0 and row['outside_detect'] > 0
    for bad in (['--frames', '0'], ['--gaps-ms', '-5'], ['--threads', '0'], ['--gaps-ms', 'x']):
        with pytest.raises(SystemExit) as exit_info:
            tool.main(bad)
        assert exit_info.value.code == 2, bad
    # the frames go through the input the weights were trained with (their metric window)
    from kufenet_grasp.bench.frame_profile import build

    processor, *_ = build(str(path.parents[1] / 'models' / 'kufenet-80k.safetensors'), 'auto', 1,
                          1, 0)
    assert '0.50 m window on the objects, support plane removed' in processor.describe(), \
        processor.describe()
