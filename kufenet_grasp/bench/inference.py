# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Latency, throughput and memory of every (model, backend, input size, threads) combination.

All configurations are built first, then timed **interleaved**: each round runs a block of
``block`` inferences of every configuration in turn, so load from other processes on a shared
machine affects all configurations alike and their ratios stay meaningful. Latencies are
wall-clock milliseconds of one ``backend.infer`` call on a single (1,4,S,S) frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
import functools
import math
import os
import platform
import time
from typing import Any

from kufenet_grasp.bench import memory
from kufenet_grasp.deploy.backends import BACKEND_NAMES, create_backend, InferenceBackend
from kufenet_grasp.deploy.model_metadata import read_exported_metadata
from kufenet_grasp.deploy.runtimes import check_precision, is_exported_path
from kufenet_grasp.deploy.source import resolve_source
from kufenet_grasp.models.flops import count_flops
from kufenet_grasp.models.registry import count_parameters
import numpy as np

#: baselines the ratios are computed against (same backend, size and threads)
BASELINES = ('grconvnet', 'ggcnn')


def split_model_spec(spec: str) -> tuple[str, str]:
    """Split ``'NAME'`` or ``'NAME=WEIGHTS'`` into (label, source).

    A bare NAME is a preset with random weights; NAME=WEIGHTS times that ``.safetensors``
    file under the label NAME (ratios against the baselines use the label).

    Weights matter for timing: a trained KufeNet runs slower than its random-init preset on
    OpenVINO (BatchNorm folds into biases that a random init leaves at zero).
    """
    name, _, weights = spec.partition('=')
    if not name.strip() or (_ and not weights.strip()):
        raise ValueError(f'model spec {spec!r}: expected NAME or NAME=WEIGHTS_FILE')
    return name.strip(), (weights.strip() or name.strip())


def split_backend_spec(spec: str) -> tuple[str, str]:
    """``'openvino:bf16'`` -> ``('openvino', 'bf16')``; a bare name computes in ``f32``.

    Raises:
        ValueError: an unknown backend or precision, or a precision the backend lacks.

    """
    name, _, precision = spec.partition(':')
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown backend {name!r}; choose from {', '.join(BACKEND_NAMES)} "
                         f'(openvino:bf16 / openvino:f16 for another precision)')
    return name, check_precision(precision or 'f32', name)


@dataclass(frozen=True)
class BenchConfig:
    """One combination to measure: model preset, backend spec, input side (px), CPU threads.

    ``backend`` is a name, or ``name:precision`` (:func:`split_backend_spec`).
    """

    model: str
    backend: str
    size: int
    threads: int


@dataclass
class BenchResult:
    """Measurements of one configuration; times in ms, memory in MiB, FLOPs per frame."""

    model: str
    backend: str
    size: int
    threads: int
    repeats: int = 0
    median_ms: float | None = None
    p95_ms: float | None = None
    mean_ms: float | None = None
    min_ms: float | None = None
    fps: float | None = None
    peak_mem_delta_mib: float | None = None
    params: int | None = None
    flops: int | None = None
    speedup_vs: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    weights: str = 'random init'

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)


def check_positive(name: str, value: int) -> int:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an integer >= 1."""
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f'{name} must be a positive integer, got {value!r}')
    return int(value)


def summarise(times_ms: Sequence[float]) -> dict[str, float]:
    """Median, 95th percentile, mean, minimum (ms) and median throughput (frames/s)."""
    if len(times_ms) == 0:
        raise ValueError('summarise: times_ms is empty')
    arr = np.asarray(times_ms, dtype=np.float64)
    median = float(np.median(arr))
    return {'median_ms': median, 'p95_ms': float(np.percentile(arr, 95)),
            'mean_ms': float(arr.mean()), 'min_ms': float(arr.min()),
            'fps': 1000.0 / median if median > 0 else math.inf}


def model_cost(name: str, size: int, source: str | None = None
               ) -> tuple[int | None, int | None]:
    """Return (parameters, FLOPs per (1,4,size,size) frame); None if unknown.

    The model is preset ``name``, or the weights file ``source`` when given; an exported
    ``.onnx`` / ``.xml`` source reports the counts stored at export.
    """
    if source is not None and is_exported_path(source):
        meta = read_exported_metadata(source)
        counts = [int(meta[key]) if meta.get(key, '').isdigit() else None
                  for key in ('params', 'flops')]
        return counts[0], counts[1]
    model = resolve_source(source or name).model
    params = count_parameters(model)
    try:
        flops = int(count_flops(model, size))
    except Exception:  # noqa: BLE001 - FLOP counting is informative only
        flops = None
    return params, flops


def time_interleaved(runners: dict[BenchConfig, Callable[[], object]], repeats: int,
                     warmup: int, block: int = 5) -> dict[BenchConfig, list[float]]:
    """Per-call latencies (ms) of each runner, measured round-robin in blocks of ``block``."""
    for run in runners.values():
        for _ in range(warmup):
            run()
    times: dict[BenchConfig, list[float]] = {config: [] for config in runners}
    clock = time.perf_counter
    while any(len(t) < repeats for t in times.values()):
        for config, run in runners.items():
            samples = times[config]
            for _ in range(min(block, repeats - len(samples))):
                start = clock()
                run()
                samples.append((clock() - start) * 1000.0)
    return times


def add_ratios(results: list[BenchResult]) -> None:
    """Fill ``speedup_vs[baseline]`` = baseline median / this median, same backend/size/threads."""
    index = {(r.model, r.backend, r.size, r.threads): r for r in results if r.median_ms}
    for result in results:
        if not result.median_ms:
            continue
        for base in BASELINES:
            other = index.get((base, result.backend, result.size, result.threads))
            if other is not None and other is not result and other.median_ms:
                result.speedup_vs[base] = other.median_ms / result.median_ms


def _build(config: BenchConfig, source: str, rng: np.random.Generator
           ) -> tuple[InferenceBackend, np.ndarray, float]:
    """Build the backend for ``config`` from ``source``.

    Returns the backend, a random input and the peak RSS increase (MiB) building it.
    """
    memory.reset_peak()
    before = memory.rss_mib()
    name, precision = split_backend_spec(config.backend)
    backend = create_backend(name, source, input_size=config.size, threads=config.threads,
                             precision=precision)
    x = rng.uniform(-1, 1, (1, 4, config.size, config.size)).astype(np.float32)
    backend.infer(x)
    return backend, x, memory.peak_rss_mib() - before


def run_benchmark(models: Sequence[str], backends: Sequence[str], sizes: Sequence[int],
                  threads: Sequence[int], *, repeats: int = 50, warmup: int = 10,
                  block: int = 5, seed: int = 0) -> list[BenchResult]:
    """Measure every combination; a combination that fails to build gets ``error`` set."""
    repeats, block = check_positive('repeats', repeats), check_positive('block', block)
    if warmup < 0:
        raise ValueError(f'warmup must be >= 0, got {warmup}')
    for name in backends:
        split_backend_spec(name)
    for value in list(sizes) + list(threads):
        check_positive('sizes and threads', value)
    if not (models and backends and sizes and threads):
        raise ValueError('models, backends, sizes and threads must each name at least one')
    labels = [split_model_spec(spec)[0] for spec in models]
    for label in labels:
        if labels.count(label) > 1:
            raise ValueError(f'model {label!r} named twice; give each weights file its own '
                             f'label (NAME=WEIGHTS)')
    rng = np.random.default_rng(seed)
    results: dict[BenchConfig, BenchResult] = {}
    runners: dict[BenchConfig, Callable[[], object]] = {}
    costs: dict[tuple[str, int], tuple[int | None, int | None]] = {}
    for spec in models:
        model, source = split_model_spec(spec)
        for size in sizes:
            try:
                costs[(model, size)] = model_cost(model, size, source)
            except Exception:  # noqa: BLE001 - the build below reports the same error
                costs[(model, size)] = (None, None)
            for backend in backends:
                for n_threads in threads:
                    config = BenchConfig(model, backend, int(size), int(n_threads))
                    params, flops = costs[(model, size)]
                    result = BenchResult(config.model, config.backend, config.size,
                                         config.threads, params=params, flops=flops,
                                         weights='random init' if source == model else source)
                    results[config] = result
                    try:
                        engine, x, mem = _build(config, source, rng)
                    except Exception as exc:  # noqa: BLE001 - reported per configuration
                        result.error = f'{type(exc).__name__}: {exc}'
                        continue
                    result.peak_mem_delta_mib = round(mem, 2)
                    runners[config] = functools.partial(engine.infer, x)
    for config, samples in time_interleaved(runners, repeats, warmup, block).items():
        stats = summarise(samples)
        result = results[config]
        result.repeats = len(samples)
        for key, stat in stats.items():
            setattr(result, key, round(stat, 4))
    ordered = list(results.values())
    add_ratios(ordered)
    return ordered


def machine_info() -> dict[str, Any]:
    """CPU, load and library versions, to print beside the results."""
    import torch

    info: dict[str, Any] = {'platform': platform.platform(), 'python': platform.python_version(),
                            'cpu_count': os.cpu_count(), 'torch': torch.__version__,
                            'load_average': list(os.getloadavg())}
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as cpuinfo:
            names = [line.split(':', 1)[1].strip() for line in cpuinfo
                     if line.startswith('model name')]
        info['cpu'] = names[0] if names else None
    except OSError:
        info['cpu'] = None
    for package in ('onnxruntime', 'openvino'):
        try:
            info[package] = __import__(package).__version__
        except ImportError:
            info[package] = None
    return info
