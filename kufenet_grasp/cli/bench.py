# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet bench``: latency / throughput / memory of models x backends x sizes x threads."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Any

HELP = 'Benchmark grasp models on CPU backends (interleaved timing), stages, or profile one.'
DEFAULT_MODELS = 'kufenet-15k,kufenet-80k,kufenet-263k,teacher,ggcnn,grconvnet'


def _names(text: str) -> list[str]:
    return [item.strip() for item in text.split(',') if item.strip()]


def _ints(text: str) -> list[int]:
    try:
        return [int(item) for item in _names(text)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f'expected comma-separated integers, got {text!r}') \
            from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the benchmark options."""
    parser.add_argument('--models', type=_names, default=_names(DEFAULT_MODELS),
                        help=f'comma-separated presets, or NAME=WEIGHTS.safetensors to time '
                        f'trained weights under NAME (trained KufeNets are slower than their '
                        f'random-init presets on OpenVINO); default {DEFAULT_MODELS}')
    parser.add_argument('--backends', type=_names, default=['torch', 'onnxruntime', 'openvino'],
                        help='comma-separated: torch,onnxruntime,openvino; openvino:bf16 '
                             'or openvino:f16 computes in that precision (default f32)')
    parser.add_argument('--sizes', type=_ints, default=[224, 300], help='input sides, pixels')
    parser.add_argument('--threads', type=_ints, default=[1, 2], help='CPU thread counts')
    parser.add_argument('--repeats', type=int, default=50, help='timed calls per config')
    parser.add_argument('--warmup', type=int, default=10, help='untimed calls per config')
    parser.add_argument('--block', type=int, default=5,
                        help='calls per config per round-robin round')
    parser.add_argument('--json', action='store_true', help='print JSON instead of a table')
    parser.add_argument('--out', type=Path, default=None, help='also write the JSON here')
    parser.add_argument('--stages', action='store_true',
                        help='also time pre-processing (640x480 frame) and post-processing')
    parser.add_argument('--profile', metavar='MODEL', default=None,
                        help="instead of benchmarking, print MODEL's top operators by CPU time "
                             '(a preset, a weights file or an exported .onnx/.xml file)')
    parser.add_argument('--profile-backend', choices=('torch', 'onnxruntime', 'openvino'),
                        default='torch',
                        help='with --profile: torch.profiler operators, or the per-layer '
                             'times inside ONNX Runtime (its profiler) or OpenVINO '
                             '(PERF_COUNT), the layers as the runtime fused them')
    parser.add_argument('--by-module', action='store_true',
                        help="with --profile: rank the model's layers instead of operators")
    parser.add_argument('--top', type=int, default=15, help='rows shown by --profile')


def _print_table(report: dict) -> None:
    """Render the results and stage timings with rich."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title='kufenet bench (latency of one frame, ms)')
    for column in ('model', 'backend', 'size', 'thr', 'median', 'p95', 'fps', 'mem MiB',
                   'params', 'GFLOPs', 'vs GR-ConvNet', 'vs GG-CNN'):
        table.add_column(column, justify='left' if column in ('model', 'backend') else 'right')
    for row in report['results']:
        if row['error']:
            table.add_row(row['model'], row['backend'], str(row['size']), str(row['threads']),
                          '[red]failed (below)[/red]', *[''] * 7)
            continue
        ratios = row['speedup_vs']
        table.add_row(
            row['model'], row['backend'], str(row['size']), str(row['threads']),
            f"{row['median_ms']:.2f}", f"{row['p95_ms']:.2f}", f"{row['fps']:.0f}",
            f"{row['peak_mem_delta_mib']:.1f}",
            '-' if row['params'] is None else f"{row['params']:,}",
            '-' if row['flops'] is None else f"{row['flops'] / 1e9:.3f}",
            *(f'{ratios[b]:.1f}x' if b in ratios else '-' for b in ('grconvnet', 'ggcnn')))
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # no terminal: do not squeeze the table to 80 columns
    console.print(table)
    for row in report['results']:
        if row['error']:  # whole, on one line: the table cell would cut it
            console.print(f"failed: {row['model']} on {row['backend']}, {row['size']} px, "
                          f"{row['threads']} thread(s): {row['error']}", soft_wrap=True,
                          markup=False, highlight=False)
    weights = {row['model']: row.get('weights', 'random init') for row in report['results']}
    console.print('weights: ' + '; '.join(f'{k} {v}' for k, v in weights.items()))
    for stage in report.get('stages', []):
        console.print(f"stage {stage['stage']} @{stage['size']}px: median "
                      f"{stage['median_ms']:.2f} ms, p95 {stage['p95_ms']:.2f} ms")
    machine = report['machine']
    console.print(f"CPU: {machine.get('cpu')} x{machine['cpu_count']}, load average "
                  f"{', '.join(f'{v:.2f}' for v in machine['load_average'])} (at start)")


def _profile(args: argparse.Namespace) -> int:
    from kufenet_grasp.bench.profile import format_profile, profile_model

    size, threads, runs = args.sizes[0], args.threads[0], max(args.repeats, 1)
    source = args.profile.partition('=')[2] or args.profile  # NAME=FILE or a bare source
    try:
        if args.profile_backend == 'torch':
            rows = profile_model(source, input_size=size, threads=threads, runs=runs,
                                 warmup=args.warmup, top=args.top, by_module=args.by_module)
        else:
            from kufenet_grasp.bench.runtime_profile import profile_in_runtime

            rows = profile_in_runtime(source, args.profile_backend, input_size=size,
                                      threads=threads, runs=runs, warmup=args.warmup,
                                      top=args.top)
    except (ValueError, RuntimeError) as exc:
        print(f'kufenet bench --profile: {exc}', file=sys.stderr)
        return 2
    print(f'profile of {source} in {args.profile_backend} at {size}px, {threads} thread(s), '
          f'{runs} runs')
    print(format_profile(rows, runs))
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the benchmark (or the profile) and print a table or JSON."""
    from kufenet_grasp.bench.inference import machine_info, run_benchmark

    if args.profile:
        return _profile(args)
    try:
        machine = machine_info()
        results = run_benchmark(args.models, args.backends, args.sizes, args.threads,
                                repeats=args.repeats, warmup=args.warmup, block=args.block)
    except ValueError as exc:
        print(f'kufenet bench: {exc}', file=sys.stderr)
        return 2
    report: dict[str, Any] = {
        'machine': machine,
        'settings': {key: getattr(args, key) for key in
                     ('models', 'backends', 'sizes', 'threads', 'repeats', 'warmup', 'block')},
        'results': [result.to_dict() for result in results]}
    if args.stages:
        from kufenet_grasp.bench.stages import time_stages

        report['stages'] = time_stages(args.sizes, repeats=args.repeats, warmup=args.warmup)
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + '\n')
    if args.json:
        print(text)
    else:
        _print_table(report)
    return 1 if any(r['error'] for r in report['results']) else 0
