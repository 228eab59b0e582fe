# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Post-training static int8 quantisation of an exported ONNX model, calibrated on frames.

ONNX Runtime's ``quantize_static`` writes a QDQ model (QuantizeLinear / DequantizeLinear
around each quantised layer: uint8 activations, int8 per-channel weights, MinMax ranges
over the calibration frames). ONNX Runtime and OpenVINO both run the file; OpenVINO turns the
QDQ pairs into int8 kernels. Calibration frames are network inputs (1, 4, S, S) made exactly
as evaluation makes them (crop, resize, ``normalise_rgbd``) from a labelled dataset such as
the project's synthetic ``kufenet datagen`` output.

Which layers are quantised (:data:`QUANTISE_POLICIES`): ``dense`` (default) quantises the
convolutions that mix channels (point-wise, stems, fusion) and leaves depth-wise convolutions,
transposed convolutions and the output head in float: depth-wise layers are memory-bound and
int8 only adds the quantise/dequantise passes around them; the head writes the grasp maps
directly. ``all-conv`` quantises every Conv and ConvTranspose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
import json
from pathlib import Path
from typing import Any

from kufenet_grasp.data.registry import open_dataset
from kufenet_grasp.data.torch_dataset import GraspMapDataset
from kufenet_grasp.deploy.export import INPUT_NAME
from kufenet_grasp.grasp.model_input import InputSpec
import numpy as np

QUANTISE_POLICIES = ('dense', 'all-conv')


class QuantiseError(RuntimeError):
    """Quantisation failed (no frames, bad model, missing package)."""


def calibration_frames(dataset: str, *, split: str | None = None, count: int = 64,
                       input_size: int = 224, seed: int = 0,
                       input_spec: dict | None = None) -> list[np.ndarray]:
    """Up to ``count`` network inputs (1, 4, S, S) float32 from ``dataset`` (``FORMAT:PATH``).

    Images are drawn without replacement with ``seed``; each goes through the evaluation
    pipeline (window as ``input_spec`` says, the weights' ``InputSpec`` dict, legacy crop when
    empty; resize to ``input_size`` px; normalisation), so the ranges the quantiser sees are
    those of real inputs.
    """
    if count < 1:
        raise ValueError(f'calibration needs at least one frame, got count={count}')
    data = open_dataset(dataset, split=split)
    if len(data) == 0:
        raise ValueError(f'calibration dataset {dataset} (split {split}) has no images')
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(data), size=min(count, len(data)), replace=False))
    view = GraspMapDataset(data, [int(i) for i in chosen], input_size=input_size,
                           augment=False, input_spec=InputSpec.from_dict(input_spec or {}))
    return [np.ascontiguousarray(view[i][0].numpy()[None], np.float32)
            for i in range(len(view))]


class _Frames:
    """``onnxruntime.quantization.CalibrationDataReader`` over a list of frames."""

    def __init__(self, frames: Sequence[np.ndarray]) -> None:
        self._frames: Iterator[np.ndarray] = iter(frames)

    def get_next(self) -> dict[str, np.ndarray] | None:
        frame = next(self._frames, None)
        return None if frame is None else {INPUT_NAME: frame}


def _layers_left_in_float(model: Any, policy: str) -> list[str]:
    """Names of the Conv nodes kept in float by ``policy`` (see the module docstring)."""
    if policy == 'all-conv':
        return []
    graph = model.graph
    outputs = {out.name for out in graph.output}
    keep = []
    for node in graph.node:
        groups = next((a.i for a in node.attribute if a.name == 'group'), 1)
        if node.op_type == 'Conv' and groups > 1:
            keep.append(node.name)
    # the head: the last Conv before the output (through at most a few element-wise ops)
    producer = {out: node for node in graph.node for out in node.output}
    frontier = list(outputs)
    for _ in range(8):
        nodes = [producer[name] for name in frontier if name in producer]
        convs = [n for n in nodes if n.op_type == 'Conv']
        if convs:
            keep += [n.name for n in convs]
            break
        frontier = [name for n in nodes for name in n.input]
    return keep


def quantise_onnx(float_onnx: Path, out: Path, frames: Sequence[np.ndarray], *,
                  policy: str = 'dense', calibration: dict | None = None) -> Path:
    """Write the int8 QDQ version of ``float_onnx`` to ``out``, calibrated on ``frames``.

    The float file's metadata is kept, with ``precision`` set to ``int8`` and
    ``quantisation`` describing the policy and the calibration data (``calibration``).
    """
    import onnx

    try:
        from onnxruntime.quantization import (
            CalibrationMethod,
            QuantFormat,
            quantize_static,
            QuantType,
        )
    except ImportError as exc:
        raise QuantiseError("int8 export needs the 'onnxruntime' package") from exc
    if policy not in QUANTISE_POLICIES:
        raise ValueError(f"quantisation policy {policy!r}: choose {', '.join(QUANTISE_POLICIES)}")
    if not frames:
        raise QuantiseError('no calibration frames')
    float_onnx, out = Path(float_onnx), Path(out)
    source = onnx.load(str(float_onnx))
    keep_float = _layers_left_in_float(source, policy)
    out.parent.mkdir(parents=True, exist_ok=True)
    quantize_static(str(float_onnx), str(out), _Frames(frames), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    per_channel=True, calibrate_method=CalibrationMethod.MinMax,
                    op_types_to_quantize=['Conv', 'ConvTranspose'],
                    nodes_to_exclude=keep_float)
    quantised = onnx.load(str(out))
    props = {entry.key: entry.value for entry in source.metadata_props}
    props['precision'] = 'int8'
    props['quantisation'] = json.dumps({
        'tool': 'onnxruntime.quantization.quantize_static', 'format': 'QDQ',
        'activations': 'uint8', 'weights': 'int8 per channel', 'ranges': 'MinMax',
        'policy': policy, 'float_layers': len(keep_float), 'frames': len(frames),
        **(calibration or {})}, sort_keys=True)
    del quantised.metadata_props[:]
    for key, value in props.items():
        entry = quantised.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(quantised, str(out))
    return out


def agreement(run_float: Callable[[np.ndarray], np.ndarray],
              run_int8: Callable[[np.ndarray], np.ndarray], frames: Sequence[np.ndarray]
              ) -> dict[str, float]:
    """How far the int8 maps are from the float maps on ``frames``.

    Returns the largest and the mean absolute difference of the quality map and the mean
    distance (px) between the two models' quality maxima.
    """
    worst, total, shift = 0.0, 0.0, 0.0
    for frame in frames:
        a, b = np.asarray(run_float(frame))[0, 0], np.asarray(run_int8(frame))[0, 0]
        diff = np.abs(a - b)
        worst, total = max(worst, float(diff.max())), total + float(diff.mean())
        pa = np.unravel_index(np.argmax(a), a.shape)
        pb = np.unravel_index(np.argmax(b), b.shape)
        shift += float(np.hypot(pa[0] - pb[0], pa[1] - pb[1]))
    n = max(len(frames), 1)
    return {'quality_max_abs_diff': worst, 'quality_mean_abs_diff': total / n,
            'peak_shift_px': shift / n}
