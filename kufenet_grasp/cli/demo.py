# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet demo``: pick held-out objects with the simulated Panda, the detector and executor."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HELP = 'Simulated pick-and-place demo: sim_world + grasp_detector + grasp_executor in one process.'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``demo`` arguments to ``parser``."""
    parser.add_argument('--attempts', type=int, default=20,
                        help='pick attempts (default 20)')
    parser.add_argument('--clutter', type=int, default=0, metavar='N',
                        help='0: one object per scene (default); N: scenes of N objects '
                             'cleared object by object')
    parser.add_argument('--seed', type=int, default=0, help='scene seed (default 0)')
    parser.add_argument('--split', default='test', choices=('train', 'val', 'test'),
                        help='object split the scenes draw from (default: held-out test)')
    parser.add_argument('--weights', default='',
                        help='detector weights (.safetensors/.onnx or preset); default '
                             'models/kufenet-80k.safetensors when present, else the '
                             "detector's default")
    parser.add_argument('--grasps', default='detector', choices=('detector', 'labeller'),
                        help='grasp source: detector (default: the full pipeline) or labeller '
                             '(physics-verified reference grasps sent with the goal: measures '
                             'the robot side without trained weights)')
    parser.add_argument('--out', type=Path, default=None,
                        help='folder for reports/demo-<UTC timestamp>/ (default reports/)')
    parser.add_argument('--timeout', type=float, default=60.0,
                        help='seconds one pick may take before it counts as TIMEOUT')
    parser.add_argument('--no-progress', action='store_true',
                        help='print one line per attempt instead of a progress bar')
    parser.add_argument('--detector-param', action='append', default=[],
                        metavar='NAME=VALUE',
                        help='a grasp_detector parameter over config/detector.yaml, value in '
                             'YAML (e.g. gripper.finger_check=true); repeatable')


def parse_detector_params(items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings to a parameter dict; names must be detector parameters.

    Raises:
        ValueError: a malformed item, an unknown name or a value the parameter refuses.
    """
    from kufenet_grasp.nodes import detector_params
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition('=')
        name = name.strip()
        if not sep or not name:
            raise ValueError(f'--detector-param wants NAME=VALUE, got {item!r}')
        if name not in detector_params.SPECS:
            raise ValueError(f'--detector-param: unknown detector parameter {name!r}')
        value = yaml.safe_load(text)
        expected = type(detector_params.SPECS[name].default)
        if expected is float and type(value) is int:
            value = float(value)
        if type(value) is not expected:
            raise ValueError(f'--detector-param {name}: wants a {expected.__name__}, got '
                             f'{text!r}')
        problem = detector_params.validate(name, value)
        if problem:
            raise ValueError(f'--detector-param {name}: {problem}')
        out[name] = value
    return out


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when it completed (whatever the success rate), 2 on bad settings."""
    from kufenet_grasp.demo.run_demo import DemoError, DemoOptions, run_demo

    try:
        options = DemoOptions(attempts=args.attempts, clutter=args.clutter, seed=args.seed,
                              object_split=args.split, weights=args.weights,
                              attempt_timeout_s=args.timeout, grasp_source=args.grasps,
                              progress=not args.no_progress,
                              detector_overrides=parse_detector_params(args.detector_param))
        if args.out is not None:
            options.out_root = args.out
    except ValueError as err:
        print(f'kufenet demo: {err}')
        return 2
    try:
        run_demo(options)
    except DemoError as err:
        print(f'kufenet demo: {err}')
        return 1
    return 0
