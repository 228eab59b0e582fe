# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The ``kufenet`` command line: one entry point, one module per subcommand.

Each subcommand module defines ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``. Modules import heavy libraries (torch, pybullet)
inside ``run`` so that ``kufenet --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

#: subcommand name -> module under ``kufenet_grasp.cli``
SUBCOMMANDS: dict[str, str] = {
    'info': 'info',
    'datagen': 'datagen',
    'label-quality': 'label_quality',
    'show-dataset': 'show_dataset',
    'train': 'train',
    'eval': 'evaluate',
    'camera-sweep': 'camera_sweep',
    'interpolate': 'interpolate',
    'refit-head': 'refit_head',
    'ablation': 'ablation',
    'export': 'export',
    'bench': 'bench',
    'bench-node': 'bench_node',
    'demo': 'demo',
    'detect': 'detect',
}


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog='kufenet',
        description=(
            'KufeNet planar grasp detection: models, data, training, evaluation, deployment.'
        ),
    )
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(f'kufenet_grasp.cli.{module_name}')
        sub_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kufenet`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, '_run', None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == '__main__':
    sys.exit(main())
