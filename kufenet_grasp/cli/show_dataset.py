# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet show-dataset``: write a contact sheet (PNG grid) of a grasp dataset."""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

HELP = 'Write a PNG contact sheet of dataset samples with their grasp labels and depth.'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the show-dataset options."""
    parser.add_argument('path', help='dataset root folder (or FORMAT:PATH)')
    parser.add_argument('--format', choices=('cornell', 'jacquard'), default=None,
                        help='dataset format (default: guessed from the files)')
    parser.add_argument('--split', default=None,
                        help='read PATH/SPLIT (e.g. train of the synthetic dataset)')
    parser.add_argument('--n', type=int, default=16, help='number of samples (default 16)')
    parser.add_argument('--seed', type=int, default=0, help='sample-choice seed (default 0)')
    parser.add_argument('--out', default=None,
                        help='output PNG (default: show_dataset_<format>.png here)')


def guess_format(path: Path) -> str:
    """'cornell' if ``pcd*r.png`` files exist under ``path``, 'jacquard' if ``*_grasps.txt``."""
    if next(path.rglob('pcd*r.png'), None) is not None:
        return 'cornell'
    if next(path.rglob('*_grasps.txt'), None) is not None:
        return 'jacquard'
    raise ValueError(f'{path}: cannot tell the dataset format (no pcd*r.png or *_grasps.txt); '
                     'pass --format')


def run(args: argparse.Namespace) -> int:
    """Open the dataset, draw ``--n`` samples and write the PNG; print its path."""
    from kufenet_grasp.data.contact_sheet import write_contact_sheet
    from kufenet_grasp.data.registry import FORMATS, open_dataset

    spec = str(args.path)
    fmt = args.format
    prefix, sep, rest = spec.partition(':')
    if sep and prefix.lower() in FORMATS and not Path(spec).exists():
        fmt, spec = prefix.lower(), rest
    try:
        root = Path(spec)
        if not root.is_dir():
            raise ValueError(f'{root}: dataset folder not found')
        if fmt is None:
            fmt = guess_format(root)
        dataset = open_dataset(f'{fmt}:{spec}', split=args.split)
        out = Path(args.out) if args.out else Path(f'show_dataset_{fmt}.png')
        indices = write_contact_sheet(dataset, out, n=args.n, seed=args.seed)
    except (ValueError, OSError) as exc:
        print(f'kufenet show-dataset: error: {exc}', file=sys.stderr)
        return 1
    print(f'wrote {len(indices)} of {len(dataset)} samples to {out}', file=sys.stderr)
    print(out)
    return 0
