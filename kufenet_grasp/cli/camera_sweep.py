# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet camera-sweep``: accuracy per camera distance and tilt on synthetic test objects."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from kufenet_grasp.cli.evaluate import margin_m, window_on_objects, WINDOW_PLACEMENTS

HELP = 'Accuracy of weights per camera distance and tilt (synthetic test objects).'


def _numbers(kind: type) -> Callable[[str], tuple[Any, ...]]:
    """Parser of a comma-separated list of non-negative numbers of ``kind`` (int, float)."""
    def parse(text: str) -> tuple[Any, ...]:
        try:
            values = tuple(kind(v) for v in text.split(','))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'integers' if kind is int else 'numbers'} separated by commas, "
                f'got {text!r}') from None
        if any(v < 0 for v in values):
            raise argparse.ArgumentTypeError(f'expected non-negative numbers, got {text!r}')
        return values
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``kufenet camera-sweep``."""
    parser.add_argument('weights', nargs='+', help='weights files (.safetensors)')
    parser.add_argument('--out', required=True,
                        help='folder for the rendered cells (reused by later runs)')
    parser.add_argument('--scenes', type=int, default=20, help='scenes per cell')
    parser.add_argument('--distances', type=_numbers(float), default=None, metavar='M,M,...',
                        help='camera distances from the support (m), default 0.3,0.6,1.0,1.5')
    parser.add_argument('--tilts', type=_numbers(float), default=None, metavar='DEG,DEG,...',
                        help='camera tilts from vertical (degrees), default 0,25,45')
    parser.add_argument('--seed', type=_numbers(int), default=(7,), metavar='SEED[,SEED...]',
                        help='generator seed of the cells; several (7,11) pool their draws, '
                             'each rendered into OUT/seed<SEED>/')
    parser.add_argument('--workers', type=int, default=1, help='generator processes')
    parser.add_argument('--label-margin-m', type=margin_m, default=0.0, metavar='M',
                        help="add M metres to every label's opening before scoring (as "
                             "'kufenet eval --label-margin-m'; default 0)")
    parser.add_argument('--window', choices=WINDOW_PLACEMENTS, default='weights',
                        help="as 'kufenet eval --window'")
    parser.add_argument('--execute', action='store_true',
                        help="also run each image through the node's detector and execute "
                             'its best grasp in the rebuilt scene (images held)')
    parser.add_argument('--json', action='store_true', help='print the results as JSON')


def run(args: argparse.Namespace) -> int:
    """Render the cells, evaluate every weights file, print a table per file."""
    import json
    import sys

    from kufenet_grasp.models.weights import WeightsError
    from kufenet_grasp.sim.datagen import DatagenError
    from kufenet_grasp.training.camera_sweep import (
        DISTANCES_M,
        markdown_table,
        run_sweep,
        sweep_cells,
        TILTS_DEG,
    )

    if args.scenes < 1:
        print('kufenet camera-sweep: error: --scenes must be >= 1', file=sys.stderr)
        return 2
    cells = sweep_cells(args.distances or DISTANCES_M, args.tilts or TILTS_DEG)
    try:
        results = run_sweep(args.weights, args.out, args.scenes, args.seed, args.workers,
                            cells, label_margin_m=args.label_margin_m,
                            window_on_objects=window_on_objects(args.window),
                            execute=args.execute)
    except (ValueError, FileNotFoundError, WeightsError, DatagenError) as exc:
        print(f'kufenet camera-sweep: error: {exc}', file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(results))
        return 0
    for weights in args.weights:
        pooled = f", seeds {', '.join(map(str, args.seed))} pooled" if len(args.seed) > 1 else ''
        print(f'{weights}: top-1 accuracy (images right / images, 95 % interval) per camera '
              f'distance and tilt{pooled}')
        print(markdown_table(results, weights))
        if args.execute:
            print(f"{weights}: the detector's best grasp executed in simulation (images held / "
                  f'images, 95 % interval){pooled}')
            print(markdown_table(results, weights, 'held'))
    return 0
