# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Replace a KufeNet's 3×3 output conv by a 1×1 conv fitted to the maps it drew.

The output conv runs at full resolution on the last decoder features and is the most costly
layer of the exported 80K (``kufenet bench --profile``). A 1×1 conv reading the same features
(or, with ``output_stride=2``, the half-resolution features before the last up-sampling
block, which is then left out; bilinear up-sampling commutes with a 1×1 conv) is fitted by
weighted linear least squares to the trained model's own four output maps (quality,
cos 2θ, sin 2θ, width), over every pixel of a set of inputs: no labels, no
gradient steps, and the rest of the network is kept as it is. Pixel weights
``clip(quality, 0, 1) ** quality_power + weight_floor`` spend the fit where the grasps are
read (the peaks of the quality map) rather than on the background.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
import json
from pathlib import Path

from kufenet_grasp.models.base import OUTPUT_CHANNELS
from kufenet_grasp.models.kufenet import KufeNet, OUTPUT_STRIDES, upsample_maps
import numpy as np
import torch
from torch import nn, Tensor

#: ridge added to the normal equations (relative to their mean diagonal): keeps the solve
#: defined when a feature channel is constant (a ReLU that never fires on the fit images)
RIDGE = 1e-9


@dataclass(frozen=True)
class HeadFit:
    """What the fit saw: ``images`` inputs, ``pixels`` rows of the least-squares problem."""

    images: int
    pixels: int
    quality_power: float
    weight_floor: float
    output_stride: int = 1

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
    features = source.head.in_channels if output_stride == 1 else int(source.config['decoder'][1])
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
    config['output_stride'] = int(output_stride)
    refitted = KufeNet(**config)
    refitted.name = source.name
    # load_state_dict copies the tensors: the refitted model shares nothing with the source
    dropped = ('head.',) if output_stride == 1 else ('head.', 'up3.')
    refitted.load_state_dict({k: v for k, v in source.state_dict().items()
                              if not k.startswith(dropped)}, strict=False)
    head = refitted.head
    if head.bias is None:  # built with a bias; checked for the type checker
        raise RuntimeError('refit_pointwise_head: the new head has no bias')
    with torch.no_grad():
        head.weight.copy_(
            torch.from_numpy(solution[:features].T.astype(np.float32))[:, :, None, None])
        head.bias.copy_(torch.from_numpy(solution[features].astype(np.float32)))
    return refitted.eval(), HeadFit(images, pixels, float(quality_power), float(weight_floor),
                                    int(output_stride))


def refit_weights_file(weights: str | Path, dataset: str, out: str | Path, *,
                       split: str | None = 'train', depth: str | None = None,
                       images: int = 80, seed: int = 0, quality_power: float = 2.0,
                       weight_floor: float = 0.01, output_stride: int = 1) -> HeadFit:
    """:func:`refit_pointwise_head` on a weights file; writes the result to ``out``.

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
    model, meta = load_weights(weights)
    data = open_dataset(dataset, split=split, **({} if depth is None else {'depth': depth}))
    map_data = GraspMapDataset(data, None, input_size=int(meta.input_size or 224),
                               augment=False, input_spec=input_spec_of(meta))
    if not len(map_data):
        raise ValueError(f'refit: {dataset} (split {split}) has no image')
    order = np.random.default_rng(seed).permutation(len(map_data))[:images]
    refitted, fit = refit_pointwise_head(
        model, (map_data[int(i)][0] for i in order), quality_power=quality_power,
        weight_floor=weight_floor, output_stride=output_stride)
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
