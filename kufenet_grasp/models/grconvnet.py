# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""GR-ConvNet (grconvnet3, Kumra et al. 2020), the baseline and the distillation teacher.

Written from the description in KUFENET_SPEC.md §3.2: conv 9×9 (c) → conv 4/s2 (2c) →
conv 4/s2 (4c) → N residual blocks (4c) → ConvT 4/s2 (2c) → ConvT 4/s2 (c) → ConvT 9/s1 (c)
→ dropout → four 2×2 conv heads. ``channel_size=32, num_residual=5`` has 1,900,900
parameters; the teacher uses ``channel_size=64, num_residual=6`` (≈ 8.75M).
"""

from __future__ import annotations

from kufenet_grasp.models.base import GraspModel
import torch
from torch import nn, Tensor
import torch.nn.functional as F


class ResidualBlock(nn.Module):
    """GR-ConvNet residual block: conv3×3-BN-ReLU-conv3×3-BN plus the identity."""

    def __init__(self, channels: int) -> None:
        """Build the block over ``channels`` channels (biased convs, as in grconvnet3)."""
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        """Return ``x + bn2(conv2(relu(bn1(conv1(x)))))``."""
        return x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))


class GRConvNet(GraspModel):
    """GR-ConvNet 3 (arch ``'grconvnet'``); the input is padded to a multiple of 8 px.

    Args:
        channel_size: base width c.
        num_residual: number of residual blocks at 4c channels (1/4 resolution).
        dropout: dropout probability before the heads (active in train mode only).
        modality: 'rgbd', 'rgb' or 'd'.
    """

    arch = 'grconvnet'
    pad_multiple = 8

    def __init__(self, channel_size: int = 32, num_residual: int = 5, dropout: float = 0.1,
                 modality: str = 'rgbd') -> None:
        """Build the network; see the class docstring for the arguments."""
        if channel_size < 1 or num_residual < 0 or not 0.0 <= dropout < 1.0:
            raise ValueError(f'GRConvNet needs channel_size >= 1, num_residual >= 0 and '
                             f'0 <= dropout < 1, got {channel_size}, {num_residual}, {dropout}')
        super().__init__(modality, {'channel_size': int(channel_size),
                                    'num_residual': int(num_residual),
                                    'dropout': float(dropout), 'modality': modality})
        c = int(channel_size)
        self.conv1 = nn.Conv2d(self.in_channels, c, 9, padding=4)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, 2 * c, 4, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(2 * c)
        self.conv3 = nn.Conv2d(2 * c, 4 * c, 4, stride=2, padding=1)
        self.bn3 = nn.BatchNorm2d(4 * c)
        self.residual = nn.Sequential(*(ResidualBlock(4 * c) for _ in range(num_residual)))
        self.conv4 = nn.ConvTranspose2d(4 * c, 2 * c, 4, stride=2, padding=1, output_padding=1)
        self.bn4 = nn.BatchNorm2d(2 * c)
        self.conv5 = nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=2, output_padding=1)
        self.bn5 = nn.BatchNorm2d(c)
        self.conv6 = nn.ConvTranspose2d(c, c, 9, stride=1, padding=4)
        self.dropout = nn.Dropout(p=dropout)
        self.pos_output = nn.Conv2d(c, 1, 2)
        self.cos_output = nn.Conv2d(c, 1, 2)
        self.sin_output = nn.Conv2d(c, 1, 2)
        self.width_output = nn.Conv2d(c, 1, 2)

    def _forward_padded(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Return encoder, residual blocks, decoder; features = outputs of conv4, conv5, conv6."""
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        x = self.residual(x)
        f1 = F.relu(self.bn4(self.conv4(x)))
        f2 = F.relu(self.bn5(self.conv5(f1)))
        f3 = self.conv6(f2)
        x = self.dropout(f3)
        out = torch.cat([self.pos_output(x), self.cos_output(x), self.sin_output(x),
                         self.width_output(x)], dim=1)
        return out, [f1, f2, f3]
