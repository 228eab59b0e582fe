# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""FLOP counting and CPU latency measurement of a grasp model on one square frame."""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def _input(size: int) -> torch.Tensor:
    """Return a random ``(1, 4, size, size)`` [depth, R, G, B] input; ValueError if size < 8."""
    if int(size) < 8:
        raise ValueError(f'input_size must be >= 8 px, got {size}')
    return torch.randn(1, 4, int(size), int(size))


def count_flops(model: nn.Module, input_size: int) -> int:
    """Count the FLOPs of one forward pass on a ``(1, 4, input_size, input_size)`` input (pixels).

    Counted by ``torch.utils.flop_counter.FlopCounterMode`` (convolutions, transposed
    convolutions and matrix products; element-wise ops such as BatchNorm and ReLU are not
    counted). One multiply-accumulate counts as 2 FLOPs.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(_input(input_size))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def measure_latency_ms(model: nn.Module, input_size: int = 224, threads: int = 2,
                       warmup: int = 5, repeats: int = 20) -> dict[str, float]:
    """Median and 95th-percentile wall time (ms) of one CPU forward on a 1×4×S×S frame.

    Runs in eval mode under ``torch.inference_mode`` with ``torch.set_num_threads(threads)``
    (the previous thread count is restored).
    """
    if threads < 1 or repeats < 1 or warmup < 0:
        raise ValueError(f'need threads >= 1, repeats >= 1, warmup >= 0; got {threads}, '
                         f'{repeats}, {warmup}')
    x = _input(input_size)
    previous = torch.get_num_threads()
    was_training = model.training
    model.eval()
    torch.set_num_threads(int(threads))
    times = []
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model(x)
            for _ in range(repeats):
                start = time.perf_counter()
                model(x)
                times.append((time.perf_counter() - start) * 1000.0)
    finally:
        torch.set_num_threads(previous)
        model.train(was_training)
    arr = np.asarray(times)
    return {'median': float(np.median(arr)), 'p95': float(np.percentile(arr, 95))}
