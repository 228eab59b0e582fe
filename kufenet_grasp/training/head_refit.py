# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Replace a KufeNet's 3×3 output conv by a cheaper head fitted to the maps it drew.

The output conv runs at full resolution on the last decoder features and is the most costly
layer of the exported 80K (``kufenet bench --profile``). A 1×1 conv reading the same features
(or, with ``output_stride=2``, the half-resolution features before the last up-sampling
block, which is then left out; bilinear up-sampling commutes with a 1×1 conv) is fitted by
weighted linear least squares to the trained model's own four output maps (quality,
cos 2θ, sin 2θ, width), over every pixel of a set of inputs: no labels, no
gradient steps, and the rest of the network is kept as it is. Pixel weights
``clip(quality, 0, 1) ** quality_power + weight_floor`` spend the fit where the grasps are
read (the peaks of the quality map) rather than on the background.

:func:`refit_depthwise_head` fits a 3×3 depth-wise conv followed by a 1×1 conv instead: the
same sight of each pixel's neighbours as the 3×3 conv for a sixth of its multiplications. It
can be fitted to a blend of the source's maps and the maps of its 1×1 fit (``blend``, a
weight-space interpolation of the two heads, as ``kufenet interpolate`` does for whole
networks). Its two factors are fitted by alternating least squares on the same weighted
normal equations, which a pass over the inputs gathers once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
import json
from pathlib import Path
from typing import cast

from kufenet_grasp.models.base import OUTPUT_CHANNELS
from kufenet_grasp.models.kufenet import KufeNet, OUTPUT_STRIDES, upsample_maps
import numpy as np
import torch
from torch import nn, Tensor

#: ridge added to the normal equations (relative to their mean diagonal): keeps the solve
#: defined when a feature channel is constant (a ReLU that never fires on the fit images)
RIDGE = 1e-9
#: most alternating least-squares rounds of the depth-wise fit, and the share of the error
#: a round must still remove to go on
DEPTHWISE_ROUNDS = 20000
DEPTHWISE_TOLERANCE = 1e-9
#: head kinds :func:`refit_weights_file` fits
HEAD_KINDS = ('pointwise', 'depthwise')


@dataclass(frozen=True)
class HeadFit:
    """What the fit saw: ``images`` inputs, ``pixels`` rows of the least-squares problem."""

    images: int
    pixels: int
    quality_power: float
    weight_floor: float
    output_stride: int = 1
    head: str = 'pointwise'
    blend: float = 1.0

    def to_dict(self) -> dict[str, float | int]:
        """Plain-JSON form (for the weights metadata)."""
        return asdict(self)


def _check_model(model: nn.Module, output_stride: int) -> KufeNet:
    """Return ``model`` if it is a KufeNet with a head to replace; raise a one-line ValueError."""
    if not isinstance(model, KufeNet):
        raise ValueError(f'refit_pointwise_head needs a KufeNet, got {type(model).__name__}')
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(f'refit_pointwise_head: output_stride must be one of '
                         f'{OUTPUT_STRIDES}, got {output_stride!r}')
    if model.output_stride != 1:
        raise ValueError('refit_pointwise_head: the model already draws its maps at half '
                         'resolution')
    if output_stride == 1 and model.config.get('head_kernel', 3) == 1:
        raise ValueError('refit_pointwise_head: the model already has a 1x1 head')
    return model


def refit_pointwise_head(model: nn.Module, inputs: Iterable[Tensor], *,
                         quality_power: float = 2.0, weight_floor: float = 0.01,
                         output_stride: int = 1) -> tuple[KufeNet, HeadFit]:
    """Copy of ``model`` (a KufeNet) with a 1×1 head fitted to its own maps on ``inputs``.

    ``inputs`` yields network inputs, (4, S, S) or (B, 4, S, S) float32. Returns the new
    model (eval mode, ``config['head_kernel'] == 1``, every other weight copied) and
    :class:`HeadFit`. ``output_stride=2`` fits the head to the second up-sampling block's
    features and leaves the third block out (``config['output_stride'] == 2``). Raises
    ValueError for a model that is not a KufeNet with a head to replace, bad weights or no
    input.
    """
    source = _check_model(model, output_stride)
    if quality_power < 0 or weight_floor <= 0:
        raise ValueError(f'refit_pointwise_head: quality_power must be >= 0 and weight_floor '
                         f'> 0, got {quality_power}, {weight_floor}')
    was_training = source.training
    source.eval()
    features = int(source.config['decoder'][2 if output_stride == 1 else 1])
    gram = np.zeros((features + 1, features + 1))
    moment = np.zeros((features + 1, OUTPUT_CHANNELS))
    images = pixels = 0
    try:
        with torch.inference_mode():
            for x in inputs:
                batch = x if x.dim() == 4 else x.unsqueeze(0)
                maps, hints = source.forward_features(batch)
                # what the new head reads, at the maps' resolution: the last up-sampling
                # block's output, or the one before it up-sampled as the new model does
                read = hints[-1] if output_stride == 1 else upsample_maps(hints[1])
                f = read.permute(0, 2, 3, 1).reshape(-1, features).double().numpy()
                y = maps.permute(0, 2, 3, 1).reshape(-1, OUTPUT_CHANNELS).double().numpy()
                design = np.hstack([f, np.ones((f.shape[0], 1))])
                weight = np.clip(y[:, :1], 0.0, 1.0) ** quality_power + weight_floor
                gram += (design * weight).T @ design
                moment += (design * weight).T @ y
                images += batch.shape[0]
                pixels += f.shape[0]
    finally:
        source.train(was_training)
    if not images:
        raise ValueError('refit_pointwise_head: no input images')
    ridge = RIDGE * float(np.trace(gram)) / gram.shape[0]
    solution = np.linalg.solve(gram + ridge * np.eye(gram.shape[0]), moment)
    config = dict(source.config)
    config['head_kernel'] = 1
    config['head_depthwise'] = False
    config['output_stride'] = int(output_stride)
    refitted = KufeNet(**config)
    refitted.name = source.name
    # load_state_dict copies the tensors: the refitted model shares nothing with the source
    dropped = ('head.',) if output_stride == 1 else ('head.', 'up3.')
    refitted.load_state_dict({k: v for k, v in source.state_dict().items()
                              if not k.startswith(dropped)}, strict=False)
    head = cast(nn.Conv2d, refitted.head)
    if head.bias is None:  # built with a bias; checked for the type checker
        raise RuntimeError('refit_pointwise_head: the new head has no bias')
    with torch.no_grad():
        head.weight.copy_(
            torch.from_numpy(solution[:features].T.astype(np.float32))[:, :, None, None])
        head.bias.copy_(torch.from_numpy(solution[features].astype(np.float32)))
    return refitted.eval(), HeadFit(images, pixels, float(quality_power), float(weight_floor),
                                    int(output_stride))


def _check_depthwise_source(model: nn.Module) -> KufeNet:
    """Return ``model`` if it is a KufeNet with a plain 3×3 full-resolution head."""
    if not isinstance(model, KufeNet):
        raise ValueError(f'refit_depthwise_head needs a KufeNet, got {type(model).__name__}')
    if (model.output_stride != 1 or model.config.get('head_kernel', 3) != 3
            or model.config.get('head_depthwise', False)):
        raise ValueError('refit_depthwise_head needs a KufeNet with a plain 3x3 head at full '
                         'resolution (its maps and kernel are what the new head is fitted to)')
    return model


def _window_gram(source: KufeNet, inputs: Iterable[Tensor], quality_power: float,
                 weight_floor: float) -> tuple[np.ndarray, int, int]:
    """Weighted Gram matrix of the head's 3×3 input windows plus a one (C·9 + 1 square).

    Rows of the windows are ordered as the head's weights are (channel, then tap).
    """
    import torch.nn.functional as functional

    features = int(source.config['decoder'][2])
    gram = np.zeros((features * 9 + 1, features * 9 + 1))
    images = pixels = 0
    with torch.inference_mode():
        for x in inputs:
            batch = x if x.dim() == 4 else x.unsqueeze(0)
            maps, hints = source.forward_features(batch)
            windows = functional.unfold(hints[-1], 3, padding=1)  # (B, C·9, H·W)
            design = windows.permute(0, 2, 1).reshape(-1, features * 9).double().numpy()
            design = np.hstack([design, np.ones((design.shape[0], 1))])
            weight = np.clip(maps[:, 0].reshape(-1, 1).double().numpy(), 0.0,
                             1.0) ** quality_power + weight_floor
            gram += (design * weight).T @ design
            images += batch.shape[0]
            pixels += design.shape[0]
    return gram, images, pixels


def _solve(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``matrix⁻¹ rhs`` with :data:`RIDGE` added (relative to the mean diagonal)."""
    ridge = RIDGE * float(np.trace(matrix)) / matrix.shape[0]
    return np.linalg.solve(matrix + ridge * np.eye(matrix.shape[0]), rhs)


def _depthwise_factors(gram: np.ndarray, target: np.ndarray, features: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth-wise kernels (C, 9), pointwise weights (4, C) and bias (4) nearest ``target``.

    ``target`` (4, C·9 + 1) is a 3×3 head's kernel and bias; "nearest" is the weighted
    squared error of the maps, ``(Θ - target) gram (Θ - target)ᵀ``. Alternating least
    squares, started from each input channel's best single kernel (the leading right singular
    vector of its four kernels: exact when the target is itself separable), until a round
    gains less than :data:`DEPTHWISE_TOLERANCE` of the error or :data:`DEPTHWISE_ROUNDS`.
    """
    taps = 9
    kernels = np.zeros((features, taps))
    for channel in range(features):
        block = target[:, channel * taps:(channel + 1) * taps]
        kernels[channel] = (np.linalg.svd(block)[2][0] if np.any(block)
                            else np.eye(taps)[taps // 2])
    window, ones = gram[:-1, :-1], gram[:-1, -1]

    def pointwise(kernels: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        lift = np.zeros((features + 1, gram.shape[0]))
        for channel in range(features):
            lift[channel, channel * taps:(channel + 1) * taps] = kernels[channel]
        lift[features, -1] = 1.0
        solution = _solve(lift @ gram @ lift.T, lift @ gram @ target.T)
        error = solution.T @ lift - target
        return solution[:features].T, solution[features], float(np.trace(error @ gram @ error.T))

    weights, bias, error = pointwise(kernels)
    for _ in range(DEPTHWISE_ROUNDS):
        normal = np.zeros_like(window)
        rhs = np.zeros(window.shape[0])
        for out in range(target.shape[0]):
            scale = np.repeat(weights[out], taps)
            normal += scale[:, None] * window * scale[None, :]
            rhs += scale * (window @ target[out, :-1] + ones * (target[out, -1] - bias[out]))
        kernels = _solve(normal, rhs).reshape(features, taps)
        # the factors' scale is shared: keep the kernels at unit norm, the weights take it
        kernels /= np.maximum(np.linalg.norm(kernels, axis=1, keepdims=True), 1e-12)
        weights, bias, last = pointwise(kernels)
        if error - last <= DEPTHWISE_TOLERANCE * error:
            break
        error = last
    return kernels, weights, bias


def refit_depthwise_head(model: nn.Module, inputs: Iterable[Tensor], *, blend: float = 1.0,
                         quality_power: float = 2.0, weight_floor: float = 0.01
                         ) -> tuple[KufeNet, HeadFit]:
    """Copy of ``model`` (a KufeNet, 3×3 head) with a depth-wise + 1×1 head fitted to it.

    The target is ``blend`` × the source head plus ``1 - blend`` × its 1×1 fit on the same
    pixels (:func:`refit_pointwise_head`'s solution): 1 fits the source's own maps, 0 the
    1×1 head's. Both heads are linear in the 3×3 windows of the last decoder feature, so the
    fit needs only their weighted Gram matrix. Returns the new model (eval mode,
    ``config['head_depthwise']``) and :class:`HeadFit`. Raises ValueError for a model without
    a plain 3×3 head, bad weights or no input.
    """
    source = _check_depthwise_source(model)
    if quality_power < 0 or weight_floor <= 0 or not 0.0 <= blend <= 1.0:
        raise ValueError(f'refit_depthwise_head: quality_power must be >= 0, weight_floor > 0 '
                         f'and blend in [0, 1], got {quality_power}, {weight_floor}, {blend}')
    was_training = source.training
    source.eval()
    try:
        gram, images, pixels = _window_gram(source, inputs, quality_power, weight_floor)
    finally:
        source.train(was_training)
    if not images:
        raise ValueError('refit_depthwise_head: no input images')
    head = cast(nn.Conv2d, source.head)
    features = head.in_channels
    if head.bias is None:
        raise ValueError('refit_depthwise_head: the source head has no bias')
    own = np.hstack([head.weight.detach().double().reshape(OUTPUT_CHANNELS, -1).numpy(),
                     head.bias.detach().double().numpy()[:, None]])
    centre = [channel * 9 + 4 for channel in range(features)] + [gram.shape[0] - 1]
    pointwise = np.zeros_like(own)
    pointwise[:, centre] = _solve(gram[np.ix_(centre, centre)], gram[centre] @ own.T).T
    target = blend * own + (1.0 - blend) * pointwise
    kernels, weights, bias = _depthwise_factors(gram, target, features)
    config = dict(source.config)
    config['head_depthwise'] = True
    refitted = KufeNet(**config)
    refitted.name = source.name
    refitted.load_state_dict({k: v for k, v in source.state_dict().items()
                              if not k.startswith('head.')}, strict=False)
    depthwise, mix = (cast(nn.Conv2d, layer) for layer in cast(nn.Sequential, refitted.head))
    if mix.bias is None:  # built with a bias; checked for the type checker
        raise RuntimeError('refit_depthwise_head: the new head has no bias')
    with torch.no_grad():
        depthwise.weight.copy_(torch.from_numpy(kernels.astype(np.float32)).view(
            features, 1, 3, 3))
        mix.weight.copy_(torch.from_numpy(weights.astype(np.float32))[:, :, None, None])
        mix.bias.copy_(torch.from_numpy(bias.astype(np.float32)))
    return refitted.eval(), HeadFit(images, pixels, float(quality_power), float(weight_floor),
                                    1, 'depthwise', float(blend))


def refit_weights_file(weights: str | Path, dataset: str, out: str | Path, *,
                       split: str | None = 'train', depth: str | None = None,
                       images: int = 80, seed: int = 0, quality_power: float = 2.0,
                       weight_floor: float = 0.01, output_stride: int = 1,
                       head: str = 'pointwise', blend: float = 1.0) -> HeadFit:
    """Fit a new head to a weights file's maps and write the result to ``out``.

    ``head`` 'pointwise' is :func:`refit_pointwise_head` (with ``output_stride``),
    'depthwise' :func:`refit_depthwise_head` (with ``blend``).

    The inputs are ``images`` items of ``dataset`` (``'FORMAT:PATH'``, ``PATH/<split>`` when
    ``split`` is given; ``depth`` picks the Jacquard-layout depth file) drawn with ``seed``
    and made as the weights' input spec says, without augmentation. The new file keeps the
    metadata of ``weights`` (input spec, training record) and adds the fit under
    ``extra['head_refit']`` (an earlier fit of the source is kept inside it). Raises
    ValueError / WeightsError / FileNotFoundError on bad input.
    """
    from kufenet_grasp.data.registry import open_dataset
    from kufenet_grasp.data.torch_dataset import GraspMapDataset
    from kufenet_grasp.models.weights import input_spec_of, load_weights, save_weights

    if images < 1:
        raise ValueError(f'refit: images must be >= 1, got {images}')
    if head not in HEAD_KINDS:
        raise ValueError(f"refit: head must be one of {', '.join(HEAD_KINDS)}, got {head!r}")
    if head == 'depthwise' and output_stride != 1:
        raise ValueError('refit: a depth-wise head is fitted at full resolution only '
                         '(output_stride 1)')
    model, meta = load_weights(weights)
    data = open_dataset(dataset, split=split, **({} if depth is None else {'depth': depth}))
    map_data = GraspMapDataset(data, None, input_size=int(meta.input_size or 224),
                               augment=False, input_spec=input_spec_of(meta))
    if not len(map_data):
        raise ValueError(f'refit: {dataset} (split {split}) has no image')
    order = np.random.default_rng(seed).permutation(len(map_data))[:images]
    inputs = (map_data[int(i)][0] for i in order)
    refitted, fit = (
        refit_depthwise_head(model, inputs, blend=blend, quality_power=quality_power,
                             weight_floor=weight_floor) if head == 'depthwise' else
        refit_pointwise_head(model, inputs, quality_power=quality_power,
                             weight_floor=weight_floor, output_stride=output_stride))
    extra = dict(meta.extra)
    record = {'source': Path(weights).name, 'dataset': dataset, 'split': split,
              'depth': depth, 'seed': seed, **fit.to_dict()}
    if 'head_refit' in extra:
        record['source_head_refit'] = json.loads(extra['head_refit'])
    extra['head_refit'] = json.dumps(record)
    save_weights(refitted, out, input_size=int(meta.input_size or 224),
                 trained_on=meta.trained_on, metrics=meta.metrics, extra=extra,
                 input_spec=meta.input_spec or None)
    return fit
