# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Tests of the task loss, attention maps, MMD and the conditional KD loss."""

import math

from kufenet_grasp.training.attention import attention_map, attention_vector, MAPPINGS
from kufenet_grasp.training.distillation import (
    fruit_loss,
    hint_loss,
    HINT_WEIGHTS,
    KufeLoss,
)
from kufenet_grasp.training.losses import HEADS, task_loss, task_loss_per_sample
from kufenet_grasp.training.mmd import mmd2
import pytest
import torch

torch.set_num_threads(1)


def _maps(seed: int, b: int = 4, s: int = 16) -> torch.Tensor:
    """Random (B, 4, S, S) maps."""
    return torch.randn(b, 4, s, s, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize('kind', ['smooth_l1', 'mse'])
def test_task_loss_parts_sum_and_per_sample_mean(kind):
    pred, target = _maps(0), _maps(1)
    total, parts = task_loss(pred, target, kind)
    assert set(parts) == set(HEADS)
    assert torch.isclose(total, sum(parts.values()))
    per = task_loss_per_sample(pred, target, kind)
    assert per.shape == (4,)
    assert torch.isclose(per.mean(), total, atol=1e-6)
    assert float(task_loss(target, target, kind)[0]) == 0.0


def test_task_loss_rejects_bad_shapes_and_kind():
    with pytest.raises(ValueError, match='pred'):
        task_loss(torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match='kind'):
        task_loss(_maps(0), _maps(1), 'l3')


@pytest.mark.parametrize('mapping', MAPPINGS)
def test_attention_shapes_and_normalisation(mapping):
    feats = torch.randn(3, 5, 8, 6)
    amap = attention_map(feats, mapping)
    assert amap.shape == (3, 8, 6)
    assert bool((amap >= 0).all())
    vec = attention_vector(feats, mapping)
    assert vec.shape == (3, 48)
    assert torch.allclose(vec.norm(dim=1), torch.ones(3), atol=1e-5)
    resized = attention_vector(feats, mapping, size=(16, 12))
    assert resized.shape == (3, 192)
    assert torch.allclose(resized.norm(dim=1), torch.ones(3), atol=1e-5)


def test_attention_mapping_values():
    feats = torch.tensor([[[[1.0]], [[-3.0]]]])  # (1, 2, 1, 1)
    assert float(attention_map(feats, 'mean')) == pytest.approx(2.0)
    assert float(attention_map(feats, 'max')) == pytest.approx(3.0)
    assert float(attention_map(feats, 'max2')) == pytest.approx(9.0)
    assert float(attention_map(feats, 'max4')) == pytest.approx(81.0)
    with pytest.raises(ValueError, match='mapping'):
        attention_map(feats, 'sum')


def test_softmax_hint_weights():
    assert HINT_WEIGHTS == pytest.approx((0.1863, 0.3072, 0.5065), abs=1e-4)
    assert sum(HINT_WEIGHTS) == pytest.approx(1.0)
    e = [math.exp(v) for v in (0.5, 1.0, 1.5)]
    assert HINT_WEIGHTS == pytest.approx(tuple(v / sum(e) for v in e))


@pytest.mark.parametrize('kernel', ['gaussian', 'poly'])
def test_mmd_identical_near_zero_and_different_positive(kernel):
    gen = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(32, 10, generator=gen), dim=1)
    assert float(mmd2(x, x.clone(), kernel)) == pytest.approx(0.0, abs=1e-6)
    shifted = torch.randn(32, 10, generator=gen)
    shifted[:, 0] += 4.0
    y = torch.nn.functional.normalize(shifted, dim=1)
    assert float(mmd2(x, y, kernel)) > 0.05
    x2 = torch.nn.functional.normalize(torch.randn(32, 10, generator=gen), dim=1)
    assert float(mmd2(x, x2, kernel)) < float(mmd2(x, y, kernel))


def test_mmd_rejects_bad_input():
    with pytest.raises(ValueError, match='feature sizes'):
        mmd2(torch.zeros(3, 4), torch.zeros(3, 5))
    with pytest.raises(ValueError, match='kernel'):
        mmd2(torch.zeros(3, 4), torch.zeros(3, 4), 'laplace')


def test_fruit_and_hint_zero_for_identical_and_grad_only_to_student():
    out = _maps(2)
    assert float(fruit_loss(out, out)) == 0.0
    feats = [torch.randn(4, c, s, s) for c, s in ((8, 16), (6, 8), (4, 8))]
    assert float(hint_loss(feats, [f.clone() for f in feats])) == pytest.approx(0.0, abs=1e-6)
    student = [torch.randn(4, 3, s // 2, s // 2, requires_grad=True) for s in (16, 8, 8)]
    teacher = [f.clone().requires_grad_(True) for f in feats]
    loss = hint_loss(student, teacher)
    assert float(loss.detach()) > 0
    loss.backward()
    assert all(t.grad is None for t in teacher)
    assert all(s.grad is not None for s in student)


def _kd_inputs(student_off: float, teacher_off: float):
    target = _maps(3)
    student = (target + student_off).requires_grad_(True)
    teacher = target + teacher_off
    s_feats = [torch.randn(4, 4, 8, 8, requires_grad=True) for _ in range(3)]
    t_feats = [torch.randn(4, 6, 8, 8) for _ in range(3)]
    return target, student, teacher, s_feats, t_feats


@pytest.mark.parametrize('granularity', ['batch', 'sample'])
def test_kufe_loss_inactive_when_student_better(granularity):
    target, student, teacher, s_feats, t_feats = _kd_inputs(0.1, 0.5)
    kd = KufeLoss(granularity=granularity)
    loss, parts = kd(target, student, teacher, s_feats, t_feats)
    assert parts['active'] == 0.0
    assert parts['hint'] == 0.0
    assert float(loss.detach()) == pytest.approx(parts['task'], rel=1e-6)
    assert parts['teacher_task'] > parts['task']


@pytest.mark.parametrize('strategy', ['fruit', 'hint', 'fruit+hint'])
def test_kufe_loss_active_when_student_worse(strategy):
    target, student, teacher, s_feats, t_feats = _kd_inputs(0.5, 0.1)
    kd = KufeLoss(strategy=strategy)
    loss, parts = kd(target, student, teacher, s_feats, t_feats)
    assert parts['active'] == 1.0
    assert float(loss.detach()) > parts['task']
    if 'fruit' in strategy:
        assert parts['fruit'] > 0
    if 'hint' in strategy:
        assert parts['hint'] > 0
        loss.backward()
        assert s_feats[2].grad is not None and float(s_feats[2].grad.abs().sum()) > 0


def test_kufe_loss_sample_granularity_partial():
    target = _maps(4)
    student = target.clone()
    student[:2] += 0.5  # first two images worse than the teacher
    teacher = target + 0.2
    s_feats = [torch.randn(4, 4, 8, 8) for _ in range(3)]
    t_feats = [torch.randn(4, 4, 8, 8) for _ in range(3)]
    _, parts = KufeLoss(granularity='sample')(target, student, teacher, s_feats, t_feats)
    assert parts['active'] == pytest.approx(0.5)


def test_kufe_loss_none_and_validation():
    target, student, *_ = _kd_inputs(0.3, 0.1)
    loss, parts = KufeLoss(strategy='none')(target, student)
    assert float(loss.detach()) == pytest.approx(parts['task'])
    with pytest.raises(ValueError, match='strategy'):
        KufeLoss(strategy='all')
    with pytest.raises(ValueError, match='teacher_out'):
        KufeLoss()(target, student)
