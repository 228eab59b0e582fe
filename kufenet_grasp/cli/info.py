# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet info``: parameters, FLOPs and CPU latency of a preset or a weights file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

HELP = "Show a model's parameter count, FLOPs and CPU latency (preset name or weights file)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``info`` arguments to ``parser``."""
    parser.add_argument('model', metavar='MODEL',
                        help='preset name (e.g. kufenet-80k) or a .safetensors weights file')
    parser.add_argument('--size', type=int, default=224,
                        help='square input side in pixels (default 224)')
    parser.add_argument('--threads', type=int, default=2,
                        help='CPU threads for the latency measurement (default 2)')
    parser.add_argument('--repeats', type=int, default=20,
                        help='timed forward passes (default 20)')
    parser.add_argument('--json', action='store_true',
                        help='print one JSON object instead of text')


def _load(spec: str):
    """Return (model, arch label, metadata or None) for a preset name or a weights file."""
    from kufenet_grasp.deploy.runtimes import EXPORTED_SUFFIXES
    from kufenet_grasp.models.registry import build_model, MODEL_NAMES
    from kufenet_grasp.models.weights import load_weights

    if spec in MODEL_NAMES:
        model = build_model(spec)
        return model, spec, None
    path = Path(spec)
    if path.suffix in (*EXPORTED_SUFFIXES, '.bin'):  # .bin: the weights beside an IR .xml
        runnable = path.with_suffix('.xml') if path.suffix == '.bin' else path
        raise ValueError(f'MODEL {spec}: an exported model; kufenet info reads presets and '
                         f'.safetensors weights (time the export with kufenet bench --models '
                         f'NAME={runnable})')
    if path.exists():
        model, metadata = load_weights(path)
        return model, metadata.name or metadata.arch, metadata
    raise ValueError(f"MODEL {spec!r} is neither a preset ({', '.join(MODEL_NAMES)}) "
                     f'nor an existing weights file')


def run(args: argparse.Namespace) -> int:
    """Print the model's cost; exit code 2 on a bad MODEL or bad options."""
    from kufenet_grasp.bench.model_latency import measure_latency_ms
    from kufenet_grasp.models.flops import count_flops
    from kufenet_grasp.models.registry import count_parameters
    from kufenet_grasp.models.weights import WeightsError

    if args.size < 8 or args.threads < 1 or args.repeats < 1:
        print(f'kufenet info: --size must be >= 8, --threads and --repeats >= 1 (got '
              f'{args.size}, {args.threads}, {args.repeats})', file=sys.stderr)
        return 2
    try:
        model, arch, metadata = _load(args.model)
    except (ValueError, WeightsError) as exc:
        print(f'kufenet info: {exc}', file=sys.stderr)
        return 2
    params = count_parameters(model)
    flops = count_flops(model, args.size)
    latency = measure_latency_ms(model, args.size, threads=args.threads,
                                 warmup=min(5, args.repeats), repeats=args.repeats)
    about = {} if metadata is None else {'trained_on': metadata.trained_on,
                                         'metrics': metadata.metrics,
                                         'channel_order': metadata.channel_order,
                                         'weights_input_size': metadata.input_size}
    if args.json:
        print(json.dumps({'arch': arch, 'input_size': args.size, 'params': params,
                          'flops': flops, 'latency_ms': round(latency['median'], 4),
                          'latency_p95_ms': round(latency['p95'], 4),
                          'threads': args.threads, **about}))
    else:
        print(f'model       {arch}\n'
              f'parameters  {params:,}\n'
              f'FLOPs       {flops:,} ({flops / 1e9:.3f} GFLOPs at {args.size}x{args.size}, '
              f'1 MAC = 2 FLOPs)\n'
              f"latency     {latency['median']:.2f} ms median, {latency['p95']:.2f} ms p95 "
              f'(CPU, {args.threads} threads)')
        for key, value in about.items():
            print(f'{key:<11} {value}')
    return 0
