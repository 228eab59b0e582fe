# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet interpolate``: weight-space ensemble of a model and its fine-tuned copy."""

from __future__ import annotations

import argparse

HELP = 'Write (1 - alpha) * BASE + alpha * TUNED weights (WiSE-FT) to OUT.'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``kufenet interpolate``."""
    parser.add_argument('base', help='weights before fine-tuning (.safetensors)')
    parser.add_argument('tuned', help='the fine-tuned weights (.safetensors, same model)')
    parser.add_argument('--alpha', type=float, required=True,
                        help='share of the fine-tuned weights, in [0, 1]')
    parser.add_argument('--out', required=True, help='output .safetensors file')


def run(args: argparse.Namespace) -> int:
    """Interpolate and write; 2 on bad input."""
    import sys

    from kufenet_grasp.models.weights import interpolate_weights, WeightsError

    try:
        meta = interpolate_weights(args.base, args.tuned, args.alpha, args.out)
    except (WeightsError, ValueError, OSError) as exc:
        print(f'kufenet interpolate: error: {exc}', file=sys.stderr)
        return 2
    print(f'{args.out}: {meta.arch}, alpha {args.alpha} of {args.tuned}')
    return 0
