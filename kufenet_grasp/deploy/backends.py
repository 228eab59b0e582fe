# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""CPU inference backends with one interface: PyTorch, ONNX Runtime and OpenVINO.

Every backend takes one float32 frame ``x`` of shape (1, 4, S, S) (channels [depth, R, G, B],
S = ``input_size`` pixels) and returns the maps (1, 4, S, S) [quality, cos 2θ, sin 2θ,
width / 150]. BatchNorm is folded in all three. ``create_backend('auto', ...)`` picks the
first installed of :data:`AUTO_ORDER` (OpenVINO, then ONNX Runtime, then PyTorch): the order
measured fastest for KufeNet at 224 px with the default 2 threads on an x86 CPU (at 1 thread
ONNX Runtime was level with OpenVINO; see docs/deployment.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable
import warnings

from kufenet_grasp.deploy.export import DEFAULT_REWRITES, to_onnx_bytes
from kufenet_grasp.deploy.fuse import fold_batchnorm
from kufenet_grasp.deploy.runtimes import (  # noqa: F401 (re-exported for callers)
    BackendUnavailable,
    check_frame,
    check_input_size,
    check_precision,
    check_threads,
    ExportedModel,
    is_exported_path,
    OnnxRuntimeBackend,
    OpenVinoBackend,
    select_backend,
)
from kufenet_grasp.deploy.source import resolve_source, Source
import numpy as np
from torch import nn

BACKEND_NAMES = ('torch', 'onnxruntime', 'openvino')
#: backends tried by ``create_backend('auto', ...)``, fastest first
AUTO_ORDER = ('openvino', 'onnxruntime', 'torch')


@runtime_checkable
class InferenceBackend(Protocol):
    """One grasp network ready to run on the CPU."""

    name: str
    input_size: int

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Map (1,4,S,S) float32 for the normalised frame ``x`` (1,4,S,S) float32."""


class TorchBackend:
    """PyTorch inference with BatchNorm folded.

    By default TorchScript (traced + frozen) and channels-last 2-D convolutions, measured
    1.1-1.9x faster than eager NCHW on this CPU.

    ``torch.set_num_threads(threads)`` is global to the process, so it is re-applied before a
    call whenever another backend changed it.
    """

    name = 'torch'

    def __init__(self, model: nn.Module, input_size: int = 224, threads: int = 2, *,
                 jit: bool = True, channels_last: bool = True) -> None:
        import torch

        self.input_size = check_input_size(input_size)
        self.threads = check_threads(threads)
        self.channels_last = channels_last
        torch.set_num_threads(self.threads)
        module = fold_batchnorm(model)
        if channels_last:  # only 4-D weights have a channels-last layout (not Conv3d)
            for layer in module.modules():
                if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
                    # what layer.to(memory_format=...) does to its one 4-D parameter
                    layer.weight.data = layer.weight.data.to(memory_format=torch.channels_last)
        if jit:
            example = torch.zeros(1, 4, self.input_size, self.input_size)
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter('ignore')
                module = torch.jit.freeze(torch.jit.trace(module, example).eval())
        self._module = module
        self._torch = torch

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Map (1,4,S,S) float32 for ``x`` (1,4,S,S) float32."""
        torch = self._torch
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        tensor = torch.from_numpy(check_frame(x, self.input_size, self.name))
        if self.channels_last:
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            return self._module(tensor).contiguous().numpy()


def _exported(source: Source, backend: str, input_size: int) -> ExportedModel:
    """Return an already-exported file named by ``source``, else ONNX bytes exported from it."""
    if isinstance(source, (str, Path)) and Path(source).suffix in ('.onnx', '.xml'):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f'{backend} backend: model file {path} does not exist')
        return path
    return to_onnx_bytes(resolve_source(source).model, input_size,
                         split_bias=backend == 'openvino', rewrites=DEFAULT_REWRITES)


def create_backend(name: str, source: Source, *, input_size: int = 224,
                   threads: int = 2, precision: str = 'f32') -> InferenceBackend:
    """Build backend ``name`` ('torch', 'onnxruntime', 'openvino' or 'auto') for ``source``.

    ``source`` is a model object, a ``.safetensors`` weights path, a preset name, or (not for
    'torch') an exported ``.onnx`` / OpenVINO ``.xml`` file. ``input_size`` is the square input
    side in pixels; ``threads`` the CPU threads used for one inference; ``precision`` the
    arithmetic (``f32``; ``bf16`` and ``f16`` with OpenVINO only, see
    :func:`~kufenet_grasp.deploy.runtimes.check_precision`). Raises ``ValueError`` for unknown
    names or bad arguments and :class:`BackendUnavailable` if the package is missing.
    """
    check_input_size(input_size)
    check_threads(threads)
    name = select_backend(
        name, AUTO_ORDER, cannot_run=('torch',) if is_exported_path(source) else (),
        unknown=f'unknown backend {name!r}',
        none_installed='no inference backend is installed: pip install openvino, '
                       'onnxruntime or torch')
    check_precision(precision, name)
    if name == 'torch':
        if is_exported_path(source):
            raise ValueError(f'torch backend needs a model, weights or preset, not the '
                             f'exported file {source}')
        return TorchBackend(resolve_source(source).model, input_size, threads)
    if name == 'onnxruntime':
        return OnnxRuntimeBackend(_exported(source, name, input_size), input_size, threads)
    return OpenVinoBackend(_exported(source, name, input_size), input_size, threads,
                           precision=precision)
