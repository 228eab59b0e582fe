# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet detect``: the grasp_detector's pipeline on image files or a ROS 2 bag, no ROS graph.

The detector is built as the node builds it (``kufenet_grasp.detection.builder``) from the same
parameters file (default: the shipped ``config/detector.yaml``) and weights; frame checks and
statuses are the node's. What a live node does and this command does not: frame age and the
rate cap (recorded data is processed frame by frame) and the transform to the base frame
(poses stay in the camera optical frame).
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from typing import Any

from kufenet_grasp.common.package_files import find_package_file

HELP = "Detect grasps in colour + depth files or a rosbag2 bag with the node's pipeline."
NODE_NAME = 'grasp_detector'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the detect options."""
    files = parser.add_argument_group('image files')
    files.add_argument('--color', nargs='+', metavar='C',
                       help='colour image(s): paths or quoted globs (paired with --depth in '
                            'sorted order)')
    files.add_argument('--depth', nargs='+', metavar='D',
                       help='depth image(s) registered to colour: 16-bit PNG (mm, or '
                            '--depth-scale), float TIFF (m) or .npy')
    files.add_argument('--dataset', metavar='[FORMAT:]PATH',
                       help='a folder in the Cornell or Jacquard layout (instead of '
                            '--color/--depth)')
    files.add_argument('--camera-info', metavar='K.yaml',
                       help='intrinsics: a camera calibration YAML (camera_calibration_parsers '
                            'layout) or a sensor_msgs/CameraInfo dumped to YAML; without it, '
                            'pixel grasps only (no opening in metres, no pose)')
    files.add_argument('--depth-scale', type=float, metavar='S',
                       help='metres per depth unit (default 0.001 for integer files, 1 for '
                            'float files)')
    bag = parser.add_argument_group('ROS 2 bag (mcap or sqlite3; read without ROS)')
    bag.add_argument('--bag', metavar='PATH',
                     help='bag folder; without topics, list its image and camera-info topics')
    bag.add_argument('--color-topic', metavar='T', help='sensor_msgs/Image or CompressedImage')
    bag.add_argument('--depth-topic', metavar='T',
                     help='sensor_msgs/Image aligned to colour (16UC1 mm or 32FC1 m)')
    bag.add_argument('--info-topic', metavar='T', help='sensor_msgs/CameraInfo of the colour')
    bag.add_argument('--every', type=int, default=1, metavar='N',
                     help='process every N-th synchronised frame (default 1)')
    bag.add_argument('--max-frames', type=int, metavar='N', help='stop after N frames')
    bag.add_argument('--video', default='overlays.mp4', metavar='NAME',
                     help='overlay video file name in --out (.mp4, or .gif; default '
                          'overlays.mp4)')
    bag.add_argument('--no-progress', action='store_true', help='no progress bar')
    det = parser.add_argument_group('detector')
    det.add_argument('--params', metavar='YAML',
                     help="the node's parameters file (default: the shipped "
                          'config/detector.yaml)')
    det.add_argument('--weights', metavar='W',
                     help='weights (.safetensors, .onnx, .xml or preset name; default: the '
                          "params file's, else the shipped kufenet-80k)")
    det.add_argument('--param', action='append', default=[], metavar='NAME=VALUE',
                     help='override one detector parameter (repeatable), e.g. '
                          'quality_threshold=0.2')
    parser.add_argument('--out', metavar='DIR', help='output folder (created)')


class UsageError(ValueError):
    """The options do not describe one run (missing or conflicting)."""


def _coerce(name: str, value: Any, expected: type, where: str) -> Any:
    if expected is float and type(value) is int:
        return float(value)
    if expected is list and isinstance(value, list):
        return value
    if type(value) is not expected:
        raise UsageError(f'{where}: {name} wants a {expected.__name__}, got {value!r}')
    return value


def detector_settings(params_file: str | None, weights: str | None,
                      overrides: list[str]) -> tuple[dict[str, Any], str]:
    """Parameter values (table defaults <- params file <- options) and the file used."""
    from kufenet_grasp.cli.demo import parse_detector_params
    from kufenet_grasp.geometry.gripper import load_gripper
    from kufenet_grasp.nodes import detector_params
    from kufenet_grasp.offline.params_file import read_params_file

    settings = {spec.name: spec.default for spec in detector_params.PARAMETERS}
    given: set[str] = set()  # names the params file or an option sets
    if params_file is None:
        path = find_package_file('config', 'detector.yaml')
    else:
        path = Path(params_file)
    used = ''
    if path is not None:
        values = read_params_file(path, NODE_NAME)
        for name, value in values.items():
            spec = detector_params.SPECS.get(name)
            if spec is None:
                print(f"kufenet detect: warning: {path}: unknown parameter '{name}' ignored",
                      file=sys.stderr)
                continue
            value = _coerce(name, value, type(spec.default), str(path))
            problem = detector_params.validate(name, value, settings)
            if problem:
                raise UsageError(f'{path}: {problem}')
            settings[name] = value
            given.add(name)
        used = str(path)
    try:
        options = parse_detector_params(overrides)
    except ValueError as exc:
        raise UsageError(str(exc).replace('--detector-param', '--param')) from exc
    settings.update(options)
    given |= set(options)
    # as the node declares them: what the gripper file gives, unless set
    problem = detector_params.validate('gripper_config', settings['gripper_config'])
    if problem:
        raise UsageError(problem)
    from_file = detector_params.gripper_defaults(load_gripper(str(settings['gripper_config'])))
    settings.update({name: value for name, value in from_file.items() if name not in given})
    if weights:
        settings['weights'] = weights
    for low, high in (('depth_min_m', 'depth_max_m'),
                      ('gripper.min_width_m', 'gripper.max_width_m')):
        problem = detector_params.validate(low, settings[low], settings)
        if problem:
            raise UsageError(problem)
    return settings, used


def _check_options(args: argparse.Namespace) -> str:
    """'files', 'dataset', 'bag' or 'list' (a bag without topics); UsageError otherwise."""
    if args.bag:
        if args.color or args.depth or args.dataset:
            raise UsageError('--bag cannot be combined with --color/--depth/--dataset')
        if not (args.color_topic or args.depth_topic or args.info_topic):
            return 'list'
        if not (args.color_topic and args.depth_topic):
            raise UsageError('--bag needs --color-topic and --depth-topic (run with --bag '
                             'alone to list the topics)')
        if args.every < 1 or (args.max_frames is not None and args.max_frames < 1):
            raise UsageError('--every and --max-frames must be >= 1')
        mode = 'bag'
    elif bag_options := _bag_only(args):
        raise UsageError(f"{', '.join(bag_options)}: only with --bag (image files and "
                         f'dataset folders are processed whole, each frame once)')
    elif args.dataset:
        if args.color or args.depth:
            raise UsageError('--dataset cannot be combined with --color/--depth')
        mode = 'dataset'
    elif args.color or args.depth:
        if not (args.color and args.depth):
            raise UsageError('--color and --depth go together')
        mode = 'files'
    else:
        raise UsageError('give --color and --depth, --dataset or --bag (see --help)')
    if not args.out:
        raise UsageError('--out DIR is required')
    return mode


def _bag_only(args: argparse.Namespace) -> list[str]:
    """Return the bag options set away from their defaults, as their flags."""
    given = [('--color-topic', args.color_topic), ('--depth-topic', args.depth_topic),
             ('--info-topic', args.info_topic), ('--every', args.every != 1),
             ('--max-frames', args.max_frames is not None)]
    return [flag for flag, value in given if value]


def _list_topics(path: str) -> int:
    from kufenet_grasp.offline import bag_frames

    topics = bag_frames.list_topics(path)
    shown = [t for t in topics if t.msgtype in bag_frames.IMAGE_TYPES + (bag_frames.CAMERA_INFO,)]
    print(f'{path}: {len(topics)} topics, {len(shown)} image / camera-info topics')
    for t in shown:
        print(f'  {t.name}  {t.msgtype}  {t.count} messages')
    guess = bag_frames.suggest_topics(topics)
    if not (guess['color'] and guess['depth']):
        print('no colour and depth image topics found: the detector needs both', file=sys.stderr)
        return 1
    command = (f"kufenet detect --bag {path} --color-topic {guess['color']} "
               f"--depth-topic {guess['depth']}")
    if guess['info']:
        command += f" --info-topic {guess['info']}"
    print(f'suggested:\n  {command} --out detect-out')
    return 0


def _file_frames(args: argparse.Namespace) -> list[Any]:
    from kufenet_grasp.offline import image_files

    def loader(paths: image_files.FramePaths) -> Any:
        return lambda: (image_files.read_color(paths.color),
                        image_files.read_depth(paths.depth, args.depth_scale))

    pairs = image_files.pair_files(args.color, args.depth)
    return [(p.name, loader(p), {'color': str(p.color), 'depth': str(p.depth)}) for p in pairs]


def _dataset_frames(spec: str) -> Any:
    from kufenet_grasp.offline import image_files

    for item in image_files.iter_dataset_frames(spec):
        if isinstance(item, str):
            yield item
        else:
            name, rgb, depth = item
            yield name, (lambda rgb=rgb, depth=depth: (rgb, depth)), {'dataset': spec}


def _run(args: argparse.Namespace) -> int:
    mode = _check_options(args)
    if mode == 'list':
        return _list_topics(args.bag)
    from kufenet_grasp.detection import builder

    settings, params_used = detector_settings(args.params, args.weights, args.param)
    camera = None
    if mode != 'bag' and args.camera_info:
        from kufenet_grasp.offline.camera_info_file import read_camera_info

        info = read_camera_info(args.camera_info)
        camera = info.camera
        for warning in info.warnings:
            print(f'kufenet detect: warning: {warning}', file=sys.stderr)
    elif mode != 'bag':
        print('kufenet detect: warning: no --camera-info: pixel grasps only (no opening in '
              'metres, no finger check, no pose)', file=sys.stderr)
    frames = None
    if mode == 'files':
        frames = _file_frames(args)  # bad paths and topics fail before the model is loaded
    elif mode == 'bag':
        from kufenet_grasp.offline.bag_frames import check_topics

        check_topics(args.bag, args.color_topic, args.depth_topic, args.info_topic)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    weights = str(settings['weights'])
    if not weights:
        weights, random_weights = builder.shipped_weights()
        if random_weights:
            print('kufenet detect: warning: NO TRAINED WEIGHTS: models/kufenet-80k.safetensors '
                  'is not installed, using RANDOM weights; grasps are meaningless',
                  file=sys.stderr)
    infer = builder.load_model(settings, weights)
    detector = builder.build_detector(infer, settings, builder.input_spec_of_source(weights))
    offset = builder.tcp_offset(settings)
    extra = {'weights': weights, 'params_file': params_used}
    if mode == 'bag':
        return _run_bag(args, settings, detector, offset, out, extra)
    from kufenet_grasp.offline.run_files import detect_files

    source = frames if frames is not None else _dataset_frames(args.dataset)
    outcome = detect_files(source, detector, offset, camera, out, print, extra)
    for error in outcome.errors:
        print(f'kufenet detect: error: {error}', file=sys.stderr)
    done = len(outcome.written) // 2
    print(f'wrote {done} result(s) to {out}' + (f', {len(outcome.errors)} frame(s) refused'
                                                if outcome.errors else ''), file=sys.stderr)
    return 1 if outcome.errors or not done else 0


def _run_bag(args: argparse.Namespace, settings: dict[str, Any], detector: Any, offset: Any,
             out: Path, extra: dict[str, Any]) -> int:
    from kufenet_grasp.offline.run_bag import BagRequest, detect_bag

    if not args.info_topic:
        print('kufenet detect: warning: no --info-topic: pixel grasps only (no opening in '
              'metres, no finger check, no pose)', file=sys.stderr)
    request = BagRequest(Path(args.bag), args.color_topic, args.depth_topic, args.info_topic,
                         float(settings['sync_slop_s']), args.every, args.max_frames,
                         args.video)
    summary = detect_bag(request, detector, offset, out, print, not args.no_progress, extra)
    print(f"{summary['color_messages']} colour / {summary['depth_messages']} depth / "
          f"{summary['info_messages']} info messages read, {summary['synchronised_frames']} "
          f"frames synchronised, {summary['processed_frames']} processed, "
          f"{summary['frames_with_grasp']} with a grasp")
    print('per status: ' + ', '.join(f'{k} {v}' for k, v in summary['per_status'].items()))
    if summary['detect_ms_p50'] is not None:
        print(f"detection time p50 {summary['detect_ms_p50']} ms, p95 "
              f"{summary['detect_ms_p95']} ms")
    print(f"wrote {', '.join(summary['outputs'])} to {out}")
    if not summary['processed_frames']:
        print('kufenet detect: error: no synchronised colour + depth frame in the bag (check '
              f"the topics and sync_slop_s = {settings['sync_slop_s']} s)", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the detection; 0 on success, 1 on bad input (one line on stderr), 2 on bad usage."""
    from kufenet_grasp.deploy.backends import BackendUnavailable
    from kufenet_grasp.models.weights import WeightsError
    from kufenet_grasp.offline.bag_frames import BagError
    from kufenet_grasp.offline.bag_outputs import OutputError

    try:
        return _run(args)
    except UsageError as exc:
        print(f'kufenet detect: error: {exc}', file=sys.stderr)
        return 2
    except (ValueError, OSError, BagError, OutputError, WeightsError,
            BackendUnavailable) as exc:
        print(f'kufenet detect: error: {exc}', file=sys.stderr)
        return 1
