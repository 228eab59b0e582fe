# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Knowledge distillation for KufeNet: fruit loss, AT-hint MMD loss, conditional regulariser.

``L = H(y, p_S)`` if ``H(y, p_S) <= H(y, p_T)``, else ``H(y, p_S) + α L_fruit + β L_hint``
(poster Fig. 5). All maps are ``(B, 4, S, S)`` model-pixel tensors; the teacher is frozen
and detached everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kufenet_grasp.training.attention import attention_vector, common_size, MAPPINGS
from kufenet_grasp.training.losses import check_maps, LOSS_KINDS, task_loss_per_sample
from kufenet_grasp.training.mmd import KERNELS, mmd2
import torch
import torch.nn.functional as F

#: KD strategies of the poster's Table V
STRATEGIES: tuple[str, ...] = ('none', 'fruit', 'hint', 'fruit+hint')
#: granularity of the "student worse than teacher" condition
GRANULARITIES: tuple[str, ...] = ('batch', 'sample')
#: hint types; only attention transfer ('at') is implemented
HINT_TYPES: tuple[str, ...] = ('at',)
#: softmax(0.5, 1, 1.5): weights of the three decoder hint layers (shallow to deep)
HINT_WEIGHTS: tuple[float, ...] = tuple(
    float(w) for w in torch.softmax(torch.tensor([0.5, 1.0, 1.5], dtype=torch.float64), 0)
)


def fruit_loss_per_sample(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Per-sample fruit loss ``(B,)``: sum over the 4 heads of the pixel-mean squared error."""
    check_maps('fruit loss student', student)
    check_maps('fruit loss teacher', teacher)
    if student.shape != teacher.shape:
        raise ValueError(
            f'fruit loss: student output {tuple(student.shape)} and teacher output '
            f'{tuple(teacher.shape)} differ; both models need the same input size'
        )
    return F.mse_loss(student, teacher.detach(), reduction='none').mean(dim=(2, 3)).sum(dim=1)


def fruit_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Fruit loss L2(p_T, p_S): batch mean of :func:`fruit_loss_per_sample` (teacher detached)."""
    return fruit_loss_per_sample(student, teacher).mean()


def hint_loss(
    student_feats: Sequence[torch.Tensor],
    teacher_feats: Sequence[torch.Tensor],
    mapping: str = 'max2',
    kernel: str = 'gaussian',
    weights: Sequence[float] = HINT_WEIGHTS,
) -> torch.Tensor:
    """AT-hint loss ``Σ_l λ_l MMD²(F(T_l), F(S_l))`` over the decoder layers.

    Each layer's maps are compared at the larger of the two resolutions (bilinear resize);
    the MMD samples are the per-image attention vectors of the batch (see ``mmd.py``).
    """
    if len(student_feats) != len(teacher_feats) or len(student_feats) != len(weights):
        raise ValueError(
            f'hint loss: got {len(student_feats)} student layers, {len(teacher_feats)} teacher '
            f'layers and {len(weights)} weights; they must be equal'
        )
    total = student_feats[0].new_zeros(())
    for s, t, w in zip(student_feats, teacher_feats, weights):
        if s.shape[0] != t.shape[0]:
            raise ValueError(f'hint loss: batch sizes differ ({s.shape[0]} vs {t.shape[0]})')
        size = common_size(s, t)
        vs = attention_vector(s, mapping, size)
        vt = attention_vector(t.detach(), mapping, size)
        total = total + float(w) * mmd2(vt, vs, kernel)
    return total


@dataclass
class KufeLoss:
    """The conditional KD objective L_kafe.

    Attributes:
        strategy: one of :data:`STRATEGIES`; ``'none'`` is the plain task loss.
        alpha: weight of the fruit loss.
        beta: weight of the hint loss (MMD² with the averaged Gaussian kernel is in [0, 2]).
        mapping: attention mapping, see :data:`~kufenet_grasp.training.attention.MAPPINGS`.
        kernel: MMD kernel, ``'gaussian'`` or ``'poly'``.
        granularity: ``'batch'`` compares the batch-mean task losses; ``'sample'`` decides per
            image, masks the fruit loss per image and computes the hint MMD on the active
            images only, scaled by their fraction.
        hint_type: ``'at'`` (attention transfer).
        task_kind: element-wise task loss, ``'smooth_l1'`` or ``'mse'``.
    """

    strategy: str = 'fruit+hint'
    alpha: float = 1.0
    beta: float = 1.0
    mapping: str = 'max2'
    kernel: str = 'gaussian'
    granularity: str = 'batch'
    hint_type: str = 'at'
    task_kind: str = 'smooth_l1'

    def __post_init__(self) -> None:
        """Validate the options."""
        for name, value, valid in (
            ('strategy', self.strategy, STRATEGIES), ('mapping', self.mapping, MAPPINGS),
            ('kernel', self.kernel, KERNELS), ('granularity', self.granularity, GRANULARITIES),
            ('hint_type', self.hint_type, HINT_TYPES), ('task_kind', self.task_kind, LOSS_KINDS),
        ):
            if value not in valid:
                raise ValueError(f'KufeLoss: {name} must be one of {valid}, got {value!r}')
        if self.alpha < 0 or self.beta < 0:
            raise ValueError(f'KufeLoss: alpha and beta must be >= 0, got {self.alpha}, '
                             f'{self.beta}')

    @property
    def uses_fruit(self) -> bool:
        """Whether the fruit term is part of the strategy."""
        return 'fruit' in self.strategy

    @property
    def uses_hint(self) -> bool:
        """Whether the hint term is part of the strategy."""
        return 'hint' in self.strategy

    @property
    def needs_teacher(self) -> bool:
        """Whether the loss needs the teacher's outputs."""
        return self.strategy != 'none'

    def __call__(
        self,
        target: torch.Tensor,
        student_out: torch.Tensor,
        teacher_out: torch.Tensor | None = None,
        student_feats: Sequence[torch.Tensor] | None = None,
        teacher_feats: Sequence[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Compute the loss and its components.

        Returns:
            ``(loss, parts)``; parts has float ``task``, ``teacher_task``, ``fruit``,
            ``hint`` (raw, before α/β and before the condition) and ``active`` (fraction of
            the batch where the regulariser is on).
        """
        task_s = task_loss_per_sample(student_out, target, self.task_kind)
        loss = task_s.mean()
        parts = {'task': float(loss.detach()), 'teacher_task': float('nan'),
                 'fruit': 0.0, 'hint': 0.0, 'active': 0.0}
        if not self.needs_teacher:
            return loss, parts
        if teacher_out is None:
            raise ValueError(f'KufeLoss: strategy {self.strategy!r} needs teacher_out')
        if self.uses_hint and (student_feats is None or teacher_feats is None):
            raise ValueError(f'KufeLoss: strategy {self.strategy!r} needs student_feats and '
                             'teacher_feats')
        with torch.no_grad():
            task_t = task_loss_per_sample(teacher_out.detach(), target, self.task_kind)
        parts['teacher_task'] = float(task_t.mean())
        if self.granularity == 'batch':
            mask = (task_s.detach().mean() > task_t.mean()).expand_as(task_s)
        else:
            mask = task_s.detach() > task_t
        active = mask.to(task_s.dtype)
        parts['active'] = float(active.mean())
        if self.uses_fruit:
            fruit = fruit_loss_per_sample(student_out, teacher_out)
            parts['fruit'] = float(fruit.detach().mean())
            loss = loss + self.alpha * (fruit * active).mean()
        # (the features are there when uses_hint: checked above)
        if (self.uses_hint and student_feats is not None and teacher_feats is not None
                and bool(mask.any())):
            idx = mask.nonzero(as_tuple=True)[0]
            hint = hint_loss([f[idx] for f in student_feats], [f[idx] for f in teacher_feats],
                             self.mapping, self.kernel)
            parts['hint'] = float(hint.detach())
            loss = loss + self.beta * active.mean() * hint
        return loss, parts
