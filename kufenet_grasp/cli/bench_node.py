# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet bench-node``: end-to-end latency of the grasp_detector node (frame stamp to grasp)."""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
import sys

from kufenet_grasp.bench.node_latency import parse_rates

HELP = ('Replay rendered RGB-D frames at 30 Hz into a grasp_detector process and measure '
        'stamp-to-grasp latency, drops, CPU share, resident memory and start-up time.')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the node benchmark options."""
    parser.add_argument('--weights', default='',
                        help="detector 'weights' (default: the shipped kufenet-80k weights)")
    parser.add_argument('--backend', default='auto',
                        help="detector 'backend': auto, torch, onnxruntime, openvino")
    parser.add_argument('--threads', type=int, default=1, help="detector 'threads'")
    parser.add_argument('--input-size', type=int, default=224, help="detector 'input_size', px")
    parser.add_argument('--camera-rate', type=float, default=30.0,
                        help='replay camera frame rate, Hz')
    parser.add_argument('--sweep-max-rate', default='0', metavar='HZ[,HZ...]',
                        help="detector 'max_rate_hz' values, one run each; 0 = unlimited "
                             '(default 0), e.g. 5,15,30')
    parser.add_argument('--duration', type=float, default=20.0,
                        help='measured seconds per run')
    parser.add_argument('--warmup', type=float, default=3.0,
                        help='seconds discarded after the first grasp')
    parser.add_argument('--scenes', type=int, default=4,
                        help='PyBullet clutter scenes replayed in turn')
    parser.add_argument('--seed', type=int, default=0, help='seed of the scenes')
    parser.add_argument('--depth-encoding', choices=('16UC1', '32FC1'), default='16UC1')
    parser.add_argument('--reliability', choices=('best_effort', 'reliable'),
                        default='best_effort',
                        help="QoS of the camera publishers and the detector's subscriptions")
    parser.add_argument('--detector-dds-profile', default='', metavar='XML',
                        help='Fast DDS profile file of the detector process only (default: '
                             'the FASTRTPS_DEFAULT_PROFILES_FILE of this one), e.g. '
                             'config/dds/fastdds_detector.xml')
    parser.add_argument('--json', action='store_true', help='print JSON instead of a table')
    parser.add_argument('--out', type=Path, default=None, help='also write the JSON here')


def _fmt(value: float | None, digits: int = 1) -> str:
    return '-' if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f'{value:.{digits}f}'


def _print_table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    s = report['settings']
    table = Table(title=f"kufenet bench-node: camera {s['camera_rate_hz']:g} Hz -> "
                        f"grasp_detector ({s['backend']}, {s['threads']} thread(s), "
                        f"{s['input_size']} px); latency = frame stamp to grasp received; "
                        f"in-node = the detector's own per-frame work; frame age = stamp to the "
                        'node starting on it; to 1st grasp = node start to best grasp out '
                        '(its /diagnostics)')
    for column in ('max_rate_hz', 'sent', 'answered', 'dropped', 'answered Hz', 'p50 ms',
                   'p95 ms', 'max ms', 'in-node ms', 'frame age ms', 'to 1st grasp ms',
                   'detector CPU %', 'camera CPU %',
                   'start-up s', 'RSS MiB', 'peak RSS MiB'):
        table.add_column(column, justify='right')
    for row in report['results']:
        table.add_row('unlimited' if row['max_rate_hz'] == 0 else f"{row['max_rate_hz']:g}",
                      str(row['frames_sent']), str(row['frames_answered']),
                      str(row['frames_dropped']), _fmt(row['answered_hz']),
                      _fmt(row['p50_ms']), _fmt(row['p95_ms']), _fmt(row['max_ms']),
                      _fmt(row.get('in_node_ms')), _fmt(row.get('frame_age_ms')),
                      _fmt(row.get('first_grasp_ms')), _fmt(row['detector_cpu_percent'], 0),
                      _fmt(row['publisher_cpu_percent'], 0), _fmt(row.get('startup_s'), 2),
                      _fmt(row.get('rss_mib'), 0), _fmt(row.get('peak_rss_mib'), 0))
    console = Console(width=200)
    console.print(table)
    machine = report['machine']
    transport = report['transport']
    detector_profile = transport.get('detector_fastdds_profile')
    console.print(f"transport: {transport['rmw']}, Fast DDS profile "
                  f"{transport['fastdds_profile'] or '(none)'}"
                  + (f', detector {detector_profile}' if detector_profile else ''))
    console.print(f"CPU % is of one core. CPU: {machine.get('cpu')} x{machine['cpu_count']}, "
                  f"load average {', '.join(f'{v:.2f}' for v in machine['load_average'])} "
                  f'(at start)')


def run(args: argparse.Namespace) -> int:
    """Render the scenes, run the sweep, print the table or JSON."""
    from dataclasses import asdict

    from kufenet_grasp.bench.inference import machine_info
    from kufenet_grasp.bench.node_bench import NodeBenchSettings, run_node_bench

    try:
        rates = parse_rates(args.sweep_max_rate)
        settings = NodeBenchSettings(
            weights=args.weights, backend=args.backend, threads=args.threads,
            input_size=args.input_size, camera_rate_hz=args.camera_rate,
            duration_s=args.duration, warmup_s=args.warmup, scenes=args.scenes,
            seed=args.seed, depth_encoding=args.depth_encoding,
            reliability=args.reliability, detector_dds_profile=args.detector_dds_profile)
    except ValueError as exc:
        print(f'kufenet bench-node: {exc}', file=sys.stderr)
        return 2
    say = (lambda text: print(text, file=sys.stderr)) if args.json else print
    try:
        results = run_node_bench(settings, rates, log=say)
    except RuntimeError as exc:
        print(f'kufenet bench-node: {exc}', file=sys.stderr)
        return 1
    transport = {'rmw': os.environ.get('RMW_IMPLEMENTATION', '(default)'),
                 'fastdds_profile': os.environ.get('FASTRTPS_DEFAULT_PROFILES_FILE'),
                 'detector_fastdds_profile': args.detector_dds_profile or None}
    report = {'settings': asdict(settings), 'transport': transport, 'machine': machine_info(),
              'results': [r.to_dict() for r in results]}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_table(report)
    return 0
