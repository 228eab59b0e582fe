# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""CPU latency of one forward pass of a grasp model on one square frame."""

from __future__ import annotations

import time

from kufenet_grasp.models.flops import random_input
import numpy as np
import torch
from torch import nn


def measure_latency_ms(model: nn.Module, input_size: int = 224, threads: int = 2,
                       warmup: int = 5, repeats: int = 20) -> dict[str, float]:
    """Median and 95th-percentile wall time (ms) of one CPU forward on a 1×4×S×S frame.

    Runs in eval mode under ``torch.inference_mode`` with ``torch.set_num_threads(threads)``
    (the previous thread count is restored).
    """
    if threads < 1 or repeats < 1 or warmup < 0:
        raise ValueError(f'need threads >= 1, repeats >= 1, warmup >= 0; got {threads}, '
                         f'{repeats}, {warmup}')
    x = random_input(input_size)
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
