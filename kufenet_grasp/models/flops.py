# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""FLOP counting of a grasp model on one square frame."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def random_input(size: int) -> torch.Tensor:
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
            model(random_input(input_size))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())
