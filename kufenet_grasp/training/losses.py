# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Task loss H(y, p) of a grasp-map network: quality + angle (cos, sin) + width.

Both tensors are ``(B, 4, H, W)`` in model pixels with channels
``[quality, cos 2θ, sin 2θ, width / 150]`` (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: output channels, in order
HEADS: tuple[str, ...] = ('quality', 'cos', 'sin', 'width')
#: element-wise loss kinds
LOSS_KINDS: tuple[str, ...] = ('smooth_l1', 'mse')


def check_maps(name: str, tensor: torch.Tensor) -> None:
    """Raise ValueError unless ``tensor`` is a ``(B, 4, H, W)`` grasp-map tensor."""
    if not isinstance(tensor, torch.Tensor) or tensor.ndim != 4 or tensor.shape[1] != 4:
        shape = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor)
        raise ValueError(f'{name}: expected a (B, 4, H, W) tensor, got {shape}')


def _elementwise(pred: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Unreduced element-wise loss ``(B, 4, H, W)``."""
    if kind == 'smooth_l1':
        return F.smooth_l1_loss(pred, target, reduction='none')
    if kind == 'mse':
        return F.mse_loss(pred, target, reduction='none')
    raise ValueError(f'task loss: kind must be one of {LOSS_KINDS}, got {kind!r}')


def task_loss_per_sample(
    pred: torch.Tensor, target: torch.Tensor, kind: str = 'smooth_l1'
) -> torch.Tensor:
    """Per-sample task loss ``(B,)``: sum over the 4 heads of the pixel-mean loss."""
    check_maps('task loss pred', pred)
    check_maps('task loss target', target)
    if pred.shape != target.shape:
        raise ValueError(
            f'task loss: pred shape {tuple(pred.shape)} != target shape {tuple(target.shape)}'
        )
    return _elementwise(pred, target, kind).mean(dim=(2, 3)).sum(dim=1)


def task_loss(
    pred: torch.Tensor, target: torch.Tensor, kind: str = 'smooth_l1'
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Batch task loss H(y, p) = L_q + L_cos + L_sin + L_w.

    Args:
        pred: network output ``(B, 4, H, W)``.
        target: target maps of the same shape.
        kind: ``'smooth_l1'`` (GR-ConvNet, default) or ``'mse'`` (GG-CNN).

    Returns:
        ``(total, parts)``: the scalar total (equal to the batch mean of
        :func:`task_loss_per_sample`) and one scalar per head keyed by :data:`HEADS`.
    """
    check_maps('task loss pred', pred)
    check_maps('task loss target', target)
    if pred.shape != target.shape:
        raise ValueError(
            f'task loss: pred shape {tuple(pred.shape)} != target shape {tuple(target.shape)}'
        )
    per_head = _elementwise(pred, target, kind).mean(dim=(0, 2, 3))
    parts = {name: per_head[i] for i, name in enumerate(HEADS)}
    return per_head.sum(), parts
