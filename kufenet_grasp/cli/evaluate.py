# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet eval``: top-1 rectangle-metric accuracy of a weights file on a dataset."""

from __future__ import annotations

import argparse

from kufenet_grasp.deploy.runtimes import PRECISIONS

HELP = 'Evaluate weights on a Cornell/Jacquard dataset (top-1 rectangle metric).'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the eval options to ``parser``."""
    parser.add_argument('weights', help='weights file (.safetensors), or an exported .onnx / '
                        '.xml model (float or int8)')
    parser.add_argument('--backend', default='auto', choices=('auto', 'onnxruntime', 'openvino'),
                        help='runtime of an exported model (default: OpenVINO if installed)')
    parser.add_argument('--precision', default='f32', choices=PRECISIONS,
                        help='arithmetic of an exported model run by OpenVINO (default f32)')
    parser.add_argument('--dataset', required=True, help='FORMAT:PATH (cornell or jacquard)')
    parser.add_argument('--split', help='evaluate PATH/SPLIT only (default: every image)')
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    parser.add_argument('--plot', metavar='DIR', help='write a PNG per image to DIR')
    parser.add_argument('--input-size', type=int, default=None,
                        help='model input side in px (default: from the weights metadata)')
    parser.add_argument('--crop-px', type=_crop_px, default=None, metavar='N',
                        help='evaluate on the central N x N window of each source image, '
                             'resized to the model input, as the literature does (224 as '
                             'GR-ConvNet, 300 as GG-CNN); weights with a metric input centre '
                             "their window there. Default: the dataset's usual window")
    parser.add_argument('--depth', choices=('perfect', 'stereo'), default=None,
                        help='Jacquard-layout depth file (default perfect)')
    parser.add_argument('--label-margin-m', type=margin_m, default=0.0, metavar='M',
                        help="add M metres to every label's opening before scoring, as "
                             "'kufenet train --label-margin-m' does to its targets (metric "
                             'input only; default 0: the labels as stored)')
    parser.add_argument('--window', choices=WINDOW_PLACEMENTS, default='weights',
                        help="where a metric window goes: as the weights' input spec says "
                             "(default), on the crop's centre, or on what stands on the "
                             'support near it')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:N]')


def _crop_px(text: str) -> int:
    """Parse ``--crop-px``: a whole number of pixels >= 8."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a whole number of pixels, got {text!r}'
                                         ) from None
    if value < 8:
        raise argparse.ArgumentTypeError(f'must be >= 8 px, got {value}')
    return value


#: ``--window`` choices and the ``window_on_objects`` each gives (None: the weights' spec)
WINDOW_PLACEMENTS = ('weights', 'centre', 'objects')


def window_on_objects(placement: str) -> bool | None:
    """``--window`` as ``evaluate_weights(window_on_objects=...)`` takes it."""
    return {'weights': None, 'centre': False, 'objects': True}[placement]


def margin_m(text: str) -> float:
    """Parse ``--label-margin-m``: metres in [0, 0.2]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected metres, got {text!r}') from None
    if not 0 <= value <= 0.2:
        raise argparse.ArgumentTypeError(f'must be in [0, 0.2] m, got {value}')
    return value


def format_report(report: dict) -> str:
    """Human-readable summary of an evaluation report."""
    lines = [f"images: {report['n_images']}",
             f"accuracy (IoU > 0.25, Δθ ≤ 30°): {report['accuracy'] * 100:.2f}%"]
    for key, value in report['accuracy_by_angle'].items():
        lines.append(f'  Δθ ≤ {key}°: {value * 100:.2f}%')
    lines.append(f"mean best IoU: {report['mean_iou']:.3f}")
    return '\n'.join(lines)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the report (text or JSON); 2 on bad input."""
    import json
    import sys

    from kufenet_grasp.models.weights import WeightsError
    from kufenet_grasp.training.evaluate import evaluate_weights

    try:
        report = evaluate_weights(args.weights, args.dataset, split=args.split,
                                  input_size=args.input_size, batch_size=args.batch_size,
                                  device=args.device, plot_dir=args.plot,
                                  crop_px=args.crop_px, depth=args.depth,
                                  backend=args.backend, label_margin_m=args.label_margin_m,
                                  precision=args.precision,
                                  window_on_objects=window_on_objects(args.window))
    except (ValueError, FileNotFoundError, RuntimeError, WeightsError) as exc:
        print(f'kufenet eval: error: {exc}', file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report))
    else:
        print(format_report(report))
    return 0
