# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Run an exported grasp model (.onnx or OpenVINO .xml) without PyTorch.

This module is what a detector process imports when its ``weights`` is an exported file: it
needs only numpy and ONNX Runtime or OpenVINO, so the process does not pay for PyTorch's
import time and resident memory. Both backends take one float32 frame ``x`` of shape
(1, 4, S, S) (channels [depth, R, G, B], S = ``input_size`` pixels) and return the maps
(1, 4, S, S) [quality, cos 2θ, sin 2θ, width / 150]. Each also exposes ``metadata``: the
string metadata the file was exported with (:mod:`kufenet_grasp.deploy.model_metadata`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
import hashlib
import importlib.util
import os
from pathlib import Path
import sys
from types import ModuleType
from typing import cast

from kufenet_grasp.deploy.model_metadata import exported_input_size, read_exported_metadata
import numpy as np

#: backends that run exported files, fastest first for KufeNet on an x86 CPU
EXPORTED_ORDER = ('openvino', 'onnxruntime')
#: suffixes of exported model files
EXPORTED_SUFFIXES = ('.onnx', '.xml')

#: an exported model: ONNX bytes, or a path to an .onnx or OpenVINO .xml file
ExportedModel = bytes | Path
#: inference precisions: float32 everywhere; OpenVINO can also compute in bfloat16 or float16
PRECISIONS = ('f32', 'bf16', 'f16')


#: what ``import openvino`` also imports unless that fails: the model converter (ovc)
OPENVINO_CONVERTER = 'openvino.tools.ovc'


def import_openvino() -> ModuleType:
    """Import the OpenVINO runtime without its model converter; return the module.

    ``import openvino`` imports ``openvino.tools.ovc`` (``convert_model``) in a
    ``try/except ImportError``. A process that only reads .xml/.onnx files needs none of it,
    and the converter brings its usage telemetry (an event sent from a thread pool at import),
    urllib, absl and about 160 modules: 16 MiB resident memory and 0.2-0.4 s. A ``None`` entry
    in ``sys.modules`` makes that one import fail; it is removed afterwards, so the
    converter stays importable. No effect once openvino is imported.
    """
    modules = cast('dict[str, ModuleType | None]', sys.modules)
    block = 'openvino' not in modules and OPENVINO_CONVERTER not in modules
    if block:
        modules[OPENVINO_CONVERTER] = None  # importing it raises ImportError
    try:
        import openvino
    finally:
        if block:
            del modules[OPENVINO_CONVERTER]
    return openvino


class BackendUnavailable(RuntimeError):
    """The requested backend's Python package is not installed."""


def is_exported_path(source: object) -> bool:
    """Return True if ``source`` is a path (str or PathLike) ending in .onnx or .xml."""
    return isinstance(source, (str, os.PathLike)) and Path(source).suffix in EXPORTED_SUFFIXES


def package_available(name: str) -> bool:
    """Return True if the Python package ``name`` can be imported (nothing is imported)."""
    return importlib.util.find_spec(name) is not None


def select_backend(name: str, order: Sequence[str], *, cannot_run: Collection[str] = (),
                   unknown: str, none_installed: str) -> str:
    """Check backend ``name``, or for ``'auto'`` pick the first installed one of ``order``.

    ``order`` holds the backends that may run the model, fastest first; ``'auto'`` skips
    those in ``cannot_run``. Only the availability of each backend's package is looked up,
    nothing is imported (each runtime costs tens of MB once imported).

    Raises:
        ValueError: ``name`` is neither ``'auto'`` nor in ``order``; the message is
            ``unknown`` followed by the choices.
        BackendUnavailable: the backend's package is missing, or for ``'auto'`` none is
            installed (the message is ``none_installed``).

    """
    if name == 'auto':
        for candidate in order:
            if candidate not in cannot_run and package_available(candidate):
                return candidate
        raise BackendUnavailable(none_installed)
    if name not in order:
        raise ValueError(f"{unknown}; choose one of {', '.join((*order, 'auto'))}")
    if not package_available(name):
        raise BackendUnavailable(f"backend {name!r} needs the Python package '{name}': "
                                 f'pip install {name}')
    return name


def verify_listed_checksum(path: Path) -> bool:
    """Check ``path`` against a ``SHA256SUMS`` beside it (``sha256sum`` format).

    Returns True if listed and matching, False if not listed; raises ``ValueError`` on a
    mismatch (a file changed after its checksum was recorded). For an OpenVINO ``.xml``
    its ``.bin`` is checked too where listed.
    """
    manifest = path.parent / 'SHA256SUMS'
    if not manifest.is_file():
        return False
    listed = {}
    for line in manifest.read_text().splitlines():
        parts = line.split(maxsplit=1)
        if len(parts) == 2:
            listed[parts[1].lstrip('*').strip()] = parts[0].lower()
    files = [path] + ([path.with_suffix('.bin')] if path.suffix == '.xml' else [])
    found = False
    for file in files:
        expected = listed.get(file.name)
        if expected is None:
            continue
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        if digest != expected:
            raise ValueError(f'exported model {file}: SHA-256 {digest} does not match its '
                             f'SHA256SUMS entry {expected}')
        found = True
    return found


def check_input_size(input_size: int) -> int:
    """Validate the square input side ``input_size`` (pixels) and return it as ``int``."""
    if isinstance(input_size, bool) or int(input_size) != input_size or input_size < 8:
        raise ValueError(f'input_size must be an integer >= 8 pixels, got {input_size!r}')
    return int(input_size)


def check_threads(threads: int) -> int:
    """Validate a CPU thread count and return it as ``int``."""
    if isinstance(threads, bool) or int(threads) != threads or threads < 1:
        raise ValueError(f'threads must be a positive integer, got {threads!r}')
    return int(threads)


def check_frame(x: np.ndarray, input_size: int, backend: str) -> np.ndarray:
    """Return ``x`` as contiguous float32 after checking its shape is (1,4,S,S)."""
    expected = (1, 4, input_size, input_size)
    if not isinstance(x, np.ndarray) or x.shape != expected:
        shape = getattr(x, 'shape', type(x).__name__)
        raise ValueError(f'{backend}.infer: x must be a numpy array of shape {expected}, '
                         f'got {shape}')
    return np.ascontiguousarray(x, dtype=np.float32)


def maps_at_input_size(maps: np.ndarray, input_size: int) -> np.ndarray:
    """Return (B, 4, S, S) maps; maps drawn at S / 2 are up-sampled bilinearly as PyTorch does.

    A KufeNet with ``output_stride=2`` exports the graph up to its head: the bilinear
    up-sampling (``align_corners=False``, which OpenCV's resize matches) runs here, several
    times faster than the runtimes' own resize of the same maps.
    """
    if maps.shape[-2:] == (input_size, input_size):
        return maps
    half = (input_size // 2, input_size // 2)
    if maps.ndim != 4 or maps.shape[-2:] != half or input_size % 2:
        raise ValueError(f'exported model drew maps of shape {maps.shape} for '
                         f'{input_size} px inputs')
    import cv2

    out = np.empty(maps.shape[:2] + (input_size, input_size), np.float32)
    for b in range(maps.shape[0]):
        for c in range(maps.shape[1]):
            cv2.resize(maps[b, c], (input_size, input_size), dst=out[b, c],
                       interpolation=cv2.INTER_LINEAR)
    return out


class OnnxRuntimeBackend:
    """ONNX Runtime CPU session: all graph optimisations, sequential execution.

    ``profile_prefix`` turns on ONNX Runtime's per-node profiler (see
    :mod:`kufenet_grasp.bench.runtime_profile`).
    """

    name = 'onnxruntime'

    def __init__(self, model: ExportedModel, input_size: int = 224, threads: int = 2, *,
                 profile_prefix: str | None = None) -> None:
        import onnxruntime as ort

        self.input_size = check_input_size(input_size)
        self.threads = check_threads(threads)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        if profile_prefix:
            options.enable_profiling = True
            options.profile_file_prefix = profile_prefix
        if isinstance(model, Path) and model.suffix != '.onnx':
            raise ValueError(f'onnxruntime backend needs an .onnx file, got {model}')
        source = model if isinstance(model, bytes) else str(model)
        self._session = ort.InferenceSession(source, options,
                                             providers=['CPUExecutionProvider'])
        self._input = self._session.get_inputs()[0].name
        self.metadata: dict[str, str] = dict(
            self._session.get_modelmeta().custom_metadata_map)

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Map (1,4,S,S) float32 for ``x`` (1,4,S,S) float32."""
        x = check_frame(x, self.input_size, self.name)
        return maps_at_input_size(self._session.run(None, {self._input: x})[0], self.input_size)

    def end_profiling(self) -> str:
        """Stop the profiler; return the path of the JSON trace it wrote."""
        return self._session.end_profiling()


def check_precision(precision: str, backend: str) -> str:
    """Return ``precision`` if ``backend`` can compute in it; raise a one-line ValueError.

    Only OpenVINO runs a float32 file in ``bf16`` or ``f16`` (its ``INFERENCE_PRECISION_HINT``:
    weights and activations rounded where its CPU kernels support it); the other backends
    compute in float32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    if precision != 'f32' and backend != 'openvino':
        raise ValueError(f'precision {precision} needs the openvino backend, not {backend}')
    return precision


class OpenVinoBackend:
    """OpenVINO on the CPU: latency hint, fixed thread count, FP32 precision by default.

    ``precision`` (:data:`PRECISIONS`) is OpenVINO's inference precision hint: ``f32`` keeps
    the results within 1e-4 of PyTorch; ``bf16`` / ``f16`` pay off on CPUs whose kernels
    compute in them natively (AMX, ARM fp16), docs/benchmarks.md has this machine's figures.
    ``perf_count`` turns on OpenVINO's per-layer counters (``request.get_profiling_info()``).
    """

    name = 'openvino'

    def __init__(self, model: ExportedModel, input_size: int = 224, threads: int = 2, *,
                 precision: str = 'f32', perf_count: bool = False) -> None:
        self.precision = check_precision(precision, self.name)
        ov = import_openvino()
        self.input_size = check_input_size(input_size)
        self.threads = check_threads(threads)
        core = ov.Core()
        if isinstance(model, bytes):
            # the ONNX frontend directly (ONNX bytes, no separate weights): ov.convert_model
            # would go through the model converter, whose usage telemetry forks a process per
            # event and waits on the network
            ov_model = core.read_model(model, b'')
            self.metadata: dict[str, str] = {}
        elif model.suffix in EXPORTED_SUFFIXES:
            ov_model = core.read_model(str(model))
            self.metadata = read_exported_metadata(model, ov_model=ov_model)
        else:
            raise ValueError(f'openvino backend needs an .onnx or .xml file, got {model}')
        config = {
            'INFERENCE_NUM_THREADS': self.threads,
            'PERFORMANCE_HINT': 'LATENCY',
            'INFERENCE_PRECISION_HINT': precision,
        }
        if perf_count:
            config['PERF_COUNT'] = True
        compiled = core.compile_model(ov_model, 'CPU', config)
        self.request = compiled.create_infer_request()

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Map (1,4,S,S) float32 for ``x`` (1,4,S,S) float32."""
        x = check_frame(x, self.input_size, self.name)
        self.request.infer([x], share_inputs=True)
        maps = self.request.get_output_tensor(0).data
        if maps.shape[-1] == self.input_size:
            return maps.copy()
        return maps_at_input_size(maps, self.input_size)


ExportedBackend = OnnxRuntimeBackend | OpenVinoBackend


def create_exported_backend(name: str, path: str | os.PathLike, *,
                            input_size: int | None = None, threads: int = 2,
                            precision: str = 'f32') -> ExportedBackend:
    """Build backend ``name`` ('onnxruntime', 'openvino' or 'auto') for an exported file.

    ``input_size`` (px) defaults to the size the file was exported for; ``precision`` is
    OpenVINO's (:func:`check_precision`). A file listed in a
    ``SHA256SUMS`` beside it must match its checksum. Raises ``ValueError`` for a missing or
    altered file, a wrong suffix, an input size the file does not take or an unknown backend
    name, and :class:`BackendUnavailable` if the package is missing.
    PyTorch is never imported.
    """
    path = Path(path)
    if path.suffix not in EXPORTED_SUFFIXES:
        raise ValueError(f'exported model {path}: expected an .onnx or OpenVINO .xml file')
    if not path.is_file():
        raise ValueError(f'exported model {path}: no such file')
    verify_listed_checksum(path)
    stored = exported_input_size(path)
    size = check_input_size(input_size if input_size is not None else (stored or 224))
    if stored is not None and stored != size:
        raise ValueError(f'exported model {path} takes {stored} px inputs, not {size} px '
                         f'(export it again with --size {size})')
    check_threads(threads)
    name = select_backend(
        name, EXPORTED_ORDER, cannot_run=('onnxruntime',) if path.suffix == '.xml' else (),
        unknown=f'backend {name!r} cannot run the exported file {path}',
        none_installed=f'no backend for {path}: pip install openvino or onnxruntime')
    check_precision(precision, name)
    if name == 'onnxruntime':
        return OnnxRuntimeBackend(path, size, threads)
    return OpenVinoBackend(path, size, threads, precision=precision)
