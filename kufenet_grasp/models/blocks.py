# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Building blocks of KufeNet.

Depth-wise separable convolutions, the RGB ("split") and D ("copy") multi-scale blocks,
channel shuffle and the 3D-convolution channel attention.

Every block works on feature maps ``(B, C, H, W)`` in pixels of the (padded) input grid
divided by the block's cumulative stride. Normalisation is BatchNorm and the activation ReLU
(GR-ConvNet's choice; BatchNorm folds into the convolutions at export).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn, Tensor
import torch.nn.functional as F

#: depthwise kernel sizes of the multi-scale blocks (KUFENET_SPEC.md §1.1)
MIX_KERNELS: tuple[int, ...] = (3, 4, 5)


def conv_bn_relu(in_ch: int, out_ch: int, kernel: int = 1, stride: int = 1,
                 groups: int = 1) -> nn.Sequential:
    """Conv2d (no bias, 'same'-style padding for odd kernels) + BatchNorm + ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))


class DepthwiseConv(nn.Module):
    """Depthwise conv of any kernel size; output is ``ceil(H / stride)`` for every kernel.

    The total padding is ``k - 1`` split ``((k-1)//2, k-1-(k-1)//2)``, so even kernels
    (k = 4) get asymmetric padding (1 before, 2 after).
    """

    def __init__(self, channels: int, kernel: int, stride: int = 1) -> None:
        """Build a depthwise ``kernel``×``kernel`` conv over ``channels`` channels."""
        super().__init__()
        before = (kernel - 1) // 2
        after = kernel - 1 - before
        self.pad = (before, after, before, after)
        self.symmetric = before == after
        self.conv = nn.Conv2d(channels, channels, kernel, stride,
                              padding=before if self.symmetric else 0,
                              groups=channels, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the padded depthwise convolution."""
        if not self.symmetric:
            x = F.pad(x, self.pad)
        return self.conv(x)


def split_sizes(channels: int, parts: int) -> list[int]:
    """Split ``channels`` into ``parts`` near-equal positive group sizes (larger first)."""
    if channels < parts:
        raise ValueError(f'cannot split {channels} channels into {parts} groups')
    base, rem = divmod(channels, parts)
    return [base + (1 if i < rem else 0) for i in range(parts)]


class MixSplitBlock(nn.Module):
    """RGB block ("split", MixConv).

    The channels are split in 3 groups, each through a depthwise conv with kernel 3, 4 or 5,
    concatenated, BN + ReLU, then a pointwise conv + BN + ReLU.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 2,
                 kernels: Sequence[int] = MIX_KERNELS) -> None:
        """Build the block mapping ``in_ch`` to ``out_ch`` channels at ``stride``."""
        super().__init__()
        self.sizes = split_sizes(in_ch, len(kernels))
        self.dw = nn.ModuleList(DepthwiseConv(c, k, stride) for c, k in zip(self.sizes, kernels))
        self.bn = nn.BatchNorm2d(in_ch)
        self.pw = conv_bn_relu(in_ch, out_ch)

    def forward(self, x: Tensor) -> Tensor:
        """Split, multi-scale depthwise, concatenate, pointwise."""
        parts = torch.split(x, self.sizes, dim=1)
        y = torch.cat([conv(p) for conv, p in zip(self.dw, parts)], dim=1)
        return self.pw(F.relu(self.bn(y)))


class MixCopyBlock(nn.Module):
    """D block ("copy").

    The whole feature map goes through depthwise convs of kernel 3, 4 and 5 (three copies),
    the results are concatenated (3·C channels), BN + ReLU, then a pointwise conv + BN + ReLU.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 2,
                 kernels: Sequence[int] = MIX_KERNELS) -> None:
        """Build the block mapping ``in_ch`` to ``out_ch`` channels at ``stride``."""
        super().__init__()
        self.dw = nn.ModuleList(DepthwiseConv(in_ch, k, stride) for k in kernels)
        self.bn = nn.BatchNorm2d(in_ch * len(kernels))
        self.pw = conv_bn_relu(in_ch * len(kernels), out_ch)

    def forward(self, x: Tensor) -> Tensor:
        """Copy, multi-scale depthwise, concatenate, pointwise."""
        y = torch.cat([conv(x) for conv in self.dw], dim=1)
        return self.pw(F.relu(self.bn(y)))


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Shuffle channels as ShuffleNet: view (B, g, C/g, H, W), swap axes 1 and 2, flatten."""
    b, c, h, w = x.shape
    if c % groups:
        raise ValueError(f'channel_shuffle: {c} channels not divisible by {groups} groups')
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class Conv3dAttention(nn.Module):
    """3D-convolution context channel weighting (KUFENET_SPEC.md §1.2).

    ``x`` (B, C, H, W) is viewed as a volume (B, 1, C, H, W); a single-filter Conv3d with
    kernel (kc, 3, 3) and 'same' padding mixes neighbouring channels and pixels; the result
    is averaged over H and W, passed through a sigmoid and multiplies ``x`` channel-wise.
    Costs ``9·kc + 1`` parameters.
    """

    def __init__(self, channel_kernel: int = 3) -> None:
        """Build the attention with a ``channel_kernel``-deep (odd) 3D kernel."""
        super().__init__()
        if channel_kernel < 1 or channel_kernel % 2 == 0:
            raise ValueError(f'attention channel_kernel must be odd and >= 1, '
                             f'got {channel_kernel}')
        self.conv = nn.Conv3d(1, 1, (channel_kernel, 3, 3), padding=(channel_kernel // 2, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        """Reweight the channels of ``x``.

        Computes exactly ``mean_HW(conv3d(x))`` without building the 3D output: because the
        conv is linear, the spatial mean only needs the 3×3 "window sums" of each channel
        (whole map minus the first/last row/column that zero padding cuts off), then a 1D
        conv over the channel axis with the same weights (O(C·H·W) instead of O(9·kc·C·H·W)).
        """
        height, width = x.shape[-2], x.shape[-1]
        rows = torch.ones(3, height, dtype=x.dtype, device=x.device)
        cols = torch.ones(3, width, dtype=x.dtype, device=x.device)
        rows[0, -1] = 0  # kernel row 0 reads input row h-1: the last row is never read
        rows[2, 0] = 0
        cols[0, -1] = 0
        cols[2, 0] = 0
        sums = torch.einsum('bchw,ih,jw->bcij', x, rows, cols).flatten(2)  # (B, C, 9)
        kc = self.conv.kernel_size[0]
        weight = self.conv.weight.reshape(kc, 9).t().unsqueeze(0)  # (1, 9, kc)
        logits = F.conv1d(sums.transpose(1, 2), weight, padding=kc // 2)  # (B, 1, C)
        logits = logits / (height * width)
        if self.conv.bias is not None:
            logits = logits + self.conv.bias
        return x * torch.sigmoid(logits).squeeze(1)[:, :, None, None]

    def forward_reference(self, x: Tensor) -> Tensor:
        """Direct (slow) Conv3d formulation of :meth:`forward`, kept for testing."""
        weights = self.conv(x.unsqueeze(1)).mean(dim=(3, 4))  # (B, 1, C)
        return x * torch.sigmoid(weights).squeeze(1)[:, :, None, None]


class DSCResidualBlock(nn.Module):
    """Residual block of a depth-wise separable conv.

    dw 3×3 + BN + ReLU + pw + BN, plus the identity, then ReLU (channel count and resolution
    unchanged).
    """

    def __init__(self, channels: int) -> None:
        """Build the block over ``channels`` channels."""
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, groups=channels, bias=False),
            nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: Tensor) -> Tensor:
        """Return ``relu(x + body(x))``."""
        return F.relu(x + self.body(x))


class DSCUpBlock(nn.Module):
    """Depth-wise separable ×2 up-sampling.

    Pointwise conv (in → out channels) + BN + ReLU at the low resolution, then a depthwise
    ConvTranspose2d (k4, s2, p1) + BN + ReLU; the output is exactly twice the input size.
    Reducing the channels before up-sampling keeps the full-resolution work small.
    """

    def __init__(self, in_ch: int, out_ch: int) -> None:
        """Build the block mapping ``in_ch`` to ``out_ch`` channels."""
        super().__init__()
        self.body = nn.Sequential(
            conv_bn_relu(in_ch, out_ch),
            nn.ConvTranspose2d(out_ch, out_ch, 4, 2, 1, groups=out_ch, bias=False),
            nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        """Up-sample ×2."""
        return self.body(x)
