# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Export a grasp model to ONNX (with metadata) and to OpenVINO IR.

The exported graph takes ``input`` float32 (B, 4, S, S), channels [depth, R, G, B], and
returns ``maps`` float32 (B, 4, S / k, S / k), channels [quality, cos 2θ, sin 2θ, width / 150]
(see docs/ARCHITECTURE.md), k the model's ``output_stride`` (1, or 2 for a KufeNet whose head
draws half-resolution maps: the runtimes up-sample them, :func:`~kufenet_grasp.deploy.
runtimes.maps_at_input_size`). BatchNorm is folded before export. The model's metadata is stored
as ONNX ``metadata_props`` and as OpenVINO ``rt_info`` under the ``kufenet`` key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import json
from pathlib import Path
import tempfile
from typing import Any, cast
import warnings

from kufenet_grasp.deploy.fuse import fold_batchnorm
from kufenet_grasp.deploy.mix_rewrite import (
    dense_fusion_without_shuffle,
    fuse_mixed_depthwise,
    fuse_split_blocks,
    pad_head_to_simd,
)
from kufenet_grasp.deploy.model_metadata import (
    read_exported_metadata,
    read_safetensors_metadata,
    RT_INFO_KEY,
    WEIGHTS_METADATA_KEY,
)
from kufenet_grasp.deploy.runtimes import (
    check_input_size,  # noqa: F401 (re-exported)
    import_openvino,
)
from kufenet_grasp.deploy.source import ResolvedModel
from kufenet_grasp.deploy.upsample_rewrite import split_transposed_biases
from kufenet_grasp.models.registry import count_parameters
import numpy as np
import torch
from torch import nn

INPUT_NAME = 'input'
OUTPUT_NAME = 'maps'
#: the network's width channel is the opening in pixels divided by this (docs/ARCHITECTURE.md)
WIDTH_SCALE_PX = 150.0
CHANNEL_ORDER = 'depth,R,G,B'
OUTPUT_ORDER = 'quality,cos2theta,sin2theta,width'
NORMALISATION = ('depth: metres minus mean of valid pixels, clipped to [-1,1], invalid '
                 'inpainted; RGB: /255 minus image mean')
DEFAULT_OPSET = 17
#: exact rewrites of a folded model that ``to_onnx_bytes(rewrites=...)`` can apply
REWRITES = {'mix': fuse_mixed_depthwise, 'mix-split': fuse_split_blocks,
            'dense-fusion': dense_fusion_without_shuffle, 'pad-head': pad_head_to_simd}
#: the rewrites ``kufenet export`` and the backends' on-the-fly export apply unless told:
#: faster on OpenVINO and ONNX Runtime alike (docs/benchmarks.md)
DEFAULT_REWRITES: tuple[str, ...] = ('mix-split',)


class ExportError(RuntimeError):
    """Export failed or the exported model does not reproduce PyTorch."""


def build_metadata(resolved: ResolvedModel, input_size: int) -> dict[str, str]:
    """Return string key/value metadata describing the model, its input and its output."""
    meta = resolved.metadata
    props = {
        'arch': str(getattr(resolved.model, 'arch', resolved.name)),
        'model_name': resolved.name,
        'config': json.dumps(getattr(resolved.model, 'config', {}), default=str),
        'input_size': str(input_size),
        'input_shape': f'B,4,{input_size},{input_size}',
        'channel_order': CHANNEL_ORDER,
        'output_order': OUTPUT_ORDER,
        'normalisation': _text(meta.get('normalisation', NORMALISATION)),
        'width_scale_px': str(float(meta.get('width_scale_px', WIDTH_SCALE_PX))),
        'source_sha256': resolved.sha256 or '',
        'source': str(resolved.path) if resolved.path else f'preset:{resolved.name}',
        'trained_input_size': str(meta.get('input_size', '')),
    }
    for key in ('trained_on', 'metrics', 'extra'):
        if key in meta:
            props[key] = _text(meta[key])
    # the weights file's whole metadata, so a detector running the exported file applies
    # the same pre-processing without the weights file (and without PyTorch)
    raw = read_safetensors_metadata(resolved.path) if resolved.path else {}
    props[WEIGHTS_METADATA_KEY] = json.dumps(raw, sort_keys=True)
    props['precision'] = 'fp32'
    props['output_stride'] = str(int(getattr(resolved.model, 'output_stride', 1)))
    props.update(_cost(resolved.model, input_size))
    return props


def _cost(model: nn.Module, input_size: int) -> dict[str, str]:
    """``params`` and ``flops`` (per (1,4,S,S) frame) as strings, for tools without torch."""
    cost = {'params': str(count_parameters(model))}
    try:
        from kufenet_grasp.models.flops import count_flops

        cost['flops'] = str(int(count_flops(model, input_size)))
    except Exception:  # noqa: BLE001 - FLOP counting is informative only
        pass
    return cost


def _text(value: Any) -> str:
    """``value`` as an ONNX metadata string (JSON unless it already is a string)."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def to_onnx_bytes(model: nn.Module, input_size: int, *, opset: int = DEFAULT_OPSET,
                  dynamic_batch: bool = False,
                  metadata: Mapping[str, str] | None = None,
                  split_bias: bool = False, rewrites: Sequence[str] = ()) -> bytes:
    """Serialise ``model`` (BatchNorm folded, eval mode) to an ONNX model, returned as bytes.

    ``split_bias`` computes depth-wise transposed convolutions without bias and adds it in a
    1×1 layer after them (same outputs; :mod:`~kufenet_grasp.deploy.upsample_rewrite`). It
    is faster on OpenVINO and a little slower on ONNX Runtime (docs/benchmarks.md), so it is
    used for OpenVINO only. ``rewrites`` names exact graph rewrites applied after BatchNorm
    folding, in order (:data:`REWRITES`, see :mod:`~kufenet_grasp.deploy.mix_rewrite`).
    """
    import onnx

    input_size = check_input_size(input_size)
    if not 13 <= int(opset) <= 21:
        raise ValueError(f'opset must be between 13 and 21, got {opset}')
    folded = fold_batchnorm(model)
    for name in rewrites:
        if name not in REWRITES:
            raise ValueError(f"unknown rewrite {name!r}; choose from {', '.join(REWRITES)}")
        folded, _ = REWRITES[name](folded)
    if split_bias:
        folded, _ = split_transposed_biases(folded)
    traced: nn.Module = folded if getattr(folded, 'output_stride', 1) == 1 else _Native(folded)
    example = torch.zeros(1, 4, input_size, input_size)
    axes = {INPUT_NAME: {0: 'batch'}, OUTPUT_NAME: {0: 'batch'}} if dynamic_batch else None
    # torch.onnx.export takes a path (its file-object form is deprecated)
    with (tempfile.TemporaryDirectory() as folder, warnings.catch_warnings(),
          torch.no_grad()):
        warnings.simplefilter('ignore')  # the legacy exporter's deprecation notice
        onnx_path = Path(folder) / 'model.onnx'
        # dynamo=False: the torch.export-based exporter needs onnxscript, not installed here
        torch.onnx.export(traced, (example,), onnx_path, dynamo=False,
                          opset_version=int(opset), input_names=[INPUT_NAME],
                          output_names=[OUTPUT_NAME], dynamic_axes=axes,
                          do_constant_folding=True)
        proto = onnx.load(onnx_path)
    onnx.checker.check_model(proto)
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = str(key), str(value)
    proto.producer_name = 'kufenet_grasp'
    return proto.SerializeToString()


class _Native(nn.Module):
    """The graph a model draws before its maps are up-sampled (``model.forward_native``)."""

    def __init__(self, model: nn.Module) -> None:
        """Wrap ``model``."""
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the maps at the model's own resolution."""
        native = cast(Callable[[torch.Tensor], torch.Tensor], self.model.forward_native)
        return native(x)


def export_onnx(resolved: ResolvedModel, out: Path, *, input_size: int = 224,
                opset: int = DEFAULT_OPSET, dynamic_batch: bool = False,
                split_bias: bool = False, rewrites: Sequence[str] = ()) -> Path:
    """Write ``resolved.model`` as ONNX to ``out`` with :func:`build_metadata` props."""
    metadata = build_metadata(resolved, input_size)
    metadata['rewrites'] = ','.join(rewrites)
    data = to_onnx_bytes(resolved.model, input_size, opset=opset, dynamic_batch=dynamic_batch,
                         metadata=metadata, split_bias=split_bias, rewrites=rewrites)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out


def read_onnx_metadata(path: Path) -> dict[str, str]:
    """Return the ``metadata_props`` of the ONNX file at ``path`` as a dict."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return {entry.key: entry.value for entry in proto.metadata_props}


def export_openvino(onnx_path: Path, out_xml: Path) -> Path:
    """Convert the ONNX file to OpenVINO IR (``out_xml`` + ``.bin``), FP32, metadata kept."""
    try:
        ov = import_openvino()
    except ImportError as exc:
        raise ExportError("OpenVINO export needs the 'openvino' package "
                          '(pip install openvino)') from exc
    out_xml = Path(out_xml)
    if out_xml.suffix != '.xml':
        raise ValueError(f'OpenVINO output {out_xml} must end in .xml')
    # read by the ONNX frontend rather than ov.convert_model: the model converter sends usage
    # telemetry (a forked process per event, waiting on the network) on every call
    model = ov.Core().read_model(str(onnx_path))
    for key, value in read_exported_metadata(onnx_path).items():
        model.set_rt_info(value, [RT_INFO_KEY, key])
    out_xml.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(out_xml), compress_to_fp16=False)  # FP16 would break 1e-4 parity
    return out_xml


def torch_reference(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Run the (unfolded) PyTorch model in eval mode on ``x`` (B,4,S,S) float32."""
    with torch.inference_mode():
        return model.eval()(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()


def max_abs_difference(model: nn.Module, run: Any, input_size: int, *, seed: int = 0,
                       batch: int = 1) -> float:
    """Largest |PyTorch - run(x)| over a random input; ``run`` maps (B,4,S,S) to (B,4,S,S)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(batch, 4, input_size, input_size)).astype(np.float32)
    expected = torch_reference(model, x)
    got = np.asarray(run(x))
    if got.shape != expected.shape:
        raise ExportError(f'exported output shape {got.shape} != PyTorch {expected.shape}')
    return float(np.max(np.abs(got - expected)))
