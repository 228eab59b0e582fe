# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""KufeNet: a lightweight RGB-D grasp network with an unequal two-branch encoder.

Layout (input padded to a multiple of 8 px, all sizes relative to it):

* **Unequal encoder.** Depth branch: 3×3 stem conv (stride 2) → D "copy" block (stride 2)
  → D "copy" block (stride 2). RGB branch: the same stem → two RGB "split" (MixConv) blocks.
  The D branch is wider than the RGB branch (``unequal=True``).
* **Feature optimisation.** Concatenate [D, RGB] (1/8 resolution), channel shuffle
  (2 groups), a grouped (2 groups) pointwise conv, the 3D-convolution channel attention,
  then 4 depth-wise separable residual blocks.
* **Shallow decoder.** Three depth-wise separable ×2 transposed-conv blocks (the three hint
  feature maps, at 1/4, 1/2 and 1/1 resolution), then four 3×3 conv heads (implemented as
  one 3×3 conv with 4 output channels: [quality, cos 2θ, sin 2θ, width/150 px]), a 1×1
  conv (``head_kernel=1``) or a 3×3 depth-wise conv then a 1×1 conv (``head_depthwise``;
  both fitted by :mod:`kufenet_grasp.training.head_refit`). With
  ``output_stride=2`` the third up-sampling block is left out: the head reads the 1/2
  resolution features and its maps are up-sampled bilinearly to the input size.

Design choices not fixed by the paper (KUFENET_SPEC.md §1.2) are documented on
:class:`KufeNet`.
"""

from __future__ import annotations

from collections.abc import Sequence

from kufenet_grasp.models.base import GraspModel, OUTPUT_CHANNELS
from kufenet_grasp.models.blocks import (
    channel_shuffle,
    Conv3dAttention,
    conv_bn_relu,
    DSCResidualBlock,
    DSCUpBlock,
    MixCopyBlock,
    MixSplitBlock,
)
import torch
from torch import nn, Tensor
import torch.nn.functional as F

#: groups of the channel shuffle and of the fusion pointwise conv
FUSION_GROUPS = 2
#: number of DSC residual blocks after fusion
NUM_RESIDUAL = 4
#: kernel sides the output conv may have
HEAD_KERNELS = (1, 3)
#: resolutions (input side / map side) the head may draw its maps at
OUTPUT_STRIDES = (1, 2)


def _pair(values: Sequence[int], name: str) -> tuple[int, int]:
    """Validate a 2-tuple of positive channel counts named ``name``."""
    pair = tuple(int(v) for v in values)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f'KufeNet {name} must be two positive channel counts, got {pair}')
    return pair[0], pair[1]


def _even(value: int) -> int:
    """Round ``value`` up to an even number (the fusion uses 2 groups)."""
    return value + value % 2


def _head(in_channels: int, kernel: int, depthwise: bool) -> nn.Module:
    """Output conv: one ``kernel`` conv, or a depth-wise ``kernel`` conv then a 1×1 conv."""
    if not depthwise:
        return nn.Conv2d(in_channels, OUTPUT_CHANNELS, kernel, padding=kernel // 2)
    return nn.Sequential(
        nn.Conv2d(in_channels, in_channels, kernel, padding=kernel // 2, groups=in_channels,
                  bias=False),
        nn.Conv2d(in_channels, OUTPUT_CHANNELS, 1))


class KufeNet(GraspModel):
    """KufeNet grasp network (arch ``'kufenet'``).

    Args:
        stem: channels of each branch's 3×3 stride-2 stem conv (same in both branches).
        d_channels: output channels of the two D (copy) blocks.
        rgb_channels: output channels of the two RGB (split) blocks.
        fused: channels after fusion and in the residual blocks.
        decoder: output channels of the three up-sampling blocks.
        attention_kernel: channel depth ``kc`` of the 3D attention kernel (kc, 3, 3).
        unequal: False gives both branches the mean of the D and RGB widths (equal encoding,
            Table VI), keeping the total parameter count close to the unequal model.
        channel_shuffle: shuffle the concatenated [D, RGB] channels before the grouped
            pointwise fusion (without it the two pointwise groups see D-only / mostly-RGB).
        channel_attention: apply the 3D-convolution attention after fusion.
        modality: 'rgbd' (two branches), 'd' (D branch only) or 'rgb' (RGB branch only);
            a single-modality model's branch gets the summed D + RGB widths.
        head_kernel: kernel side of the output conv, 3 (the paper's 3×3 heads) or 1: a 1×1
            head does a ninth of the full-resolution work, and the quality, angle and width
            maps are smoothed after the network anyway (docs/benchmarks.md has its cost).
        head_depthwise: the head is a ``head_kernel`` depth-wise conv on the decoder features
            (no bias) followed by a 1×1 conv: the 3×3 head's view of the neighbouring pixels
            for little more than a 1×1 head's work (fitted by
            :func:`~kufenet_grasp.training.head_refit.refit_depthwise_head`).
        output_stride: 1 (the paper's decoder, maps drawn at full resolution) or 2: no third
            up-sampling block, the head draws its maps at half resolution and
            :meth:`forward` up-samples them bilinearly (``align_corners=False``); an exported
            graph stops before that up-sampling (:meth:`forward_native`) and the runtime does
            it. :meth:`forward_features` then returns two decoder features, not three, so
            hint distillation (three layers) does not apply to such a student.

    The fusion needs an even channel count: an odd encoder output repeats its last channel
    once and an odd ``fused`` is rounded up (never the case for the presets).
    """

    arch = 'kufenet'
    pad_multiple = 8

    def __init__(self, stem: int = 8, d_channels: Sequence[int] = (16, 24),
                 rgb_channels: Sequence[int] = (8, 12), fused: int = 32,
                 decoder: Sequence[int] = (16, 12, 8), attention_kernel: int = 3,
                 unequal: bool = True, channel_shuffle: bool = True,
                 channel_attention: bool = True, modality: str = 'rgbd',
                 head_kernel: int = 3, output_stride: int = 1,
                 head_depthwise: bool = False) -> None:
        """Build the network; see the class docstring for the arguments."""
        d_ch, rgb_ch = _pair(d_channels, 'd_channels'), _pair(rgb_channels, 'rgb_channels')
        decoder = tuple(int(c) for c in decoder)
        if len(decoder) != 3 or min(decoder) < 1:
            raise ValueError(f'KufeNet decoder must be three positive channel counts, '
                             f'got {decoder}')
        if stem < 3 or fused < 2:
            raise ValueError(f'KufeNet stem must be >= 3 and fused >= 2, got {stem}, {fused}')
        if head_kernel not in HEAD_KERNELS:
            raise ValueError(f'KufeNet head_kernel must be one of {HEAD_KERNELS}, '
                             f'got {head_kernel!r}')
        if output_stride not in OUTPUT_STRIDES:
            raise ValueError(f'KufeNet output_stride must be one of {OUTPUT_STRIDES}, '
                             f'got {output_stride!r}')
        if head_depthwise and head_kernel == 1:
            raise ValueError('KufeNet head_depthwise needs head_kernel 3 (a 1x1 depth-wise '
                             'conv is a scale the 1x1 head already has)')
        config = {'stem': int(stem), 'd_channels': list(d_ch), 'rgb_channels': list(rgb_ch),
                  'fused': int(fused), 'decoder': list(decoder),
                  'attention_kernel': int(attention_kernel), 'unequal': bool(unequal),
                  'channel_shuffle': bool(channel_shuffle),
                  'channel_attention': bool(channel_attention), 'modality': modality,
                  'head_kernel': int(head_kernel), 'output_stride': int(output_stride),
                  'head_depthwise': bool(head_depthwise)}
        super().__init__(modality, config)
        if not unequal:
            d_ch = rgb_ch = ((d_ch[0] + rgb_ch[0] + 1) // 2, (d_ch[1] + rgb_ch[1] + 1) // 2)
        if modality != 'rgbd':
            d_ch = rgb_ch = (d_ch[0] + rgb_ch[0], d_ch[1] + rgb_ch[1])
        self.d_branch = self._branch(1, stem, d_ch, MixCopyBlock) if modality != 'rgb' else None
        self.rgb_branch = (self._branch(3, stem, rgb_ch, MixSplitBlock)
                           if modality != 'd' else None)
        enc_out = {'rgbd': d_ch[1] + rgb_ch[1], 'd': d_ch[1], 'rgb': rgb_ch[1]}[modality]
        self.concat_pad = enc_out % FUSION_GROUPS
        fused = _even(int(fused))
        self.use_shuffle = bool(channel_shuffle)
        self.fuse = conv_bn_relu(_even(enc_out), fused, groups=FUSION_GROUPS)
        self.attention = Conv3dAttention(attention_kernel) if channel_attention else None
        self.residual = nn.Sequential(*(DSCResidualBlock(fused) for _ in range(NUM_RESIDUAL)))
        self.up1 = DSCUpBlock(fused, decoder[0])
        self.up2 = DSCUpBlock(decoder[0], decoder[1])
        self.up3 = DSCUpBlock(decoder[1], decoder[2]) if output_stride == 1 else None
        head_in = decoder[2] if output_stride == 1 else decoder[1]
        self.head = _head(head_in, head_kernel, bool(head_depthwise))

    @staticmethod
    def _branch(in_ch: int, stem: int, widths: tuple[int, int], block: type) -> nn.Sequential:
        """Stem conv (stride 2) followed by two ``block``s (stride 2 each): 1/8 resolution."""
        return nn.Sequential(conv_bn_relu(in_ch, stem, 3, stride=2),
                             block(stem, widths[0]), block(widths[0], widths[1]))

    @property
    def output_stride(self) -> int:
        """Input side over the side of the maps the head draws (1 or 2)."""
        return 1 if self.up3 is not None else 2

    def _forward_padded(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Run the network; return (maps at the input size, [up1, up2(, up3)])."""
        maps, features = self._forward_native(x)
        return (maps if self.up3 is not None else upsample_maps(maps)), features

    def forward_native(self, x: Tensor) -> Tensor:
        """Return the maps at the resolution the head draws them (the exported graph).

        ``x`` is (B, 4, S, S) with S a multiple of :attr:`pad_multiple`; the maps are
        (B, 4, S / output_stride, S / output_stride).
        """
        if x.dim() != 4 or any(int(n) % self.pad_multiple for n in x.shape[-2:]):
            raise ValueError(f'forward_native needs (B, 4, H, W) with H and W multiples of '
                             f'{self.pad_multiple}, got {tuple(x.shape)}')
        if self.modality != 'rgbd':
            x = x.index_select(1, self._channel_index)
        return self._forward_native(x)[0]

    def _forward_native(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Run encoder, fusion, residual blocks, decoder; return (head maps, [up1, up2(, up3)])."""
        # __init__ builds the branches of the modality: both for 'rgbd', else one
        if self.d_branch is not None and self.rgb_branch is not None:
            f = torch.cat([self.d_branch(x[:, :1]), self.rgb_branch(x[:, 1:])], dim=1)
        elif self.d_branch is not None:
            f = self.d_branch(x)
        elif self.rgb_branch is not None:
            f = self.rgb_branch(x)
        else:
            raise RuntimeError('KufeNet has no encoder branch')
        if self.concat_pad:
            f = torch.cat([f, f[:, -1:]], dim=1)
        if self.use_shuffle:
            f = channel_shuffle(f, FUSION_GROUPS)
        f = self.fuse(f)
        if self.attention is not None:
            f = self.attention(f)
        f = self.residual(f)
        f1 = self.up1(f)
        f2 = self.up2(f1)
        if self.up3 is None:
            return self.head(f2), [f1, f2]
        f3 = self.up3(f2)
        return self.head(f3), [f1, f2, f3]


def upsample_maps(maps: Tensor) -> Tensor:
    """Up-sample (B, C, h, w) maps ×2 bilinearly, pixel centres aligned as OpenCV's resize."""
    return F.interpolate(maps, scale_factor=2, mode='bilinear', align_corners=False)
