# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet datagen``: generate the synthetic PyBullet grasp dataset (Jacquard layout)."""

from __future__ import annotations

import argparse
import json

HELP = 'Generate the synthetic PyBullet grasp dataset with physics-checked labels.'


def _range(text: str) -> tuple[int, int]:
    """Parse ``LO-HI`` (or ``N``) into an inclusive integer range."""
    try:
        parts = [int(v) for v in text.split('-')]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f'--objects-per-clutter: expected LO-HI, got {text!r}'
                                         ) from exc
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not 1 <= parts[0] <= parts[1]:
        raise argparse.ArgumentTypeError(f'--objects-per-clutter: expected 1 <= LO <= HI, '
                                         f'got {text!r}')
    return parts[0], parts[1]


def _pair(text: str) -> tuple[float, float]:
    """Parse ``LO,HI`` (or ``V`` for LO = HI = V) into two floats."""
    try:
        parts = [float(v) for v in text.split(',')]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f'expected LO,HI (two numbers), got {text!r}') from exc
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or parts[0] > parts[1]:
        raise argparse.ArgumentTypeError(f'expected LO,HI with LO <= HI, got {text!r}')
    return parts[0], parts[1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``kufenet datagen``."""
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--scenes', type=int, required=True, help='number of scenes')
    parser.add_argument('--seed', type=int, default=0, help='run seed (scene k depends on it)')
    parser.add_argument('--workers', type=int, default=1, help='worker processes')
    parser.add_argument('--size', type=int, default=400, help='image width = height (px)')
    parser.add_argument('--distance', type=_pair, default=(0.3, 1.5),
                        help='camera distance to the support, LO,HI (m)')
    parser.add_argument('--tilt', type=_pair, default=(0.0, 50.0),
                        help='camera tilt from vertical, LO,HI (degrees)')
    parser.add_argument('--hfov', type=_pair, default=(40.0, 90.0),
                        help='horizontal field of view, LO,HI (degrees)')
    parser.add_argument('--split-only', choices=('train', 'val', 'test'), default=None,
                        help="every scene uses this split's objects (e.g. a camera sweep)")
    parser.add_argument('--clutter-fraction', type=float, default=0.3,
                        help='share of scenes with several objects')
    parser.add_argument('--tray-fraction', type=float, default=0.5,
                        help='share of scenes with the objects in a tray')
    parser.add_argument('--objects-per-clutter', type=_range, default=(3, 6),
                        help='object count range of clutter scenes, LO-HI')
    parser.add_argument('--max-candidates', type=int, default=64,
                        help='grasp candidates sampled per scene (before pre-checks)')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')


def run(args: argparse.Namespace) -> int:
    """Generate the dataset; print the per-split summary as JSON."""
    from kufenet_grasp.sim.datagen import DatagenConfig, DatagenError, generate_dataset

    try:
        config = DatagenConfig(size=args.size, clutter_fraction=args.clutter_fraction,
                               tray_fraction=args.tray_fraction,
                               objects_per_clutter=tuple(args.objects_per_clutter),
                               max_candidates=args.max_candidates,
                               distance=tuple(args.distance), tilt_deg=tuple(args.tilt),
                               hfov_deg=tuple(args.hfov), split_only=args.split_only)
        summary = generate_dataset(args.out, args.scenes, seed=args.seed, workers=args.workers,
                                   config=config, progress=not args.no_progress)
    except DatagenError as exc:
        print(f'kufenet datagen: error: {exc}')
        return 2
    print(json.dumps(summary['splits'], indent=1))
    return 0
