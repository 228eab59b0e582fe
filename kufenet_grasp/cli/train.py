# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet train``: train a grasp network, optionally distilled from a teacher."""

from __future__ import annotations

import argparse
import json

HELP = 'Train a grasp network (optionally with KD from a teacher); writes a run folder.'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the train options to ``parser``."""
    parser.add_argument('--model', required=True, help='model preset, e.g. kufenet-80k')
    parser.add_argument('--model-arg', action='append', default=[], metavar='KEY=JSON',
                        help='override a model option, e.g. unequal=false (repeatable)')
    parser.add_argument('--dataset', required=True, help='FORMAT:PATH (cornell or jacquard)')
    parser.add_argument('--train-split', help='training sub-folder of PATH')
    parser.add_argument('--val-split', help='validation sub-folder of PATH')
    parser.add_argument('--split-mode', default='image', choices=['image', 'object',
                                                                  'sequential'],
                        help='split PATH 80/10/10 by image or object when no split folders')
    parser.add_argument('--seed', type=int, default=123, help='seed of split, init, data')
    parser.add_argument('--teacher', help='teacher weights (.safetensors) for KD')
    parser.add_argument('--kd', default=None, choices=['none', 'fruit', 'hint', 'fruit+hint'],
                        help='KD strategy (default: fruit+hint with --teacher, else none)')
    parser.add_argument('--alpha', type=float, default=1.0, help='fruit loss weight')
    parser.add_argument('--beta', type=float, default=1.0, help='hint (MMD) loss weight')
    parser.add_argument('--mapping', default='max2', choices=['mean', 'max', 'max2', 'max4'])
    parser.add_argument('--kernel', default='gaussian', choices=['gaussian', 'poly'])
    parser.add_argument('--granularity', default='batch', choices=['batch', 'sample'],
                        help='KD condition per batch or per image')
    parser.add_argument('--loss', default='smooth_l1', choices=['smooth_l1', 'mse'])
    parser.add_argument('--epochs', type=int, default=50)
    parser.add_argument('--batches-per-epoch', type=int, default=1000)
    parser.add_argument('--val-batches', type=int, default=None,
                        help='limit validation to this many batches (default: all)')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--lr', type=float, default=1e-3, help='Adam lr (cosine to 1%%)')
    parser.add_argument('--input-size', type=int, default=224, help='model input side, px')
    parser.add_argument('--augment', action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument('--zoom-range', type=_zoom_range, default=(0.5, 1.0), metavar='LO,HI',
                        help='augmentation zoom: window/image side, < 1 zooms in, > 1 zooms '
                             'out (default 0.5,1.0 as GR-ConvNet; 0.6,1.6 also shows objects '
                             'smaller, as a 640x480 camera at 0.6 m does)')
    parser.add_argument('--window-shift', type=float, default=0.0, metavar='F',
                        help='augmentation: move the input window by up to F of its side per '
                             'axis over the source frame (0-0.5; default 0)')
    parser.add_argument('--colour-jitter', type=float, default=0.0, metavar='S',
                        help='augmentation: random exposure, contrast, saturation and white '
                             'balance of strength S (0-1; default 0)')
    parser.add_argument('--coarse-depth', type=float, default=0.0, metavar='P',
                        help="augmentation: with probability P an image's depth loses the "
                             "structures narrower than 0.5-2.5 cm, as a real sensor's does "
                             '(0-1; needs --window-m; default 0)')
    parser.add_argument('--window-m', type=float, default=None, metavar='M',
                        help='metric input: a window of M metres at the support (needs '
                             'intrinsics in the data); default: the pixel crop')
    parser.add_argument('--depth', choices=('perfect', 'stereo'), default='perfect',
                        help="Jacquard-layout depth file: 'stereo' is the sensor-modelled one "
                             '(Kinect / RealSense / perfect, drawn per scene by the generator)')
    parser.add_argument('--label-margin-m', type=float, default=0.0, metavar='M',
                        help="add M metres to each label's opening in the targets (metric "
                             "input only): rectangles show the fingers' pre-grasp opening")
    parser.add_argument('--freeze-norm', action='store_true',
                        help="fine-tuning: keep the BatchNorm layers' running statistics as "
                             'loaded (their scale and shift still train)')
    parser.add_argument('--support-plane', action='store_true',
                        help='feed depth relative to the fitted support plane')
    parser.add_argument('--window-on-objects', action='store_true',
                        help='centre the metric window on what stands on the support plane '
                             '(recorded in the weights, applied wherever they run)')
    parser.add_argument('--workers', type=int, default=0, help='DataLoader worker processes')
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:N]')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--init', help='weights to fine-tune from')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    parser.add_argument('--no-tensorboard', action='store_true', help='skip TensorBoard logs')
    parser.add_argument('--out', required=True, help='run folder')
    parser.add_argument('--resume', action='store_true', help='continue from RUN_DIR/last.pt')


def parse_model_args(items: list[str]) -> dict:
    """``['k=json', ...]`` -> dict; raise ValueError naming a malformed item."""
    result = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise ValueError(f'--model-arg {item!r}: expected KEY=VALUE')
        try:
            result[key] = json.loads(value)
        except json.JSONDecodeError:
            result[key] = value
    return result


def config_from_args(args: argparse.Namespace):  # -> TrainConfig
    """Build the TrainConfig of the parsed arguments."""
    from kufenet_grasp.training.config import TrainConfig

    kd = args.kd or ('fruit+hint' if args.teacher else 'none')
    return TrainConfig(
        model=args.model, dataset=args.dataset, out=args.out,
        model_overrides=parse_model_args(args.model_arg), train_split=args.train_split,
        val_split=args.val_split, split_mode=args.split_mode, seed=args.seed,
        teacher=args.teacher, kd=kd, alpha=args.alpha, beta=args.beta, mapping=args.mapping,
        kernel=args.kernel, granularity=args.granularity, loss=args.loss, epochs=args.epochs,
        batches_per_epoch=args.batches_per_epoch, batch_size=args.batch_size,
        val_batches=args.val_batches, lr=args.lr, input_size=args.input_size,
        augment=args.augment, zoom_range=args.zoom_range, window_shift=args.window_shift,
        colour_jitter=args.colour_jitter, coarse_depth=args.coarse_depth,
        window_m=args.window_m,
        support_plane=args.support_plane, window_on_objects=args.window_on_objects,
        depth=args.depth,
        label_margin_m=args.label_margin_m, freeze_norm=args.freeze_norm,
        workers=args.workers,
        device=args.device, threads=args.threads,
        init=args.init, progress=not args.no_progress, tensorboard=not args.no_tensorboard)


def _zoom_range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(','))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f'expected LO,HI (two numbers), got {text!r}') from exc
    return lo, hi


def run(args: argparse.Namespace) -> int:
    """Train; print the best validation accuracy; return 0 (2 on a bad option)."""
    import sys

    from kufenet_grasp.models.weights import WeightsError
    from kufenet_grasp.training.trainer import train, TrainError

    try:
        config = config_from_args(args)
        result = train(config, resume=args.resume)
    except (ValueError, TrainError, WeightsError) as exc:
        print(f'kufenet train: error: {exc}', file=sys.stderr)
        return 2
    print(f'{result.run_dir}: {result.epochs_run} epochs, best validation accuracy '
          f'{result.best_accuracy:.4f} at epoch {result.best_epoch}')
    return 0
