# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Detect grasps in a bag's synchronised frames; write results, overlays and a summary.

Outputs in ``out_dir``: ``frames.jsonl`` (one record per processed frame, bad frames
included with status BAD_INPUT), ``contact_sheet.png``, ``overlays.mp4`` (or the ``video``
name given, ``.gif`` for a GIF) and ``summary.json``. A bad frame is reported as one line and
skipped; the others are processed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
import json
from pathlib import Path
import sys
import time
from typing import Any

from kufenet_grasp.common.status import GraspStatus
from kufenet_grasp.detection.detector import DetectionResult, GraspDetector
from kufenet_grasp.geometry.transforms import RigidTransform
from kufenet_grasp.offline import bag_frames
from kufenet_grasp.offline.bag_outputs import bag_summary, ContactSheet, OverlayVideo
from kufenet_grasp.offline.report import draw_result, result_record


@dataclass(frozen=True)
class BagRequest:
    """What to read: bag path, the three topics (info may be None), sync slop (s), subset."""

    path: Path
    color_topic: str
    depth_topic: str
    info_topic: str | None
    slop_s: float
    every: int = 1
    max_frames: int | None = None
    video: str = 'overlays.mp4'
    fps: float | None = None


def _video_fps(request: BagRequest) -> float:
    """Return the rate of the processed frames as recorded (colour rate / every), 1-60 fps."""
    if request.fps is not None:
        return request.fps
    rate = bag_frames.check_topics(request.path, request.color_topic, request.depth_topic,
                                   request.info_topic) or 10.0
    return min(max(rate / request.every, 1.0), 60.0)


def detect_bag(request: BagRequest, detector: GraspDetector, offset: RigidTransform,
               out_dir: Path, echo: Callable[[str], None], progress: bool = True,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Process the bag (see the module docstring); return the summary written to JSON.

    Raises:
        bag_frames.BagError: the bag or one of its topics is unusable.

    """
    from tqdm import tqdm

    video = OverlayVideo(out_dir / request.video, _video_fps(request))
    sheet = ContactSheet()
    stats = bag_frames.BagStats()
    statuses: Counter = Counter()
    detect_ms: list[float] = []
    with_grasp = bad = 0
    frames = bag_frames.synchronised_frames(request.path, request.color_topic,
                                            request.depth_topic, request.info_topic,
                                            request.slop_s, stats)
    bar = tqdm(desc='frames', unit='frame', disable=not progress, file=sys.stderr)
    try:
        with (out_dir / 'frames.jsonl').open('w') as lines:
            for frame in frames:
                if frame.index % request.every:
                    continue
                if request.max_frames is not None and sum(statuses.values()) \
                        >= request.max_frames:
                    break
                bar.update(1)
                fields = {'frame': frame.index, 'stamp_s': round(frame.stamp_s, 6)}
                rgb = camera = None
                try:
                    rgb, depth_m, camera = bag_frames.decode_frame(frame)
                except bag_frames.FrameError as exc:
                    result = DetectionResult(GraspStatus.BAD_INPUT, str(exc))
                else:
                    start = time.perf_counter()
                    result = detector.detect(rgb, depth_m, camera)
                    elapsed = (time.perf_counter() - start) * 1e3
                    if result.status != GraspStatus.BAD_INPUT:
                        detect_ms.append(elapsed)
                        fields['detect_ms'] = round(elapsed, 2)
                status = GraspStatus(result.status)
                statuses[status.name] += 1
                if status == GraspStatus.BAD_INPUT:
                    bad += 1
                    tqdm.write(f'frame {frame.index} at {frame.stamp_s:.3f} s skipped: '
                               f'{result.message}', file=sys.stderr)
                with_grasp += bool(result.grasps)
                record = result_record(f'frame{frame.index:06d}', result, offset, camera,
                                       **fields)
                lines.write(json.dumps(record) + '\n')
                if rgb is not None and status != GraspStatus.BAD_INPUT:
                    overlay = draw_result(rgb, result, f'#{frame.index}')
                    video.add(overlay)
                    sheet.offer(overlay)
    finally:
        bar.close()
        video.close()
    summary = bag_summary(stats, statuses, detect_ms, with_grasp)
    summary.update({'bag': str(request.path), 'color_topic': request.color_topic,
                    'depth_topic': request.depth_topic, 'info_topic': request.info_topic,
                    'sync_slop_s': request.slop_s, 'every': request.every,
                    'bad_frames': bad, **(extra or {})})
    outputs = ['frames.jsonl']
    if sheet.write(out_dir / 'contact_sheet.png'):
        outputs.append('contact_sheet.png')
    if video.frames:
        outputs.append(request.video)
    summary['outputs'] = outputs + ['summary.json']
    (out_dir / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
    return summary
