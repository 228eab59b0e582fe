# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The training loop: Adam + cosine schedule, optional KD teacher, per-epoch validation.

A run folder holds ``last.pt`` (resume state; plain tensors and dicts, loaded with
``torch.load(weights_only=True)``), ``best.safetensors`` (best VALIDATION top-1 accuracy,
written by :func:`kufenet_grasp.models.weights.save_weights`), ``log.csv``, ``config.json``
and ``tb/`` (TensorBoard). Determinism: every epoch re-seeds torch/numpy/random from
``seed + epoch`` and draws its batches from a generator seeded the same way, so ``resume``
continues exactly as an uninterrupted run. Test data is never read.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
import json
import math
import os
from pathlib import Path
import random
import time
from typing import Any

from kufenet_grasp.data.registry import open_dataset
from kufenet_grasp.data.splits import split_indices
from kufenet_grasp.data.torch_dataset import GraspMapDataset
from kufenet_grasp.models.registry import build_model
from kufenet_grasp.models.weights import load_weights, save_weights, write_manifest
from kufenet_grasp.training.config import ConfigError, TrainConfig
from kufenet_grasp.training.distillation import KufeLoss
from kufenet_grasp.training.evaluate import predict_and_score
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

#: columns of ``log.csv``
LOG_COLUMNS: tuple[str, ...] = (
    'epoch', 'loss', 'task', 'teacher_task', 'fruit', 'hint', 'active', 'val_loss',
    'val_accuracy', 'val_iou', 'lr', 'images_per_s', 'wall_s',
)
#: options that may differ between the original run and ``--resume``
RESUME_MUTABLE: frozenset[str] = frozenset(
    {'epochs', 'device', 'workers', 'threads', 'progress', 'tensorboard', 'out'})


class TrainError(RuntimeError):
    """Training cannot start or resume; the message says why."""


@dataclass
class TrainResult:
    """Summary of a finished run: best validation accuracy (fraction) and its epoch (1-based)."""

    run_dir: Path
    best_accuracy: float
    best_epoch: int
    epochs_run: int
    history: list[dict[str, float]] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) RNGs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def enable_determinism() -> None:
    """Ask torch for deterministic kernels where they exist (warn, not fail, elsewhere)."""
    os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def worker_init(worker_id: int) -> None:
    """Seed numpy and random in a DataLoader worker from torch's per-worker seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def freeze_norm_statistics(model: torch.nn.Module) -> None:
    """Put every BatchNorm layer of ``model`` in eval mode: running statistics stay as loaded.

    Training mode normalises by each batch's statistics and moves the running ones towards
    them, so a fine-tuned network meets at evaluation statistics other than those its loaded
    weights were chosen with (the model card measures what that costs the shipped ones).
    Scale and shift still receive gradients.
    """
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()


def lr_at(config: TrainConfig, epoch: int) -> float:
    """Learning rate of 0-based ``epoch``: cosine from ``lr`` to ``lr * lr_final_factor``."""
    if config.epochs <= 1:
        return config.lr
    t = min(epoch, config.epochs - 1) / (config.epochs - 1)
    final = config.lr_final_factor
    return config.lr * (final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * t)))


def resolve_device(name: str) -> torch.device:
    """``'cpu'`` or ``'cuda[:N]'`` as a torch device; raise ConfigError if CUDA is missing."""
    if name.startswith('cuda') and not torch.cuda.is_available():
        raise ConfigError(f'train config: device {name!r} requested but CUDA is not available')
    return torch.device(name)


def split_sources(config: TrainConfig) -> tuple[Any, list[int], Any, list[int], dict[str, Any]]:
    """Open the train and validation data: ``(train_ds, train_idx, val_ds, val_idx, info)``.

    ``info`` describes the split for the weights metadata. The test part is never returned.
    """
    if config.train_split is not None:
        train_ds = open_dataset(config.dataset, split=config.train_split,
                                **config.reader_options())
        val_ds = open_dataset(config.dataset, split=config.val_split, **config.reader_options())
        info: dict[str, Any] = {'train_split': config.train_split,
                                'val_split': config.val_split}
        return train_ds, list(range(len(train_ds))), val_ds, list(range(len(val_ds))), info
    dataset = open_dataset(config.dataset, **config.reader_options())
    parts = split_indices(dataset, config.split_mode, config.fractions, config.seed)
    if 'val' not in parts:
        raise ConfigError('train config: fractions must have 3 values (train, val, test)')
    if not parts['train'] or not parts['val']:
        raise TrainError(f'dataset {config.dataset!r}: {len(dataset)} images give an empty '
                         f'train or val split with fractions {config.fractions}')
    info = {'split_mode': config.split_mode, 'fractions': list(config.fractions),
            'split_seed': config.seed, 'n_train': len(parts['train']),
            'n_val': len(parts['val'])}
    return dataset, parts['train'], dataset, parts['val'], info


class _TorchDataset(Dataset):
    """A GraspMapDataset (which does not import torch) as the ``Dataset`` DataLoader takes."""

    def __init__(self, data: GraspMapDataset) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        return self.data[index]


class Trainer:
    """Owns the model, optimiser, data and run folder of one training run."""

    def __init__(self, config: TrainConfig) -> None:
        """Build data, model, teacher and optimiser from ``config`` (nothing is trained yet)."""
        self.config = config
        self.run_dir = Path(config.out)
        self.device = resolve_device(config.device)
        if config.threads:
            torch.set_num_threads(int(config.threads))
        enable_determinism()
        seed_everything(config.seed)
        train_src, train_idx, val_src, val_idx, self.split_info = split_sources(config)
        spec = config.input_spec()
        self.train_data = GraspMapDataset(train_src, train_idx, input_size=config.input_size,
                                          augment=config.augment, seed=config.seed,
                                          augment_options={'zoom_range': config.zoom_range},
                                          input_spec=spec, label_margin_m=config.label_margin_m,
                                          window_shift=config.window_shift,
                                          colour_jitter=config.colour_jitter,
                                          coarse_depth=config.coarse_depth)
        self.val_data = GraspMapDataset(val_src, val_idx, input_size=config.input_size,
                                        augment=False, seed=config.seed, input_spec=spec,
                                        label_margin_m=config.label_margin_m)
        self.model = build_model(config.model, **config.model_overrides).to(self.device)
        if config.init:
            init_model, _ = load_weights(config.init)
            self.model.load_state_dict(init_model.state_dict())
        self.teacher = None
        if config.kd != 'none':
            if not config.teacher:  # TrainConfig checks this too
                raise ConfigError(f'train config: kd={config.kd!r} needs a teacher weights file')
            self.teacher, _ = load_weights(config.teacher)
            self.teacher.to(self.device).eval()
            for p in self.teacher.parameters():
                p.requires_grad_(False)
        self.loss_fn = KufeLoss(strategy=config.kd, alpha=config.alpha, beta=config.beta,
                                mapping=config.mapping, kernel=config.kernel,
                                granularity=config.granularity, task_kind=config.loss)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr,
                                          weight_decay=config.weight_decay)
        self.epoch = 0
        self.best_accuracy = -1.0
        self.best_epoch = 0
        self.history: list[dict[str, float]] = []
        self._writer: Any = None

    # ---------------------------------------------------------------- checkpoints
    @property
    def last_path(self) -> Path:
        """The resume checkpoint ``RUN_DIR/last.pt``."""
        return self.run_dir / 'last.pt'

    def save_checkpoint(self) -> None:
        """Write ``last.pt`` atomically (tmp file + rename)."""
        state = {'epoch': self.epoch, 'model': self.model.state_dict(),
                 'optimizer': self.optimizer.state_dict(), 'config': self.config.to_dict(),
                 'best_accuracy': self.best_accuracy, 'best_epoch': self.best_epoch,
                 'history': self.history}
        tmp = self.last_path.with_suffix('.pt.tmp')
        torch.save(state, tmp)
        os.replace(tmp, self.last_path)

    def load_checkpoint(self) -> None:
        """Restore from ``last.pt``; raise TrainError if missing or from another config."""
        if not self.last_path.is_file():
            raise TrainError(f'--resume: {self.last_path} not found')
        state = torch.load(self.last_path, map_location=self.device, weights_only=True)
        saved = TrainConfig.from_dict(state['config']).to_dict()
        mine = self.config.to_dict()
        diff = sorted(k for k in mine if k not in RESUME_MUTABLE and mine[k] != saved[k])
        if diff:
            raise TrainError(f'--resume: {self.last_path} was written with different options '
                             f'{diff}; start a new run folder instead')
        self.model.load_state_dict(state['model'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.epoch = int(state['epoch'])
        self.best_accuracy = float(state['best_accuracy'])
        self.best_epoch = int(state['best_epoch'])
        self.history = [dict(h) for h in state['history']]

    def save_best(self, metrics: dict[str, float]) -> None:
        """Write ``best.safetensors`` with training provenance and validation metrics."""
        trained_on = {'dataset': self.config.dataset, 'seed': self.config.seed,
                      'epochs': self.epoch, **self.split_info}
        extra = {'kd': self.config.kd, 'teacher': self.config.teacher or '',
                 'config': json.dumps(self.config.to_dict(), sort_keys=True)}
        save_weights(self.model, self.run_dir / 'best.safetensors',
                     input_size=self.config.input_size, trained_on=trained_on,
                     metrics=metrics, extra=extra,
                     input_spec=None if self.config.input_spec().is_legacy
                     else self.config.input_spec().to_dict())
        write_manifest(self.run_dir)

    # ---------------------------------------------------------------- logging
    def _write_log(self) -> None:
        """Rewrite ``log.csv`` from the history (so a resumed run has no duplicate rows)."""
        with open(self.run_dir / 'log.csv', 'w', newline='') as handle:
            writer = csv.DictWriter(handle, fieldnames=LOG_COLUMNS)
            writer.writeheader()
            for row in self.history:
                writer.writerow({k: row.get(k, '') for k in LOG_COLUMNS})

    def _tensorboard(self, row: dict[str, float]) -> None:
        """Log one epoch's scalars to ``RUN_DIR/tb``."""
        if not self.config.tensorboard:
            return
        if self._writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise TrainError("TensorBoard logging needs the 'tensorboard' package; "
                                 'install it or disable TensorBoard logging') from exc
            self._writer = SummaryWriter(log_dir=str(self.run_dir / 'tb'))
        for key, value in row.items():
            if key != 'epoch' and isinstance(value, float) and math.isfinite(value):
                self._writer.add_scalar(key, value, int(row['epoch']))
        self._writer.flush()

    # ---------------------------------------------------------------- epochs
    def _loader(self, epoch: int) -> DataLoader:
        """Training batches of ``epoch``: a fixed number, drawn by an epoch-seeded generator."""
        cfg = self.config
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        sampler = RandomSampler(self.train_data, replacement=False,
                                num_samples=cfg.batches_per_epoch * cfg.batch_size,
                                generator=gen)
        return DataLoader(_TorchDataset(self.train_data), batch_size=cfg.batch_size,
                          sampler=sampler, num_workers=cfg.workers, worker_init_fn=worker_init,
                          generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch + 1),
                          pin_memory=self.device.type == 'cuda', drop_last=False)

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One epoch of optimisation; returns mean loss components and images/s."""
        from tqdm import tqdm

        cfg = self.config
        seed_everything(cfg.seed * 1000 + epoch)
        if hasattr(self.train_data, 'set_epoch'):
            self.train_data.set_epoch(epoch)
        lr = lr_at(cfg, epoch)
        for group in self.optimizer.param_groups:
            group['lr'] = lr
        self.model.train()
        if cfg.freeze_norm:
            freeze_norm_statistics(self.model)
        sums: dict[str, float] = {}
        n_batches, n_images, start = 0, 0, time.perf_counter()
        bar = tqdm(self._loader(epoch), total=cfg.batches_per_epoch, disable=not cfg.progress,
                   desc=f'epoch {epoch + 1}/{cfg.epochs}', leave=False)
        for x, y, _ in bar:
            x, y = x.to(self.device), y.to(self.device)
            loss, parts = self._step(x, y)
            n_batches += 1
            n_images += int(x.shape[0])
            parts['loss'] = float(loss)
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            rate = n_images / max(time.perf_counter() - start, 1e-9)
            bar.set_postfix(loss=f"{parts['loss']:.4f}", img_s=f'{rate:.1f}')
        means = {k: v / max(n_batches, 1) for k, v in sums.items()}
        means['images_per_s'] = n_images / max(time.perf_counter() - start, 1e-9)
        means['lr'] = lr
        return means

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """One optimiser step on a batch; returns the loss and its components."""
        needs_feats = self.loss_fn.uses_hint
        if needs_feats:
            out, feats = self.model.forward_features(x)
        else:
            out, feats = self.model(x), None
        t_out, t_feats = None, None
        if self.teacher is not None:
            with torch.no_grad():
                if needs_feats:
                    t_out, t_feats = self.teacher.forward_features(x)
                else:
                    t_out = self.teacher(x)
        loss, parts = self.loss_fn(y, out, t_out, feats, t_feats)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach(), parts

    def validate(self) -> dict[str, float]:
        """Top-1 rectangle-metric accuracy (30°), mean IoU and task loss on the val split."""
        report = predict_and_score(self.model, self.val_data, batch_size=self.config.batch_size,
                                   device=self.device, loss_kind=self.config.loss,
                                   max_batches=self.config.val_batches)
        return {'val_loss': report['loss'], 'val_accuracy': report['accuracy'],
                'val_iou': report['mean_iou']}

    def run(self, resume: bool = False) -> TrainResult:
        """Train until ``config.epochs``; checkpoint each epoch; return the summary."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            self.load_checkpoint()
        elif self.last_path.exists():
            raise TrainError(f'{self.run_dir} already holds a run (last.pt); pass --resume to '
                             'continue it or choose another --out')
        (self.run_dir / 'config.json').write_text(
            json.dumps(self.config.to_dict(), indent=2, sort_keys=True))
        wall0 = time.perf_counter() - (self.history[-1]['wall_s'] if self.history else 0.0)
        try:
            while self.epoch < self.config.epochs:
                train_stats = self.train_epoch(self.epoch)
                val_stats = self.validate()
                self.epoch += 1
                row = {'epoch': float(self.epoch), **train_stats, **val_stats,
                       'wall_s': time.perf_counter() - wall0}
                self.history.append(row)
                if val_stats['val_accuracy'] > self.best_accuracy:
                    self.best_accuracy = val_stats['val_accuracy']
                    self.best_epoch = self.epoch
                    self.save_best({'val_accuracy': val_stats['val_accuracy'],
                                    'val_iou': val_stats['val_iou'],
                                    'val_loss': val_stats['val_loss'],
                                    'epoch': float(self.epoch)})
                self.save_checkpoint()
                self._write_log()
                self._tensorboard(row)
        finally:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        return TrainResult(self.run_dir, self.best_accuracy, self.best_epoch, self.epoch,
                           list(self.history))


def train(config: TrainConfig, resume: bool = False) -> TrainResult:
    """Build a :class:`Trainer` from ``config`` and run it."""
    return Trainer(config).run(resume=resume)
