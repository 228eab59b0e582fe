# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Where one frame's time goes inside grasp_detector, without DDS (a profiling aid).

Renders the same PyBullet clutter scenes as ``kufenet bench-node`` (640×480 rgb8 + 16UC1
depth + camera info messages), builds the node's ``FrameProcessor`` with the detector's
default parameters and the given weights and backend, and runs the frames through
``FrameProcessor.process`` exactly as the node's worker does. For each gap between frames (ms;
0 = back to back) it prints the median time (ms) of the whole call and of its steps:
pre-processing, inference and post-processing as ``GraspDetector.detect`` reports them,
``detect`` itself, and the rest (decoding, checks, messages and poses). ``--cprofile N``
also prints the N functions with the most cumulative time (back-to-back frames).

Run (after ``. ./env.sh``)::

    python tools/profile_frame.py --gaps-ms 0,33,200 --frames 200 [--cprofile 25]

(``tools/profile_frame.py`` runs :func:`main`.)
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from typing import Any

from kufenet_grasp.bench.node_bench import FRAME_ID, render_scenes
from kufenet_grasp.deploy.backends import create_backend
from kufenet_grasp.detection.builder import input_spec_of_source
from kufenet_grasp.detection.detector import GraspDetector, GraspStream
from kufenet_grasp.nodes import detector_params
from kufenet_grasp.nodes.frame_processing import FrameInput, FrameProcessor
from kufenet_grasp.runtime.image_encoding import numpy_to_image_fields
import numpy as np


class _FixedTransform:
    """CameraToBase stand-in: the scene's camera mount, always available."""

    def __init__(self, t_base_camera: Any) -> None:
        self.base_frame, self.mode = 'base_link', 'static'
        self._t = t_base_camera

    def lookup(self, camera_frame: str, stamp: Any) -> Any:
        """T_base_camera (the stamp does not matter for a fixed mount)."""
        return self._t


def build(weights: str, backend: str, threads: int, scenes: int, seed: int
          ) -> tuple[Any, list[Any], _FixedTransform, list[dict[str, float]]]:
    """(processor, frame inputs, transform, per-call step timings list to fill)."""
    import cv2
    from sensor_msgs.msg import CameraInfo, Image

    cv2.setNumThreads(threads)
    replay = render_scenes(scenes, seed)
    settings = {spec.name: spec.default for spec in detector_params.PARAMETERS}
    size = int(settings['input_size'])
    model = create_backend(backend, weights, input_size=size, threads=threads)
    processor = FrameProcessor(model.infer, settings, weights, input_spec_of_source(weights))
    frames = []
    for i, (rgb, depth) in enumerate(replay.frames):
        color = Image(**numpy_to_image_fields(rgb, 'rgb8'))
        depth_msg = Image(**numpy_to_image_fields(depth, '16UC1'))
        info = CameraInfo(width=rgb.shape[1], height=rgb.shape[0],
                          k=[float(v) for v in replay.k.ravel()])
        for msg in (color, depth_msg, info):
            msg.header.frame_id = FRAME_ID
            msg.header.stamp.sec = 1000 + i
        frames.append(FrameInput(color, depth_msg, info))
    steps: list[dict[str, float]] = []
    processor._detector = _TimedDetector(processor._detector, steps)
    return processor, frames, _FixedTransform(replay.t_base_camera), steps


class _TimedDetector(GraspDetector):
    """The processor's detector, recording each frame's step timings (ms) into ``steps``.

    ``detect`` is the time inside the detector: :meth:`start` (pre-processing, inference)
    plus the post-processing the frame's stream does as the processor takes its grasps.
    """

    def __init__(self, detector: GraspDetector, steps: list[dict[str, float]]) -> None:
        super().__init__(detector.infer_fn, detector.config)
        self._steps = steps

    def start(self, *args: Any, **kwargs: Any) -> GraspStream:
        """Start the frame as the detector does; its timings are read once it has run."""
        begin = time.perf_counter()
        stream = super().start(*args, **kwargs)
        start_ms = 1e3 * (time.perf_counter() - begin)
        # the peak search runs inside start() and counts in the stream's 'postprocess', which
        # the stream fills in when the processor takes its result
        stream.timings_ms['start'] = start_ms - stream._postprocess_ms
        self._steps.append(stream.timings_ms)
        return stream


def run(processor: Any, frames: list[Any], tf: Any, steps: list[dict[str, float]],
        count: int, gap_ms: float) -> dict[str, float]:
    """Median ms of each step over ``count`` frames with ``gap_ms`` of idle between them."""
    steps.clear()
    totals = []
    for i in range(count):
        if gap_ms > 0:
            time.sleep(gap_ms / 1e3)
        frame = frames[i % len(frames)]
        start = time.perf_counter()
        processor.process(frame, frame.stamp_s, tf)
        totals.append(1e3 * (time.perf_counter() - start))
    for timings in steps:
        timings['detect'] = timings.pop('start', 0.0) + timings.get('postprocess', 0.0)
    row = {'gap_ms': gap_ms, 'frames': count, 'process': float(np.median(totals))}
    for key in ('preprocess', 'infer', 'postprocess', 'detect'):
        row[key] = float(np.median([s.get(key, np.nan) for s in steps]))
    row['outside_detect'] = float(np.median([t - s['detect'] for t, s in zip(totals, steps)]))
    return row


def main(argv: list[str] | None = None) -> int:
    """Print the table (or JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--weights', default='models/kufenet-80k.safetensors')
    parser.add_argument('--backend', default='auto')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--scenes', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--frames', type=int, default=200, help='timed frames per gap')
    parser.add_argument('--warmup', type=int, default=20)
    parser.add_argument('--gaps-ms', default='0,33,200',
                        help='idle time between frames, ms, comma-separated')
    parser.add_argument('--cprofile', type=int, default=0, metavar='N',
                        help='also print the N functions with most cumulative time')
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args(argv)
    try:
        gaps = [float(g) for g in args.gaps_ms.split(',') if g.strip()]
    except ValueError:
        parser.error(f'--gaps-ms wants numbers of ms separated by commas, got {args.gaps_ms!r}')
    if args.frames < 1 or args.threads < 1 or args.scenes < 1 or not gaps \
            or not all(0 <= g < float('inf') for g in gaps):
        parser.error('--frames, --threads and --scenes must be >= 1, and --gaps-ms finite '
                     'numbers >= 0 ms')
    processor, frames, tf, steps = build(args.weights, args.backend, args.threads,
                                         args.scenes, args.seed)
    run(processor, frames, tf, steps, args.warmup, 0.0)
    rows = [run(processor, frames, tf, steps, args.frames, gap) for gap in gaps]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print('gap ms | process | preprocess | infer | postprocess | detect | outside detect')
        for r in rows:
            print(f"{r['gap_ms']:6.0f} | {r['process']:7.2f} | {r['preprocess']:10.2f} | "
                  f"{r['infer']:5.2f} | {r['postprocess']:11.2f} | {r['detect']:6.2f} | "
                  f"{r['outside_detect']:.2f}   (medians, ms, {r['frames']} frames)")
    if args.cprofile > 0:
        profiler = cProfile.Profile()
        profiler.enable()
        run(processor, frames, tf, steps, args.frames, 0.0)
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stdout).sort_stats('cumulative').print_stats(
            args.cprofile)
    return 0


if __name__ == '__main__':
    sys.exit(main())
