# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Move the bias of depth-wise transposed convolutions into a separate per-channel layer.

KufeNet's decoder up-samples with ``ConvTranspose2d(C, C, 4, stride=2, padding=1, groups=C)``
(:class:`~kufenet_grasp.models.blocks.DSCUpBlock`). Once its BatchNorm is folded in, that layer
has a bias, and OpenVINO's CPU kernel for a depth-wise transposed convolution fused with a
per-channel bias is much slower than the same kernel without one (a random init, whose folded
biases are zero, hides this). Computing the transposed convolution without bias and adding the
bias in a depth-wise 1×1 convolution of unit weight right after it (which OpenVINO does not
fuse back) gives the same outputs faster. For export only; ONNX Runtime is a little slower
with it. Figures and the commands that measure them: docs/benchmarks.md.
"""

from __future__ import annotations

import copy
from typing import TypeGuard

import torch
from torch import nn


def is_depthwise_transposed(layer: nn.Module) -> TypeGuard[nn.ConvTranspose2d]:
    """Return True for a ``ConvTranspose2d`` with ``groups == in_channels == out_channels``."""
    return (isinstance(layer, nn.ConvTranspose2d)
            and layer.in_channels == layer.out_channels == layer.groups)


def split_bias(deconv: nn.ConvTranspose2d) -> nn.Sequential:
    """``deconv`` without its bias, followed by a depth-wise 1×1 conv that adds the bias."""
    if not is_depthwise_transposed(deconv) or deconv.bias is None:
        raise ValueError(f'not a depth-wise ConvTranspose2d with a bias: {deconv}')
    channels = deconv.out_channels
    bias = deconv.bias.detach().clone()
    bare = copy.deepcopy(deconv)
    bare.bias = None
    add_bias = nn.Conv2d(channels, channels, 1, groups=channels, bias=True)
    with torch.no_grad():
        add_bias.weight.fill_(1.0)
    add_bias.bias = nn.Parameter(bias)
    return nn.Sequential(bare, add_bias)


def split_transposed_biases(model: nn.Module) -> tuple[nn.Module, int]:
    """Copy ``model`` with :func:`split_bias` applied wherever it applies; (copy, n)."""
    model = copy.deepcopy(model)
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if is_depthwise_transposed(child) and child.bias is not None:
                setattr(parent, name, split_bias(child))
                count += 1
    return model, count
