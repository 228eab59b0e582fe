# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet ablation``: reproduce the poster's Table V (KD) or Table VI (architecture)."""

from __future__ import annotations

import argparse

HELP = 'Run the Table V (KD strategies) or Table VI (architecture) ablation; resumable.'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ablation options to ``parser``."""
    parser.add_argument('table', choices=['table5', 'table6'])
    parser.add_argument('--dataset', required=True, help='FORMAT:PATH (cornell or jacquard)')
    parser.add_argument('--out', required=True, help='folder for the row runs and tables')
    parser.add_argument('--model', default='kufenet-80k', help='student preset')
    parser.add_argument('--teacher', help='teacher weights (required for table5)')
    parser.add_argument('--train-split', help='training sub-folder of PATH')
    parser.add_argument('--val-split', help='validation sub-folder of PATH')
    parser.add_argument('--split-mode', default='image',
                        choices=['image', 'object', 'sequential'])
    parser.add_argument('--seed', type=int, default=123)
    parser.add_argument('--alpha', type=float, default=1.0)
    parser.add_argument('--beta', type=float, default=1.0)
    parser.add_argument('--kernel', default='gaussian', choices=['gaussian', 'poly'])
    parser.add_argument('--epochs', type=int, default=50)
    parser.add_argument('--batches-per-epoch', type=int, default=1000)
    parser.add_argument('--val-batches', type=int, default=None)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--input-size', type=int, default=224)
    parser.add_argument('--workers', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--no-progress', action='store_true')


def run(args: argparse.Namespace) -> int:
    """Run all rows, print the Markdown table; 2 on a bad option."""
    from pathlib import Path
    import sys

    from kufenet_grasp.training.ablation import run_ablation
    from kufenet_grasp.training.config import TrainConfig
    from kufenet_grasp.training.trainer import TrainError

    try:
        base = TrainConfig(
            model=args.model, dataset=args.dataset, out=args.out, train_split=args.train_split,
            val_split=args.val_split, split_mode=args.split_mode, seed=args.seed,
            teacher=args.teacher, alpha=args.alpha, beta=args.beta, kernel=args.kernel,
            epochs=args.epochs, batches_per_epoch=args.batches_per_epoch,
            val_batches=args.val_batches, batch_size=args.batch_size, lr=args.lr,
            input_size=args.input_size, workers=args.workers, device=args.device,
            threads=args.threads, progress=not args.no_progress)
        run_ablation(args.table, base, args.out)
    except (ValueError, TrainError) as exc:
        print(f'kufenet ablation: error: {exc}', file=sys.stderr)
        return 2
    print((Path(args.out) / f'{args.table}.md').read_text(), end='')
    return 0
