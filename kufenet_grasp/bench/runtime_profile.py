# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Per-layer time of one model inside ONNX Runtime or OpenVINO (their own profilers).

The runtimes fuse and reorder the exported graph, so the layers that cost time there are not
PyTorch's modules: ONNX Runtime's profiler writes one event per executed node and run;
OpenVINO's ``PERF_COUNT`` reports each executed layer's time, type and the kernel it chose
(e.g. ``brgconv_avx2_f32``, or a ``ref_`` fallback that is slow). Rows are summed over the
runs and returned as :class:`~kufenet_grasp.bench.profile.OpCost`.
"""

from __future__ import annotations

from collections import defaultdict
import json
from pathlib import Path
import tempfile

from kufenet_grasp.bench.profile import OpCost
from kufenet_grasp.deploy.export import export_onnx
from kufenet_grasp.deploy.runtimes import (
    check_input_size,
    is_exported_path,
    OnnxRuntimeBackend,
    OpenVinoBackend,
)
from kufenet_grasp.deploy.source import resolve_source
import numpy as np

PROFILED_BACKENDS = ('onnxruntime', 'openvino')


def _model_file(source: str, backend: str, input_size: int, folder: Path) -> Path:
    """``source`` if it is an exported file, else its ONNX export written into ``folder``."""
    if is_exported_path(source):
        return Path(source)
    return export_onnx(resolve_source(source), folder / 'model.onnx', input_size=input_size,
                       split_bias=backend == 'openvino')


def _rows(times_us: dict[str, float], calls: dict[str, int], runs: int, top: int
          ) -> list[OpCost]:
    total = sum(times_us.values()) or 1.0
    ranked = sorted(times_us.items(), key=lambda item: item[1], reverse=True)[:top]
    return [OpCost(name, t / 1000.0, calls[name], t / total) for name, t in ranked]


def _profile_onnxruntime(path: Path, input_size: int, threads: int, x: np.ndarray,
                         runs: int, warmup: int, folder: Path) -> tuple[dict, dict]:
    warm = OnnxRuntimeBackend(path, input_size, threads)
    for _ in range(warmup):
        warm.infer(x)
    backend = OnnxRuntimeBackend(path, input_size, threads,
                                 profile_prefix=str(folder / 'ort'))
    for _ in range(warmup):  # the profiled session warms up too; its events are skipped
        backend.infer(x)
    for _ in range(runs):
        backend.infer(x)
    events = json.loads(Path(backend.end_profiling()).read_text())
    kernels = [e for e in events if e.get('cat') == 'Node'
               and e.get('name', '').endswith('_kernel_time')]
    per_run = len(kernels) // max(runs + warmup, 1)
    times: defaultdict[str, float] = defaultdict(float)
    calls: defaultdict[str, int] = defaultdict(int)
    for event in kernels[per_run * warmup:]:
        op = event.get('args', {}).get('op_name', '?')
        name = f"{op} {event['name'][:-len('_kernel_time')]}"
        times[name] += float(event.get('dur', 0.0))
        calls[name] += 1
    return times, calls


def _profile_openvino(path: Path, input_size: int, threads: int, x: np.ndarray,
                      runs: int, warmup: int) -> tuple[dict, dict]:
    backend = OpenVinoBackend(path, input_size, threads, perf_count=True)
    for _ in range(warmup):
        backend.infer(x)
    times: defaultdict[str, float] = defaultdict(float)
    calls: defaultdict[str, int] = defaultdict(int)
    for _ in range(runs):
        backend.infer(x)
        for info in backend.request.get_profiling_info():
            if info.status.name != 'EXECUTED':
                continue
            name = f'{info.node_type} [{info.exec_type}] {info.node_name}'
            times[name] += info.real_time.total_seconds() * 1e6
            calls[name] += 1
    return times, calls


def profile_in_runtime(source: str, backend: str, *, input_size: int = 224, threads: int = 1,
                       runs: int = 20, warmup: int = 5, top: int = 15,
                       seed: int = 0) -> list[OpCost]:
    """Top ``top`` layers of ``source`` by time inside ``backend`` over ``runs`` inferences.

    ``source`` is an exported ``.onnx`` / ``.xml`` file, a weights file or a preset (exported
    to ONNX first, with the OpenVINO bias split for 'openvino', as ``kufenet export`` does).
    """
    if backend not in PROFILED_BACKENDS:
        raise ValueError(f'cannot profile inside {backend!r}; choose '
                         f"{', '.join(PROFILED_BACKENDS)} (or torch, the default)")
    input_size = check_input_size(input_size)
    if runs < 1 or top < 1 or warmup < 0:
        raise ValueError(f'runs and top must be >= 1 and warmup >= 0, got runs={runs}, '
                         f'top={top}, warmup={warmup}')
    x = np.random.default_rng(seed).uniform(-1, 1, (1, 4, input_size, input_size))
    x = x.astype(np.float32)
    with tempfile.TemporaryDirectory(prefix='kufenet_profile_') as tmp:
        folder = Path(tmp)
        path = _model_file(source, backend, input_size, folder)
        if backend == 'onnxruntime':
            times, calls = _profile_onnxruntime(path, input_size, threads, x, runs, warmup,
                                                folder)
        else:
            times, calls = _profile_openvino(path, input_size, threads, x, runs, warmup)
    return _rows(times, calls, runs, top)
