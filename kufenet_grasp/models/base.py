# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The common base class of every grasp network.

All models take the project's network input ``(B, 4, H, W)`` with channels
``[depth, R, G, B]`` (see docs/ARCHITECTURE.md) and return ``(B, 4, H, W)`` maps with channels
``[quality, cos 2θ, sin 2θ, width / 150 px]`` in the input's pixel frame.
"""

from __future__ import annotations

import torch
from torch import nn, Tensor
import torch.nn.functional as F

#: modality name -> indices of the input channels ``[depth, R, G, B]`` it uses
MODALITY_CHANNELS: dict[str, tuple[int, ...]] = {'rgbd': (0, 1, 2, 3), 'rgb': (1, 2, 3), 'd': (0,)}
#: number of input channels every model accepts
INPUT_CHANNELS = 4
#: number of output maps: quality, cos 2θ, sin 2θ, width
OUTPUT_CHANNELS = 4


def check_modality(modality: str) -> str:
    """Return ``modality`` if it is one of 'rgbd', 'rgb', 'd'; raise ValueError otherwise."""
    if modality not in MODALITY_CHANNELS:
        raise ValueError(f'modality must be one of {sorted(MODALITY_CHANNELS)}, got {modality!r}')
    return modality


class GraspModel(nn.Module):
    """Base class: input checking, modality channel selection, padding and cropping.

    Subclasses set ``arch`` (family name), ``config`` (JSON-serialisable kwargs that rebuild
    the model with ``type(model)(**config)``), ``modality`` and ``pad_multiple`` (the input is
    padded on the right/bottom by edge replication to a multiple of this many pixels and the
    output cropped back), and implement :meth:`_forward_padded`.
    """

    arch: str = 'grasp-model'
    pad_multiple: int = 1
    #: input channels the network body reads (a buffer, moved with the model)
    _channel_index: Tensor

    def __init__(self, modality: str, config: dict) -> None:
        """Store the modality and the rebuild ``config``."""
        super().__init__()
        self.modality = check_modality(modality)
        self.config = dict(config)
        #: preset name set by the registry (None for a model built directly)
        self.name: str | None = None
        self.register_buffer(
            '_channel_index', torch.tensor(MODALITY_CHANNELS[modality]), persistent=False)

    @property
    def in_channels(self) -> int:
        """Number of input channels the network body sees after modality selection."""
        return len(MODALITY_CHANNELS[self.modality])

    @property
    def output_stride(self) -> int:
        """Input side over the side of the maps the network draws before any up-sampling."""
        return 1

    def forward_native(self, x: Tensor) -> Tensor:
        """Return the maps as the network draws them (the exported graph): here :meth:`forward`."""
        return self.forward(x)

    def _forward_padded(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Run the body on modality-selected, padded input; return (maps, 3 decoder features)."""
        raise NotImplementedError

    def forward_features(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Return ``(output (B,4,H,W), [f1, f2, f3])``: the maps and 3 decoder feature maps.

        The feature maps are in decoder order (coarse to fine) at the padded resolution.
        """
        if x.dim() != 4 or x.shape[1] != INPUT_CHANNELS:
            raise ValueError(f'{type(self).__name__} input must be (B, 4, H, W) with channels '
                             f'[depth, R, G, B], got shape {tuple(x.shape)}')
        height, width = int(x.shape[-2]), int(x.shape[-1])
        if self.modality != 'rgbd':
            x = x.index_select(1, self._channel_index)
        m = self.pad_multiple
        pad_h, pad_w = (-height) % m, (-width) % m
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode='replicate')
        out, features = self._forward_padded(x)
        if pad_h or pad_w:
            out = out[..., :height, :width]
        return out, features

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(B, 4, H, W)`` [depth, R, G, B] input to ``(B, 4, H, W)`` grasp maps."""
        return self.forward_features(x)[0]
