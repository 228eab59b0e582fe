# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet label-quality``: re-execute a sample of synthetic labels in physics, perturbed."""

from __future__ import annotations

import argparse
import json

HELP = 'Re-execute a random sample of synthetic grasp labels (perturbed) and report success.'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``kufenet label-quality``."""
    parser.add_argument('root', help="dataset folder written by 'kufenet datagen'")
    parser.add_argument('--samples', type=int, default=200, help='labels to re-execute')
    parser.add_argument('--seed', type=int, default=0, help='sampling / perturbation seed')
    parser.add_argument('--shift-mm', type=float, default=2.0,
                        help='max centre shift along image x and y (mm)')
    parser.add_argument('--turn-deg', type=float, default=3.0, help='max angle change (deg)')
    parser.add_argument('--json', action='store_true', help='print the result as JSON')


def run(args: argparse.Namespace) -> int:
    """Print the success share; exit 0 when it is at least 90 %, 1 otherwise."""
    from kufenet_grasp.sim.label_quality import check_labels, LabelQualityError

    try:
        report = check_labels(args.root, samples=args.samples, seed=args.seed,
                              shift_m=args.shift_mm / 1000.0, turn_deg=args.turn_deg)
    except LabelQualityError as exc:
        print(f'kufenet label-quality: error: {exc}')
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(f're-executed {report.tested} labels (perturbed ±{args.shift_mm} mm, '
              f'±{args.turn_deg} deg): {report.succeeded} held, '
              f'success {100 * report.success_rate:.1f} % (target >= 90 %)')
        for split, c in sorted(report.per_split.items()):
            print(f"  {split}: {c['succeeded']}/{c['tested']}")
    return 0 if report.success_rate >= 0.9 else 1
