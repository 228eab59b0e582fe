# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet refit-head``: a KufeNet with a cheaper output conv fitted to its own maps."""

from __future__ import annotations

import argparse

HELP = ("Replace a KufeNet's 3x3 output conv by a 1x1 conv, or a 3x3 depth-wise conv and a "
        '1x1 conv, fitted (weighted least squares) to the maps it draws on a dataset.')


def _positive_int(text: str) -> int:
    """Parse a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a whole number, got {text!r}') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {value}')
    return value


def _non_negative(text: str) -> float:
    """Parse a float >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a number, got {text!r}') from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f'must be >= 0, got {text}')
    return value


def _share(text: str) -> float:
    """Parse a float in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a number, got {text!r}') from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'must be in [0, 1], got {text}')
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``kufenet refit-head``."""
    parser.add_argument('weights', help='KufeNet weights (.safetensors) with a 3x3 head, or '
                                        'any head with --output-stride 2')
    parser.add_argument('--dataset', required=True,
                        help='FORMAT:PATH of the images whose maps the new head is fitted to '
                             '(training data: no labels are read)')
    parser.add_argument('--split', default='train',
                        help="read PATH/SPLIT (default train; '' for PATH itself)")
    parser.add_argument('--depth', choices=('perfect', 'stereo'), default=None,
                        help='Jacquard-layout depth file (default perfect)')
    parser.add_argument('--images', type=_positive_int, default=80,
                        help='images drawn from the dataset (default 80)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the draw')
    parser.add_argument('--quality-power', type=_non_negative, default=2.0,
                        help='pixel weight clip(quality, 0, 1) ** P + floor (default P 2)')
    parser.add_argument('--weight-floor', type=_non_negative, default=0.01,
                        help='the floor of the pixel weight, > 0 (default 0.01)')
    parser.add_argument('--output-stride', type=int, choices=(1, 2), default=1,
                        help='2: fit the head to the half-resolution features and leave the '
                             'last up-sampling block out (maps up-sampled after the head)')
    parser.add_argument('--head', choices=('pointwise', 'depthwise'), default='pointwise',
                        help='pointwise: a 1x1 conv (default); depthwise: a 3x3 depth-wise '
                             'conv then a 1x1 conv (from a 3x3 head, full resolution)')
    parser.add_argument('--blend', type=_share, default=None,
                        help='depthwise only: share of the source head in the maps fitted, '
                             'the rest its 1x1 fit (default 1: the source maps alone)')
    parser.add_argument('--out', required=True, help='output .safetensors file')


def run(args: argparse.Namespace) -> int:
    """Fit and write; 2 on bad input."""
    import sys

    from kufenet_grasp.models.weights import WeightsError
    from kufenet_grasp.training.head_refit import refit_weights_file

    if args.blend is not None and args.head != 'depthwise':
        print('kufenet refit-head: error: --blend applies to --head depthwise only',
              file=sys.stderr)
        return 2
    try:
        fit = refit_weights_file(args.weights, args.dataset, args.out,
                                 split=args.split or None, depth=args.depth,
                                 images=args.images, seed=args.seed,
                                 quality_power=args.quality_power,
                                 weight_floor=args.weight_floor,
                                 output_stride=args.output_stride, head=args.head,
                                 blend=1.0 if args.blend is None else args.blend)
    except (WeightsError, ValueError, FileNotFoundError, OSError) as exc:
        print(f'kufenet refit-head: error: {exc}', file=sys.stderr)
        return 2
    images = f"{fit.images} image{'' if fit.images == 1 else 's'}"
    where = ' at half resolution' if fit.output_stride == 2 else ''
    kind = (f'3x3 depth-wise + 1x1 head (blend {fit.blend:g})' if fit.head == 'depthwise'
            else '1x1 head')
    print(f'{args.out}: {kind}{where} fitted on {images} ({fit.pixels:,} pixels) of '
          f'{args.dataset}')
    return 0
