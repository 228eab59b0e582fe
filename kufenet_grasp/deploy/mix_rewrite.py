# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Exact export-time rewrites of KufeNet's encoder that run faster per FLOP on a CPU.

Both apply to a model in eval mode, normally after
:func:`~kufenet_grasp.deploy.fuse.fold_batchnorm`, and keep its outputs (float32 rounding):

* :func:`fuse_mixed_depthwise`: the multi-scale blocks
  (:class:`~kufenet_grasp.models.blocks.MixSplitBlock`, ``MixCopyBlock``) run three
  depth-wise convolutions of kernel 3, 4 and 5 on channel groups (or on three copies of the
  input) and concatenate them; the 4×4 one needs an explicit pad. Each kernel is embedded,
  zero-padded and centred as its own padding places it, in one 5×5 depth-wise convolution
  (for the copy block with three outputs per input channel, in the order the point-wise
  convolution's weight columns are permuted to). One layer instead of split, pad, three
  convolutions and a concatenation: more multiply-adds on zeros, fewer passes over memory.
* :func:`dense_fusion_without_shuffle`: the channel shuffle before the grouped point-wise
  fusion convolution is a fixed permutation, so the two are one dense 1×1 convolution whose
  weight holds the grouped weight at the permuted input columns (zeros elsewhere): twice the
  multiply-adds of that layer, no shuffle (a reshape, transpose and copy).
"""

from __future__ import annotations

import copy

from kufenet_grasp.models.blocks import DepthwiseConv, MixCopyBlock, MixSplitBlock
from kufenet_grasp.models.kufenet import KufeNet
import torch
from torch import nn
import torch.nn.functional as F


class FusedMixBlock(nn.Module):
    """A folded multi-scale block as one depth-wise conv, ReLU, then its point-wise conv."""

    def __init__(self, depthwise: nn.Conv2d, pointwise: nn.Module) -> None:
        """Wrap the fused ``depthwise`` conv and the block's ``pointwise`` conv (+ ReLU)."""
        super().__init__()
        self.dw = depthwise
        self.pw = pointwise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``pw(relu(dw(x)))``."""
        return self.pw(F.relu(self.dw(x)))


def _embedded(convs: list[nn.Conv2d], kernel: int) -> torch.Tensor:
    """Weights (sum of out channels, 1, K, K) of depth-wise ``convs`` placed in a K×K kernel."""
    blocks = []
    for conv in convs:
        k = conv.kernel_size[0]
        offset = (kernel - 1) // 2 - (k - 1) // 2  # where the conv's own padding puts it
        weight = torch.zeros(conv.out_channels, 1, kernel, kernel)
        weight[:, :, offset:offset + k, offset:offset + k] = conv.weight.detach()
        blocks.append(weight)
    return torch.cat(blocks)


def _bias(convs: list[nn.Conv2d]) -> torch.Tensor:
    return torch.cat([conv.bias.detach() if conv.bias is not None
                      else torch.zeros(conv.out_channels) for conv in convs])


def _bias_of(conv: nn.Conv2d) -> torch.Tensor:
    """Return the bias parameter of ``conv``, built here with ``bias=True``."""
    if conv.bias is None:
        raise ValueError(f'{conv} has no bias')
    return conv.bias


def _pair(values: tuple[int, ...]) -> tuple[int, int]:
    """Return a Conv2d's kernel size, stride or padding (stored as a tuple) as a pair."""
    return values[0], values[1]


def _depthwise(block: MixSplitBlock | MixCopyBlock) -> tuple[list[nn.Conv2d], int]:
    """Return the depth-wise convs of ``block`` and the fused kernel size (largest, odd)."""
    convs = [dw.conv for dw in block.dw if isinstance(dw, DepthwiseConv)]
    if len(convs) != len(block.dw):
        raise ValueError('fuse_mixed_depthwise: the block holds a layer that is not a '
                         'DepthwiseConv')
    kernel = max(conv.kernel_size[0] for conv in convs)
    if kernel % 2 == 0 or len({conv.stride for conv in convs}) != 1:
        raise ValueError('fuse_mixed_depthwise: the largest kernel must be odd and all '
                         'strides equal')
    return convs, kernel


def _with_norm(weight: torch.Tensor, bias: torch.Tensor, norm: nn.Module
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Fold the block's BatchNorm (eval statistics) over the concatenated channels, if any.

    ``fold_batchnorm`` cannot fold it where the block splits its input first (the split
    block), so it is folded here.
    """
    if isinstance(norm, nn.Identity):
        return weight, bias
    if (not isinstance(norm, nn.BatchNorm2d) or norm.running_var is None
            or norm.running_mean is None or norm.weight is None or norm.bias is None):
        raise ValueError(f'fuse_mixed_depthwise: cannot fold {type(norm).__name__}')
    scale = norm.weight.detach() * torch.rsqrt(norm.running_var + norm.eps)
    shift = norm.bias.detach() - norm.running_mean * scale
    return weight * scale[:, None, None, None], bias * scale + shift


def fuse_split_block(block: MixSplitBlock) -> FusedMixBlock:
    """One depth-wise conv for a :class:`MixSplitBlock` in eval mode (same outputs)."""
    convs, kernel = _depthwise(block)
    channels = sum(block.sizes)
    fused = nn.Conv2d(channels, channels, kernel, _pair(convs[0].stride), (kernel - 1) // 2,
                      groups=channels, bias=True)
    weight, bias = _with_norm(_embedded(convs, kernel), _bias(convs), block.bn)
    with torch.no_grad():
        fused.weight.copy_(weight)
        _bias_of(fused).copy_(bias)
    return FusedMixBlock(fused, copy.deepcopy(block.pw))


def fuse_copy_block(block: MixCopyBlock) -> FusedMixBlock:
    """One depth-wise conv (3 outputs per channel) for a :class:`MixCopyBlock` in eval mode."""
    convs, kernel = _depthwise(block)
    channels, copies = convs[0].in_channels, len(convs)
    fused = nn.Conv2d(channels, channels * copies, kernel, _pair(convs[0].stride),
                      (kernel - 1) // 2, groups=channels, bias=True)
    # grouped conv output c * copies + j is copy j of channel c; the concatenation had it at
    # j * channels + c
    order = torch.arange(channels * copies).reshape(copies, channels).t().reshape(-1)
    pointwise = copy.deepcopy(block.pw)
    first = pointwise[0]
    if not isinstance(first, nn.Conv2d) or first.groups != 1:
        raise ValueError('fuse_copy_block: the point-wise layer must start with a dense Conv2d')
    weight, bias = _with_norm(_embedded(convs, kernel), _bias(convs), block.bn)
    with torch.no_grad():
        fused.weight.copy_(weight[order])
        _bias_of(fused).copy_(bias[order])
        first.weight.copy_(first.weight[:, order])
    return FusedMixBlock(fused, pointwise)


def fuse_mixed_depthwise(model: nn.Module, *,
                         copy_blocks: bool = True) -> tuple[nn.Module, int]:
    """Copy of eval ``model`` with its multi-scale blocks fused; (copy, blocks fused).

    ``copy_blocks=False`` fuses the split blocks only: a copy block's fused convolution has
    three outputs per input channel, which OpenVINO's CPU plugin runs in a generic grouped
    kernel slower than the three depth-wise ones (docs/benchmarks.md).
    """
    model = copy.deepcopy(model)
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, MixSplitBlock):
                setattr(parent, name, fuse_split_block(child))
                count += 1
            elif copy_blocks and isinstance(child, MixCopyBlock):
                setattr(parent, name, fuse_copy_block(child))
                count += 1
    return model, count


def fuse_split_blocks(model: nn.Module) -> tuple[nn.Module, int]:
    """:func:`fuse_mixed_depthwise` for the split (RGB) blocks only; (copy, blocks fused)."""
    return fuse_mixed_depthwise(model, copy_blocks=False)


def dense_fusion_without_shuffle(model: nn.Module) -> tuple[nn.Module, bool]:
    """Copy of a folded KufeNet with shuffle + grouped fusion conv as one dense 1×1 conv.

    Returns (copy, True), or (``model`` itself, False) when it has no channel shuffle, pads
    the concatenation or has no grouped 1×1 fusion convolution.
    """
    if (not isinstance(model, KufeNet) or not model.use_shuffle or model.concat_pad
            or not _grouped_pointwise(model.fuse)):
        return model, False
    model = copy.deepcopy(model)
    conv = model.fuse[0]
    if not isinstance(conv, nn.Conv2d):
        raise TypeError('dense_fusion_without_shuffle: the fusion does not start with a Conv2d')
    groups, channels = conv.groups, conv.in_channels
    per_in, per_out = channels // groups, conv.out_channels // groups
    # channel_shuffle: shuffled channel m = original channel (m % groups) * (C / groups)
    # + m // groups
    shuffled = torch.arange(channels)
    original = (shuffled % groups) * (channels // groups) + shuffled // groups
    dense = nn.Conv2d(channels, conv.out_channels, 1, bias=conv.bias is not None)
    with torch.no_grad():
        dense.weight.zero_()
        for g in range(groups):
            rows = slice(g * per_out, (g + 1) * per_out)
            columns = original[g * per_in:(g + 1) * per_in]
            dense.weight[rows, columns] = conv.weight[rows, :, 0, 0].unsqueeze(-1).unsqueeze(-1)
        if conv.bias is not None:
            _bias_of(dense).copy_(conv.bias)
    model.fuse[0] = dense
    model.use_shuffle = False
    return model, True


def _grouped_pointwise(fuse: nn.Sequential) -> bool:
    """Return True when ``fuse`` starts with a grouped 1×1 convolution."""
    conv = fuse[0] if len(fuse) else None
    return isinstance(conv, nn.Conv2d) and conv.kernel_size == (1, 1) and conv.groups != 1


class PaddedHead(nn.Module):
    """A convolution widened with zero filters to ``width`` outputs, sliced back after."""

    def __init__(self, conv: nn.Conv2d, width: int) -> None:
        """Copy ``conv`` with ``width - out_channels`` extra zero filters."""
        super().__init__()
        self.channels = conv.out_channels
        padding = conv.padding if isinstance(conv.padding, str) else _pair(conv.padding)
        self.conv = nn.Conv2d(conv.in_channels, width, _pair(conv.kernel_size),
                              _pair(conv.stride), padding, bias=True)
        bias = _bias_of(self.conv)
        with torch.no_grad():
            self.conv.weight.zero_()
            bias.zero_()
            self.conv.weight[:self.channels] = conv.weight
            if conv.bias is not None:
                bias[:self.channels] = conv.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the first ``channels`` outputs of the widened convolution."""
        return self.conv(x)[:, :self.channels]


def pad_head_to_simd(model: nn.Module, width: int = 8) -> tuple[nn.Module, bool]:
    """Copy of ``model`` whose ``head`` conv has ``width`` outputs (zeros), sliced to its own.

    KufeNet's head writes 4 maps at full resolution: 4 output channels fill half of an
    8-lane AVX2 register (a quarter of AVX-512's 16) and the runtime reorders the result out
    of its blocked layout. Returns (``model``, False) when there is no narrower head.
    """
    head = getattr(model, 'head', None)
    if not isinstance(head, nn.Conv2d) or head.groups != 1 or head.out_channels >= width:
        return model, False
    model = copy.deepcopy(model)
    model.head = PaddedHead(head, width)
    return model, True
