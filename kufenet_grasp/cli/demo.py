"""``kufenet demo``: pick held-out objects with the simulated Panda, the detector and executor."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Simulated pick-and-place demo: sim_world + grasp_detector + grasp_executor in one process."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``demo`` arguments to ``parser``."""
    parser.add_argument("--attempts", type=int, default=20,
                        help="pick attempts (default 20)")
    parser.add_argument("--clutter", type=int, default=0, metavar="N",
                        help="0: one object per scene (default); N: scenes of N objects "
                             "cleared object by object")
    parser.add_argument("--seed", type=int, default=0, help="scene seed (default 0)")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"),
                        help="object split the scenes draw from (default: held-out test)")
    parser.add_argument("--weights", default="",
                        help="detector weights (.safetensors/.onnx or preset); default "
                             "models/kufenet-80k.safetensors when present, else the "
                             "detector's default")
    parser.add_argument("--grasps", default="detector", choices=("detector", "labeller"),
                        help="grasp source: detector (default: the full pipeline) or labeller "
                             "(physics-verified reference grasps sent with the goal: measures "
                             "the robot side without trained weights)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for reports/demo-<UTC timestamp>/ (default reports/)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds one pick may take before it counts as TIMEOUT")
    parser.add_argument("--no-progress", action="store_true",
                        help="print one line per attempt instead of a progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when it completed (whatever the success rate), 2 on bad settings."""
    from kufenet_grasp.demo.run_demo import DemoError, DemoOptions, run_demo

    try:
        options = DemoOptions(attempts=args.attempts, clutter=args.clutter, seed=args.seed,
                              object_split=args.split, weights=args.weights,
                              attempt_timeout_s=args.timeout, grasp_source=args.grasps,
                              progress=not args.no_progress)
        if args.out is not None:
            options.out_root = args.out
    except ValueError as err:
        print(f"kufenet demo: {err}")
        return 2
    try:
        run_demo(options)
    except DemoError as err:
        print(f"kufenet demo: {err}")
        return 1
    return 0
