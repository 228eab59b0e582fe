# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""GG-CNN (Morrison et al. 2018), the depth-only baseline.

Convs 32/16/8 with kernels 9/5/3 and strides 3/2/2, mirrored transposed convs, four 2×2 conv
heads (62,420 parameters). The input is padded to a multiple of 12 px (3·2·2) and the
output cropped back, so the output size equals the input size (224 → 228 → 224; 300 as is).
"""

from __future__ import annotations

from kufenet_grasp.models.base import GraspModel
import torch
from torch import nn, Tensor
import torch.nn.functional as F


class GGCNN(GraspModel):
    """GG-CNN (arch ``'ggcnn'``); ``modality`` defaults to 'd' (depth only)."""

    arch = 'ggcnn'
    pad_multiple = 12

    def __init__(self, modality: str = 'd') -> None:
        """Build the network for ``modality`` ('d' in the original)."""
        super().__init__(modality, {'modality': modality})
        self.conv1 = nn.Conv2d(self.in_channels, 32, 9, stride=3, padding=3)
        self.conv2 = nn.Conv2d(32, 16, 5, stride=2, padding=2)
        self.conv3 = nn.Conv2d(16, 8, 3, stride=2, padding=1)
        self.convt1 = nn.ConvTranspose2d(8, 8, 3, stride=2, padding=1, output_padding=1)
        self.convt2 = nn.ConvTranspose2d(8, 16, 5, stride=2, padding=2, output_padding=1)
        self.convt3 = nn.ConvTranspose2d(16, 32, 9, stride=3, padding=3, output_padding=1)
        self.pos_output = nn.Conv2d(32, 1, 2)
        self.cos_output = nn.Conv2d(32, 1, 2)
        self.sin_output = nn.Conv2d(32, 1, 2)
        self.width_output = nn.Conv2d(32, 1, 2)

    def _forward_padded(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Return encoder and decoder; features = outputs of the three transposed convs."""
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.relu(self.conv3(x))
        f1 = F.relu(self.convt1(x))
        f2 = F.relu(self.convt2(f1))
        f3 = F.relu(self.convt3(f2))
        out = torch.cat([self.pos_output(f3), self.cos_output(f3), self.sin_output(f3),
                         self.width_output(f3)], dim=1)
        return out, [f1, f2, f3]
