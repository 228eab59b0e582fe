# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet export``: write a model as ONNX (with metadata) or OpenVINO IR, then verify it."""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

HELP = 'Export weights or a preset to ONNX / OpenVINO IR and check it matches PyTorch.'
TOLERANCE = 1e-4


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
    parser.add_argument('--no-verify', action='store_true',
                        help='skip the comparison with PyTorch on a random input')


def default_output(source: str, name: str, size: int, fmt: str) -> Path:
    """``<name>_<size>.onnx|.xml`` beside the weights file, or in the cwd for a preset."""
    suffix = '.xml' if fmt == 'openvino' else '.onnx'
    path = Path(source)
    folder = path.parent if path.is_file() else Path.cwd()
    stem = path.stem if path.is_file() else name
    return folder / f'{stem}_{size}{suffix}'


def run(args: argparse.Namespace) -> int:
    """Export, verify against PyTorch (max |diff| <= 1e-4), print the written paths."""
    from kufenet_grasp.deploy.backends import OnnxRuntimeBackend, OpenVinoBackend
    from kufenet_grasp.deploy.export import export_onnx, export_openvino, max_abs_difference
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
    onnx_path = out.with_suffix('.onnx')
    export_onnx(resolved, onnx_path, input_size=args.size, opset=args.opset,
                dynamic_batch=args.dynamic_batch,
                split_bias=args.format == 'openvino')  # faster there, slower on ORT
    written = [onnx_path]
    checks = [('onnxruntime', lambda: OnnxRuntimeBackend(onnx_path, args.size, 2))]
    if args.format == 'openvino':
        export_openvino(onnx_path, out)
        written += [out, out.with_suffix('.bin')]
        checks.append(('openvino', lambda: OpenVinoBackend(out, args.size, 2)))
    for path in written:
        print(f'wrote {path}')
    if args.no_verify:
        return 0
    status = 0
    for name, make in checks:
        diff = max_abs_difference(resolved.model, make().infer, args.size)
        verdict = 'ok' if diff <= TOLERANCE else 'MISMATCH'
        print(f'{name}: max |output - PyTorch| = {diff:.2e} ({verdict}, tolerance {TOLERANCE})')
        status = status or int(diff > TOLERANCE)
    return status
