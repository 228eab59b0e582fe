"""Rewrite depth-wise ×2 transposed convolutions as a grouped 3×3 convolution + pixel shuffle.

KufeNet's decoder up-samples with ``ConvTranspose2d(C, C, 4, stride=2, padding=1, groups=C)``
(:class:`~kufenet_grasp.models.blocks.DSCUpBlock`). Once its BatchNorm is folded in, that layer
has a bias, and OpenVINO's CPU kernel for a depth-wise transposed convolution with a per-channel
bias is about ten times slower than without one (profiled on the shipped KufeNet-80K: 3.4 of
7.9 ms per frame). The same layer is exactly a grouped convolution: each output pixel
``2i + a`` (phase ``a`` in {0, 1}) sums two input pixels with two of the four kernel taps
(``out[2i] = w[1] x[i] + w[3] x[i-1]``, ``out[2i+1] = w[2] x[i] + w[0] x[i+1]``, per axis). So
one ``Conv2d(C, 4C, 3, padding=1, groups=C)`` computes the four phases of every channel and
``PixelShuffle(2)`` interleaves them. The rewrite is for inference export only; outputs agree
to float rounding (tested).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

#: phase -> {input offset: kernel tap} for ConvTranspose (kernel 4, stride 2, padding 1)
_TAPS = {0: {-1: 3, 0: 1}, 1: {0: 2, 1: 0}}


def is_depthwise_up2(layer: nn.Module) -> bool:
    """True for ``ConvTranspose2d(C, C, 4, stride=2, padding=1, groups=C)`` (any C, bias)."""
    return (isinstance(layer, nn.ConvTranspose2d) and layer.kernel_size == (4, 4)
            and layer.stride == (2, 2) and layer.padding == (1, 1)
            and layer.output_padding == (0, 0) and layer.dilation == (1, 1)
            and layer.in_channels == layer.out_channels == layer.groups)


class PhaseConvUp2(nn.Module):
    """The four output phases of a depth-wise ×2 ConvTranspose2d, as conv + PixelShuffle."""

    def __init__(self, deconv: nn.ConvTranspose2d) -> None:
        """Copy the weights (and bias) of ``deconv``, which must pass :func:`is_depthwise_up2`."""
        super().__init__()
        if not is_depthwise_up2(deconv):
            raise ValueError(f"not a depth-wise ConvTranspose2d(k4, s2, p1): {deconv}")
        channels = deconv.in_channels
        taps = deconv.weight.detach()[:, 0]  # (C, 4, 4)
        kernel = torch.zeros(channels, 4, 3, 3, dtype=taps.dtype)
        for a, rows in _TAPS.items():
            for b, cols in _TAPS.items():
                for dy, ty in rows.items():
                    for dx, tx in cols.items():
                        kernel[:, 2 * a + b, dy + 1, dx + 1] = taps[:, ty, tx]
        self.conv = nn.Conv2d(channels, 4 * channels, 3, padding=1, groups=channels,
                              bias=deconv.bias is not None)
        with torch.no_grad():
            self.conv.weight.copy_(kernel.reshape(4 * channels, 1, 3, 3))
            if deconv.bias is not None:
                self.conv.bias.copy_(deconv.bias.detach().repeat_interleave(4))
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, 2H, 2W), equal to the transposed convolution's output."""
        return self.shuffle(self.conv(x))


def rewrite_depthwise_up2(model: nn.Module) -> tuple[nn.Module, int]:
    """A copy of ``model`` with every depth-wise ×2 ConvTranspose2d replaced; (copy, count)."""
    model = copy.deepcopy(model)
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if is_depthwise_up2(child):
                setattr(parent, name, PhaseConvUp2(child))
                count += 1
    return model, count
