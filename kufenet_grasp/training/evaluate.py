# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Top-1 rectangle-metric evaluation of a grasp network on a labelled dataset.

Predictions and labels are compared in model-input pixels (the S×S crop the network sees).
A prediction is correct at threshold Δθ when its IoU with some label is > 0.25 and the angle
difference (mod π) is ≤ Δθ; ``accuracy`` is the fraction correct at 30°.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TYPE_CHECKING

from kufenet_grasp.grasp.rectangle import clamp_quality

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kufenet_grasp.grasp.rectangle import GraspRectangle
    import torch

#: angle thresholds of the report, degrees
THRESHOLDS_DEG: tuple[int, ...] = (30, 25, 20, 15, 10)


def _rect_dict(rect: GraspRectangle | None) -> dict[str, float] | None:
    """JSON form of a rectangle: centre px, angle rad, opening/jaw px, quality.

    ``quality`` is clamped to [0, 1] as the node's messages carry it; ``raw_quality`` is the
    map's value the ranking used.
    """
    if rect is None:
        return None
    return {'x': float(rect.center[0]), 'y': float(rect.center[1]), 'angle': float(rect.angle),
            'opening': float(rect.opening), 'jaw': float(rect.jaw),
            'quality': clamp_quality(rect.quality), 'raw_quality': float(rect.quality)}


def _first(pred: Any) -> GraspRectangle | None:
    """Return the top-1 rectangle of a prediction given as a rectangle, a ranked list or None."""
    if isinstance(pred, (list, tuple)):
        return pred[0] if pred else None
    return pred


def evaluate_predictions(
    predictions: Sequence[Any],
    truths: Sequence[Sequence[GraspRectangle]],
    names: Sequence[str] | None = None,
    thresholds_deg: Sequence[float] = THRESHOLDS_DEG,
) -> dict[str, Any]:
    """Score top-1 predictions against labels (both in the same pixel frame).

    Args:
        predictions: per image, the predicted rectangle, a ranked list (first is used), or
            None / [] for no prediction (counted wrong).
        truths: per image, the labelled rectangles.
        names: image names for the per-image results (default: the index as a string).
        thresholds_deg: angle thresholds Δθ in degrees; the first is the headline accuracy.

    Returns:
        ``{'accuracy', 'accuracy_by_angle' {"30": ...}, 'mean_iou', 'n_images',
        'per_image' [{'name', 'predicted', 'best_iou', 'angle_diff_deg', 'correct'}]}``;
        ``predicted`` and ``angle_diff_deg`` are None when there is no prediction.
    """
    from kufenet_grasp.grasp.metric import top1_accuracy

    if len(predictions) != len(truths):
        raise ValueError(f'evaluate_predictions: {len(predictions)} predictions but '
                         f'{len(truths)} label sets')
    if names is not None and len(names) != len(truths):
        raise ValueError(f'evaluate_predictions: {len(names)} names for {len(truths)} images')
    tops = [_first(p) for p in predictions]
    result = top1_accuracy(tops, list(truths), [float(t) for t in thresholds_deg])
    per_image = []
    for i, (top, item) in enumerate(zip(tops, result['per_image'])):
        per_image.append({
            'name': str(names[i]) if names is not None else str(i),
            'predicted': _rect_dict(top),
            'best_iou': float(item['best_iou']),
            'angle_diff_deg': float(item['angle_diff_deg']) if top is not None else None,
            'correct': bool(item['correct']),
        })
    by_angle = {str(k): float(v) for k, v in result['accuracy_by_angle'].items()}
    return {'accuracy': float(result['accuracy']), 'accuracy_by_angle': by_angle,
            'mean_iou': float(result['mean_iou']), 'n_images': len(truths),
            'per_image': per_image}


def _image_name(map_dataset: Any, item: int) -> str:
    """Name of item ``item`` of a GraspMapDataset (the reader's name if it has one)."""
    names = getattr(map_dataset.dataset, 'names', None)
    index = map_dataset.indices[item]
    return str(names[index]) if names is not None else str(index)


class MapModel(Protocol):
    """What evaluation needs of a model: an ``nn.Module`` or an :class:`ExportedModel`."""

    training: bool

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, S, S) maps for the (B, 4, S, S) input ``x``."""

    def eval(self) -> Any:  # noqa: A003 (nn.Module's name)
        """Switch to inference mode."""

    def train(self, mode: bool = True) -> Any:
        """Switch training mode to ``mode``."""

    def to(self, device: Any) -> Any:
        """Move to ``device``."""


def predict_and_score(
    model: MapModel,
    map_dataset: Any,
    batch_size: int = 8,
    device: str | torch.device = 'cpu',
    loss_kind: str = 'smooth_l1',
    max_batches: int | None = None,
    thresholds_deg: Sequence[float] = THRESHOLDS_DEG,
    plot_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Run ``model`` over a GraspMapDataset in order and score its top-1 grasps.

    Maps are post-processed with ``maps_to_grasps(top_k=1)``; labels come from
    ``map_dataset.ground_truth`` (model-input pixels). Returns the
    :func:`evaluate_predictions` report plus ``'loss'`` (mean task loss against the target
    maps). With ``plot_dir`` a PNG per image shows labels (green) and the prediction (red).
    """
    from kufenet_grasp.grasp.postprocess import maps_to_grasps
    from kufenet_grasp.training.losses import task_loss_per_sample
    import numpy as np
    import torch
    from torch.utils.data import DataLoader

    if len(map_dataset) == 0:
        raise ValueError('evaluate: the dataset to evaluate has no images')
    device = torch.device(device)
    loader = DataLoader(map_dataset, batch_size=batch_size, shuffle=False, num_workers=0)
    was_training = model.training
    model.eval()
    preds: list[list[GraspRectangle]] = []
    items: list[int] = []
    loss_sum = 0.0
    with torch.no_grad():
        for b, (x, y, index) in enumerate(loader):
            if max_batches is not None and b >= max_batches:
                break
            out = model(x.to(device))
            loss_sum += float(task_loss_per_sample(out, y.to(device), loss_kind).sum())
            for maps, i in zip(out.cpu().numpy(), index.tolist()):
                finite = bool(np.isfinite(maps).all())  # a diverged model predicts nothing
                preds.append(list(maps_to_grasps(maps, top_k=1)) if finite else [])
                items.append(int(i))
    model.train(was_training)
    truths = [map_dataset.ground_truth(i) for i in items]
    names = [_image_name(map_dataset, i) for i in items]
    report = evaluate_predictions(preds, truths, names, thresholds_deg)
    report['loss'] = loss_sum / len(items)
    if plot_dir is not None:
        plot_results(map_dataset, items, preds, truths, names, report['per_image'], plot_dir)
    return report


def plot_results(
    map_dataset: Any,
    items: Sequence[int],
    preds: Sequence[Sequence[GraspRectangle]],
    truths: Sequence[Sequence[GraspRectangle]],
    names: Sequence[str],
    per_image: Sequence[dict[str, Any]],
    plot_dir: str | Path,
) -> list[Path]:
    """Write ``plot_dir/<name>.png``: the model-input RGB crop with labels and prediction."""
    import cv2
    from kufenet_grasp.grasp.drawing import draw_grasps

    out_dir = Path(plot_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for item, pred, truth, name, res in zip(items, preds, truths, names, per_image):
        rgb = map_dataset.sample(item).rgb.copy()
        image = draw_grasps(rgb, list(truth), color=(0, 200, 0))
        image = draw_grasps(image, list(pred[:1]), color=(255, 0, 0))
        label = 'OK' if res['correct'] else 'X'
        cv2.putText(image, label, (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
        safe = ''.join(c if c.isalnum() or c in '-_.' else '_' for c in name)
        path = out_dir / f'{safe}.png'
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def evaluate_weights(
    weights: str | Path,
    dataset: str,
    split: str | None = None,
    input_size: int | None = None,
    batch_size: int = 8,
    device: str = 'cpu',
    plot_dir: str | Path | None = None,
    crop_px: int | None = None,
    depth: str | None = None,
    backend: str = 'auto',
    label_margin_m: float = 0.0,
    precision: str = 'f32',
    window_on_objects: bool | None = None,
) -> dict[str, Any]:
    """Evaluate a weights file on every image of ``dataset`` (``'FORMAT:PATH'``).

    ``weights`` may also be an exported ``.onnx`` / ``.xml`` file (float or int8), run by
    ``backend`` ('auto', 'onnxruntime' or 'openvino') one frame at a time, in ``precision``
    (``f32``; OpenVINO also ``bf16`` or ``f16``).

    ``split`` reads the sub-folder ``PATH/<split>`` instead. ``input_size`` defaults to the
    size stored in the weights metadata (else 224 px). ``crop_px`` evaluates on the central
    ``crop_px``-square window of each image (the literature's protocol) instead of the
    dataset's usual window. The input is made as the weights' input spec says. The report
    also has ``weights``, ``dataset``, ``split``, ``input_size``, ``crop_px`` and
    ``input_spec``. ``depth`` picks the Jacquard-layout depth file ('perfect', 'stereo').
    ``label_margin_m`` widens every label's opening (m, metric input only) as a training
    with ``--label-margin-m`` widened its targets: generated labels are the openings at
    contact, and weights trained with a margin draw the opening before closing, as human
    labels do. The report also has ``label_margin_m``. ``window_on_objects`` True / False
    overrides the input spec's ``on_objects`` (None: as the weights say).
    """
    from kufenet_grasp.data.registry import open_dataset
    from kufenet_grasp.data.torch_dataset import GraspMapDataset
    from kufenet_grasp.deploy.runtimes import is_exported_path
    from kufenet_grasp.grasp.model_input import InputSpec

    model: MapModel
    if is_exported_path(weights):
        from kufenet_grasp.deploy.model_metadata import (
            input_spec_dict,
            read_exported_metadata,
            read_model_metadata,
        )

        stored = read_exported_metadata(weights).get('input_size')
        size = int(input_size or stored or 224)
        spec = InputSpec.from_dict(input_spec_dict(read_model_metadata(weights)))
        model = ExportedModel(weights, backend, size, precision)
    else:
        if precision != 'f32':
            raise ValueError(f'precision {precision} needs an exported .onnx / .xml model '
                             f'(kufenet export), not {weights}')
        from kufenet_grasp.models.weights import input_spec_of, load_weights

        model, meta = load_weights(weights)
        spec = input_spec_of(meta)
        size = int(input_size or _meta_input_size(meta) or 224)
    data = open_dataset(dataset, split=split, **({} if depth is None else {'depth': depth}))
    if crop_px is not None and len(data):
        _check_crop_fits(int(crop_px), data[0].shape)
    model.to(device)
    crop: dict[str, Any] = {} if crop_px is None else {'crop': 'center', 'crop_side': int(crop_px)}
    map_data = GraspMapDataset(data, None, input_size=size, augment=False, input_spec=spec,
                               label_margin_m=label_margin_m,
                               window_on_objects=window_on_objects, **crop)
    report = predict_and_score(model, map_data, batch_size=batch_size, device=device,
                               plot_dir=plot_dir)
    report.update({'weights': str(weights), 'dataset': dataset, 'split': split,
                   'input_size': size, 'crop_px': crop_px, 'input_spec': spec.to_dict(),
                   'label_margin_m': label_margin_m})
    report['precision'] = precision
    report['window_on_objects'] = (spec.on_objects if window_on_objects is None
                                   else window_on_objects)
    if isinstance(model, ExportedModel):
        report['backend'] = model.backend.name
    return report


def _check_crop_fits(crop_px: int, shape: tuple[int, ...]) -> None:
    """Raise a one-line ValueError if the central ``crop_px`` square leaves the image.

    The literature's central window lies inside the image; a wider one was padded with the
    pixel-crop input (scored 0 %) and silently shrunk to the image with the metric window.
    """
    height, width = int(shape[0]), int(shape[1])
    if crop_px > min(height, width):
        raise ValueError(f'crop_px {crop_px} is wider than the images ({width}x{height} px): '
                         f'the central window must lie inside them (at most '
                         f'{min(height, width)})')


def _meta_input_size(meta: Any) -> int | None:
    """``input_size`` from weights metadata (dict or object), or None."""
    if isinstance(meta, dict):
        value = meta.get('input_size')
    else:
        value = getattr(meta, 'input_size', None)
    if isinstance(value, (list, tuple)):
        value = value[0]
    return int(value) if value else None


class ExportedModel:
    """An exported model behind the small part of the ``nn.Module`` API evaluation uses.

    Calling it with a (B, 4, S, S) tensor runs the backend on each frame and returns the
    (B, 4, S, S) maps as a tensor; ``eval``/``train``/``to`` do nothing (CPU only).
    """

    training = False

    def __init__(self, path: str | Path, backend: str, input_size: int,
                 precision: str = 'f32') -> None:
        from kufenet_grasp.deploy.runtimes import create_exported_backend

        self.backend = create_exported_backend(backend, path, input_size=input_size,
                                               threads=1, precision=precision)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        import numpy as np
        import torch

        frames = x.detach().cpu().numpy().astype(np.float32)
        maps = [self.backend.infer(np.ascontiguousarray(frame[None])) for frame in frames]
        return torch.from_numpy(np.concatenate(maps, axis=0))

    def eval(self) -> ExportedModel:  # noqa: A003 (the nn.Module method it stands in for)
        return self

    def train(self, mode: bool = True) -> ExportedModel:
        return self

    def to(self, device: Any) -> ExportedModel:
        return self
