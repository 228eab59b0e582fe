# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Models for tests whose outputs depend on their inputs (a fresh KufeNet's barely do)."""

from __future__ import annotations

import torch
from torch import nn


def randomise_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm non-trivial statistics and affine terms; return ``model`` (eval).

    Freshly built, the BatchNorms pass features of about 1e-7 on: folding would change
    nothing and a fitted head could match any maps.
    """
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            n = module.num_features
            module.running_mean.copy_(torch.rand(n, generator=gen) * 2 - 1)
            module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            module.bias.data.copy_(torch.rand(n, generator=gen) - 0.5)
    return model.eval()
