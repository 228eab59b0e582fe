# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Fold BatchNorm layers into the convolutions that feed them (inference only).

A BatchNorm in eval mode is an affine map per channel, so ``BN(conv(x))`` equals a single
convolution with rescaled weights and a shifted bias; ``BN(cat([conv_a(x), conv_b(y)]))``
likewise folds slice by slice into each convolution. Folding removes one memory pass per
layer. Patterns are found on the ``torch.fx`` graph (each convolution's only user is the
BatchNorm, or the channel concatenation that is the BatchNorm's input); where a module cannot
be traced (e.g. it checks its input's shape) its children are traced instead, and adjacent
pairs inside ``nn.Sequential`` containers are always found. The model's class, attributes and
other methods are kept: only the weights change and each folded BatchNorm becomes
``nn.Identity``.
"""

from __future__ import annotations

import copy
import itertools
import logging

import torch
from torch import nn

_LOG = logging.getLogger(__name__)

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
#: the layer types that fold (the unions of the tuples above)
Conv = (nn.Conv1d | nn.Conv2d | nn.Conv3d | nn.ConvTranspose1d | nn.ConvTranspose2d
        | nn.ConvTranspose3d)
Norm = nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d

#: (names of the convolutions, in channel order; name of the BatchNorm they feed)
FoldGroup = tuple[tuple[str, ...], str]


def _foldable(convs: list[nn.Module], bn: nn.Module) -> bool:
    """Return True if ``bn`` folds into ``convs`` (channels add up, running stats kept)."""
    if not isinstance(bn, _NORMS) or not convs:
        return False
    layers = [conv for conv in convs if isinstance(conv, _CONVS + _TRANSPOSED)]
    if len(layers) != len(convs):
        return False
    if bn.running_mean is None or bn.running_var is None:
        return False  # track_running_stats=False: batch statistics even at inference
    return sum(conv.out_channels for conv in layers) == bn.num_features


def _cat_inputs(node: torch.fx.Node) -> list[torch.fx.Node] | None:
    """Return tensors concatenated by ``node`` if it is ``torch.cat(..., dim=1)``, else None."""
    if node.op != 'call_function' or node.target is not torch.cat:
        return None
    tensors = node.args[0]
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get('dim', 0)
    if dim != 1 or not isinstance(tensors, (list, tuple)):
        return None
    nodes = [t for t in tensors if isinstance(t, torch.fx.Node)]
    return nodes if len(nodes) == len(tensors) else None


def _module_name(node: torch.fx.Node) -> str | None:
    """Qualified name of the submodule ``node`` calls, None if it calls no module."""
    return node.target if node.op == 'call_module' and isinstance(node.target, str) else None


def _groups_from_fx(model: nn.Module) -> list[FoldGroup]:
    """Foldable groups found on the fx graph of ``model``; raises if it cannot be traced."""
    graph = torch.fx.symbolic_trace(model).graph
    calls: dict[str, int] = {}
    for node in graph.nodes:
        name = _module_name(node)
        if name is not None:
            calls[name] = calls.get(name, 0) + 1
    groups = []
    for node in graph.nodes:
        bn_name = _module_name(node)
        if bn_name is None or calls[bn_name] != 1 or not node.args:
            continue
        source = node.args[0]
        if not isinstance(source, torch.fx.Node):
            continue
        producers = _cat_inputs(source)
        if producers is None or len(source.users) != 1:
            producers = [source]
        names = [_module_name(p) for p in producers]
        conv_names = [n for p, n in zip(producers, names)
                      if n is not None and len(p.users) == 1 and calls[n] == 1]
        if len(conv_names) != len(producers):
            continue  # a shared module or output cannot be folded for only one of its uses
        convs = [model.get_submodule(n) for n in conv_names]
        if _foldable(convs, model.get_submodule(bn_name)):
            groups.append((tuple(conv_names), bn_name))
    return groups


def _groups_from_sequential(model: nn.Module) -> list[FoldGroup]:
    """Adjacent (conv, BN) children if ``model`` is an ``nn.Sequential``."""
    if not isinstance(model, nn.Sequential):
        return []
    children = model._modules
    return [((first,), second) for first, second in itertools.pairwise(children)
            if _foldable([children[first]], children[second])]


def find_foldable(model: nn.Module, prefix: str = '') -> list[FoldGroup]:
    """Qualified names of the (convolutions, BatchNorm) groups :func:`fold_batchnorm` folds.

    Traces ``model`` with ``torch.fx``; where that fails (data-dependent control flow such as
    input checks), traces each child instead.
    """
    base = f'{prefix}.' if prefix else ''
    try:
        found = _groups_from_fx(model)
    except Exception as exc:  # noqa: BLE001 - any tracing failure means "trace the children"
        _LOG.debug('torch.fx cannot trace %s (%s); tracing its children', prefix or 'model', exc)
        found = _groups_from_sequential(model)
        for name, child in model.named_children():
            found += [(tuple(f'{name}.{c}' for c in convs), f'{name}.{bn}')
                      for convs, bn in find_foldable(child)]
    groups = [(tuple(base + c for c in convs), base + bn) for convs, bn in found]
    return list(dict.fromkeys(groups))


def _fold_into(conv: Conv, bn: Norm, start: int) -> nn.Module:
    """Return a copy of ``conv`` whose output equals channels ``start:`` of ``bn`` applied to it.

    ``torch.nn.utils.fusion.fuse_conv_bn_eval`` mis-shapes the weight of a *grouped*
    transposed convolution (e.g. a depthwise ConvTranspose2d), so the maths is done here:
    scale = gamma / sqrt(var + eps) per output channel, bias = (b - mean) * scale + beta.
    """
    stop = start + conv.out_channels
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(f'fold_batchnorm: {bn} keeps no running statistics')
    mean, var = bn.running_mean[start:stop], bn.running_var[start:stop]
    gamma = bn.weight[start:stop].detach() if bn.weight is not None else torch.ones_like(var)
    beta = bn.bias[start:stop].detach() if bn.bias is not None else torch.zeros_like(mean)
    scale = gamma * torch.rsqrt(var + bn.eps)
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(mean)
    weight = conv.weight.detach()
    spatial = [1] * (weight.dim() - 2)
    if isinstance(conv, _TRANSPOSED):  # weight (in, out / groups, *k)
        groups = conv.groups
        grouped = weight.reshape(groups, weight.shape[0] // groups, *weight.shape[1:])
        weight = (grouped * scale.reshape(groups, 1, -1, *spatial)).reshape(weight.shape)
    else:  # weight (out, in / groups, *k)
        weight = weight * scale.reshape(-1, 1, *spatial)
    fused = copy.deepcopy(conv)
    fused.weight = nn.Parameter(weight, requires_grad=False)
    fused.bias = nn.Parameter((bias - mean) * scale + beta, requires_grad=False)
    return fused


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    """Replace the submodule at dotted path ``name`` by ``new``."""
    parent_name, _, child = name.rpartition('.')
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Return an eval-mode copy of ``model`` with every Conv/ConvTranspose + BatchNorm folded.

    The input model is not modified. Outputs match the unfolded model in eval mode to float32
    rounding (about 1e-6 relative). Raises ``TypeError`` if ``model`` is not an ``nn.Module``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f'fold_batchnorm: model must be a torch.nn.Module, got {type(model)!r}')
    folded = copy.deepcopy(model).eval()
    with torch.no_grad():
        for conv_names, bn_name in find_foldable(folded):
            bn, start = folded.get_submodule(bn_name), 0
            for name in conv_names:
                conv = folded.get_submodule(name)
                if not isinstance(conv, _CONVS + _TRANSPOSED) or not isinstance(bn, _NORMS):
                    raise TypeError(f'fold_batchnorm: {name} and {bn_name} are not a '
                                    f'convolution and a BatchNorm')  # find_foldable checked
                _replace(folded, name, _fold_into(conv, bn, start))
                start += conv.out_channels
            _replace(folded, bn_name, nn.Identity())
    return folded
