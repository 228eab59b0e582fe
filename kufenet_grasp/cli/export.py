# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet export``: write a model as ONNX (with metadata) or OpenVINO IR, then verify it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
import sys
from typing import Any

HELP = 'Export weights or a preset to ONNX / OpenVINO IR and check it matches PyTorch.'
TOLERANCE = 1e-4


def _rewrites(text: str) -> list[str]:
    """Parse ``--rewrite``: comma-separated names, ``none`` for no rewrite."""
    return [] if text.strip() == 'none' else [v for v in text.split(',') if v]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the export options."""
    parser.add_argument('source', metavar='WEIGHTS_OR_PRESET',
                        help='a .safetensors weights file or a preset name (random weights)')
    parser.add_argument('--format', choices=('onnx', 'openvino'), default='onnx',
                        help='onnx, or openvino (writes the .onnx and an .xml/.bin IR)')
    parser.add_argument('--out', type=Path, default=None,
                        help='output path (.onnx, or .xml for openvino); default '
                             '<name>_<size>.onnx|.xml beside the weights or in the cwd')
    parser.add_argument('--size', type=int, default=224, help='square input side, pixels')
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset (13-21)')
    parser.add_argument('--dynamic-batch', action='store_true',
                        help='make the batch dimension dynamic')
    parser.add_argument('--rewrite', type=_rewrites, default=None, metavar='NAMES',
                        help='exact graph rewrites after BatchNorm folding, comma-separated, '
                             "or 'none': mix (one depth-wise conv per multi-scale block), "
                             'mix-split (the same for the RGB split blocks only; the '
                             'default), dense-fusion (channel shuffle + grouped fusion conv '
                             'as one dense conv), pad-head (8 output channels for the 4-map '
                             'head, sliced)')
    parser.add_argument('--no-verify', action='store_true',
                        help='skip the comparison with PyTorch on a random input')
    int8 = parser.add_argument_group('int8 (post-training static quantisation)')
    int8.add_argument('--int8', action='store_true',
                      help='also write an int8 model (<out stem>_int8.onnx|.xml) calibrated '
                           'on --calib frames')
    int8.add_argument('--calib', metavar='FORMAT:PATH', default=None,
                      help='calibration data, e.g. jacquard:DIR from kufenet datagen')
    int8.add_argument('--calib-split', default='train',
                      help="split folder of --calib ('' for the whole folder)")
    int8.add_argument('--calib-frames', type=int, default=64, help='calibration frames')
    int8.add_argument('--quantise', choices=('dense', 'all-conv'), default='dense',
                      help='dense: channel-mixing convolutions only (depth-wise, transposed '
                           'and head stay float); all-conv: every Conv/ConvTranspose')


def default_output(source: str, name: str, size: int, fmt: str) -> Path:
    """``<name>_<size>.onnx|.xml`` beside the weights file, or in the cwd for a preset."""
    suffix = '.xml' if fmt == 'openvino' else '.onnx'
    path = Path(source)
    folder = path.parent if path.is_file() else Path.cwd()
    stem = path.stem if path.is_file() else name
    return folder / f'{stem}_{size}{suffix}'


def run(args: argparse.Namespace) -> int:
    """Export, verify against PyTorch (max |diff| <= 1e-4), print the written paths."""
    from kufenet_grasp.deploy.backends import (
        InferenceBackend,
        OnnxRuntimeBackend,
        OpenVinoBackend,
    )
    from kufenet_grasp.deploy.export import (
        DEFAULT_REWRITES,
        export_onnx,
        export_openvino,
        max_abs_difference,
    )
    from kufenet_grasp.deploy.source import resolve_source, SourceError

    try:
        resolved = resolve_source(args.source)
    except (SourceError, ValueError) as exc:
        print(f'kufenet export: {exc}', file=sys.stderr)
        return 2
    out = args.out or default_output(args.source, resolved.name, args.size, args.format)
    if args.format == 'openvino' and out.suffix != '.xml':
        print(f'kufenet export: --out {out} must end in .xml for openvino', file=sys.stderr)
        return 2
    if args.int8 and not args.calib:
        print('kufenet export: --int8 needs --calib FORMAT:PATH (calibration frames)',
              file=sys.stderr)
        return 2
    onnx_path = out.with_suffix('.onnx')
    try:
        export_onnx(resolved, onnx_path, input_size=args.size, opset=args.opset,
                    dynamic_batch=args.dynamic_batch,
                    split_bias=args.format == 'openvino',  # faster there, slower on ORT
                    rewrites=DEFAULT_REWRITES if args.rewrite is None else args.rewrite)
    except ValueError as exc:
        print(f'kufenet export: {exc}', file=sys.stderr)
        return 2
    written = [onnx_path]
    checks: list[tuple[str, Callable[[], InferenceBackend]]] = [
        ('onnxruntime', lambda: OnnxRuntimeBackend(onnx_path, args.size, 2))]
    if args.format == 'openvino':
        export_openvino(onnx_path, out)
        written += [out, out.with_suffix('.bin')]
        checks.append(('openvino', lambda: OpenVinoBackend(out, args.size, 2)))
    for path in written:
        print(f'wrote {path}')
    if args.int8:
        code = _export_int8(args, resolved, onnx_path, out)
        if code:
            return code
    if args.no_verify:
        return 0
    status = 0
    for name, make in checks:
        diff = max_abs_difference(resolved.model, make().infer, args.size)
        verdict = 'ok' if diff <= TOLERANCE else 'MISMATCH'
        print(f'{name}: max |output - PyTorch| = {diff:.2e} ({verdict}, tolerance {TOLERANCE})')
        status = status or int(diff > TOLERANCE)
    return status


def int8_path(out: Path) -> Path:
    """``<stem>_int8<suffix>`` beside ``out``."""
    return out.with_name(f'{out.stem}_int8{out.suffix}')


def _export_int8(args: argparse.Namespace, resolved: Any, onnx_path: Path, out: Path) -> int:
    """Quantise ``onnx_path`` on the calibration frames; write .onnx (and .xml); report."""
    from kufenet_grasp.deploy.backends import InferenceBackend
    from kufenet_grasp.deploy.export import export_openvino
    from kufenet_grasp.deploy.quantise import (
        agreement,
        calibration_frames,
        quantise_onnx,
        QuantiseError,
    )
    from kufenet_grasp.deploy.runtimes import OnnxRuntimeBackend, OpenVinoBackend

    try:
        frames = calibration_frames(args.calib, split=args.calib_split or None,
                                    count=args.calib_frames, input_size=args.size,
                                    input_spec=resolved.metadata.get('input_spec'))
        int8_onnx = quantise_onnx(onnx_path, int8_path(onnx_path), frames,
                                  policy=args.quantise,
                                  calibration={'dataset': args.calib,
                                               'split': args.calib_split})
    except (ValueError, FileNotFoundError, QuantiseError) as exc:
        print(f'kufenet export: int8: {exc}', file=sys.stderr)
        return 2
    print(f'wrote {int8_onnx} ({len(frames)} calibration frames from {args.calib})')
    pairs: list[tuple[str, InferenceBackend, InferenceBackend]] = [
        ('onnxruntime', OnnxRuntimeBackend(onnx_path, args.size, 1),
         OnnxRuntimeBackend(int8_onnx, args.size, 1))]
    if args.format == 'openvino':
        int8_xml = export_openvino(int8_onnx, int8_path(out))
        print(f'wrote {int8_xml} and {int8_xml.with_suffix(".bin")}')
        pairs.append(('openvino', OpenVinoBackend(out, args.size, 1),
                      OpenVinoBackend(int8_xml, args.size, 1)))
    for name, fp32, int8 in pairs:
        report = agreement(fp32.infer, int8.infer, frames)
        print(f'{name} int8 against float on the calibration frames: quality max |diff| '
              f"{report['quality_max_abs_diff']:.3f}, mean {report['quality_mean_abs_diff']:.4f}, "
              f"best-pixel shift {report['peak_shift_px']:.1f} px (accuracy: kufenet eval)")
    return 0
