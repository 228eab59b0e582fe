# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Spatial attention maps of feature tensors (Zagoruyko & Komodakis attention transfer).

A feature map ``A`` of shape ``(B, C, H, W)`` (feature pixels) becomes one map ``(B, H, W)``
by a channel-wise mapping; for hint learning each map is flattened and L2-normalised per
sample, so teacher and student channel counts never need to match.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

#: mapping name -> function (B, C, H, W) -> (B, H, W)
_MAPPINGS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    'mean': lambda a: a.abs().mean(dim=1),
    'max': lambda a: a.abs().amax(dim=1),
    'max2': lambda a: a.abs().pow(2).amax(dim=1),
    'max4': lambda a: a.abs().pow(4).amax(dim=1),
}
#: valid mapping names; ``'max2'`` is the default (best in the poster's Table V)
MAPPINGS: tuple[str, ...] = tuple(_MAPPINGS)


def attention_map(features: torch.Tensor, mapping: str = 'max2') -> torch.Tensor:
    """Map features ``(B, C, H, W)`` to a spatial attention map ``(B, H, W)``.

    ``'mean'`` = mean_c |A|, ``'max'`` = max_c |A|, ``'max2'`` = max_c |A|², ``'max4'`` =
    max_c |A|⁴.
    """
    if mapping not in _MAPPINGS:
        raise ValueError(f'attention mapping must be one of {MAPPINGS}, got {mapping!r}')
    if not isinstance(features, torch.Tensor) or features.ndim != 4:
        shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features)
        raise ValueError(f'attention_map: features must be (B, C, H, W), got {shape}')
    return _MAPPINGS[mapping](features)


def attention_vector(
    features: torch.Tensor,
    mapping: str = 'max2',
    size: tuple[int, int] | None = None,
    eps: float = 1e-12,
) -> torch.Tensor:
    """Flattened, per-sample L2-normalised attention ``(B, h*w)``.

    Args:
        features: ``(B, C, H, W)`` feature map.
        mapping: see :func:`attention_map`.
        size: ``(h, w)`` to bilinearly resize the map to before flattening (use the common
            size when teacher and student resolutions differ); ``None`` keeps ``(H, W)``.
        eps: floor of the norm (an all-zero map stays zero).
    """
    amap = attention_map(features, mapping)
    if size is not None and tuple(amap.shape[-2:]) != tuple(size):
        amap = F.interpolate(amap.unsqueeze(1), size=tuple(size), mode='bilinear',
                             align_corners=False).squeeze(1)
    return F.normalize(amap.flatten(1), p=2, dim=1, eps=eps)


def common_size(a: torch.Tensor, b: torch.Tensor) -> tuple[int, int]:
    """Return the larger (h, w) of two ``(..., H, W)`` tensors: where both maps are compared."""
    return (max(int(a.shape[-2]), int(b.shape[-2])), max(int(a.shape[-1]), int(b.shape[-1])))
