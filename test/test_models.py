# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Model family: output sizes, parameter budgets, gradients, hint features, ablation switches."""

from kufenet_grasp.bench.model_latency import measure_latency_ms
from kufenet_grasp.models.base import GraspModel
from kufenet_grasp.models.blocks import (
    channel_shuffle,
    Conv3dAttention,
    DepthwiseConv,
    split_sizes,
)
from kufenet_grasp.models.flops import count_flops
from kufenet_grasp.models.kufenet import KufeNet
from kufenet_grasp.models.registry import build_model, count_parameters, MODEL_NAMES
import pytest
import torch

torch.set_num_threads(1)

ABLATIONS = [{'unequal': False}, {'channel_shuffle': False}, {'channel_attention': False},
             {'modality': 'rgb'}, {'modality': 'd'},
             {'unequal': False, 'channel_shuffle': False, 'channel_attention': False}]
# Input sides with the 2-adic factors of 224 (2**5 * 7) and 300 (2**2 * 75): every stride-2
# stage divides evenly for the first, the third halving of the second is odd (padding and
# resizing back). Smaller than 224/300 because the teacher's forward pass costs seconds there.
SIZES = [96, 100]


def _shape_ok(model: GraspModel, size: int) -> None:
    model.eval()
    with torch.inference_mode():
        out = model(torch.randn(1, 4, size, size))
    assert out.shape == (1, 4, size, size)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize('name', MODEL_NAMES)
@pytest.mark.parametrize('size', SIZES)
def test_every_model_output_matches_input_size(name, size):
    model = build_model(name)
    assert isinstance(model, GraspModel)
    _shape_ok(model, size)


@pytest.mark.parametrize('overrides', ABLATIONS)
@pytest.mark.parametrize('size', SIZES)
def test_kufenet_switches_keep_output_size(overrides, size):
    _shape_ok(build_model('kufenet-15k', **overrides), size)


@pytest.mark.parametrize('name,low,high', [
    ('kufenet-15k', 13_800, 16_800), ('kufenet-80k', 72_000, 88_000),
    ('kufenet-263k', 237_000, 289_000), ('teacher', 8_700_000 * 0.95, 8_700_000 * 1.05)])
def test_preset_parameter_budgets(name, low, high):
    assert low <= count_parameters(build_model(name)) <= high


def test_baseline_parameter_counts_are_exact():
    assert count_parameters(build_model('grconvnet')) == 1_900_900
    assert count_parameters(build_model('ggcnn')) == 62_420


@pytest.mark.parametrize('name', ['kufenet-15k', 'kufenet-80k'])
def test_equal_encoding_stays_near_preset(name):
    unequal = build_model(name)
    equal = build_model(name, unequal=False)
    assert abs(count_parameters(equal) / count_parameters(unequal) - 1) < 0.1
    assert count_parameters(unequal.d_branch) > count_parameters(unequal.rgb_branch)
    ratio = count_parameters(equal.d_branch) / count_parameters(equal.rgb_branch)
    assert ratio < count_parameters(unequal.d_branch) / count_parameters(unequal.rgb_branch)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = build_model('kufenet-15k').train()
    out = model(torch.randn(2, 4, 64, 64))
    (out ** 2).mean().backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not dead, f'no gradient reached {dead}'


@pytest.mark.parametrize('name', ['kufenet-15k', 'ggcnn', 'grconvnet'])
def test_forward_features_gives_three_decoder_maps(name):
    model = build_model(name).eval()
    x = torch.randn(2, 4, 96, 96)
    with torch.inference_mode():
        out, feats = model.forward_features(x)
        plain = model(x)
    assert len(feats) == 3
    assert all(f.dim() == 4 and f.shape[0] == 2 for f in feats)
    assert torch.equal(out, plain)
    sides = [f.shape[-1] for f in feats]
    assert sides == sorted(sides)  # decoder order: coarse to fine


def test_modality_ignores_unused_channels():
    x = torch.randn(1, 4, 64, 64)
    y = x.clone()
    y[:, 1:] = torch.randn(1, 3, 64, 64)
    depth_only = build_model('kufenet-15k', modality='d').eval()
    rgbd = build_model('kufenet-15k').eval()
    with torch.inference_mode():
        assert torch.equal(depth_only(x), depth_only(y))
        assert not torch.equal(rgbd(x), rgbd(y))
    z = x.clone()
    z[:, :1] = torch.randn(1, 1, 64, 64)
    rgb_only = build_model('kufenet-15k', modality='rgb').eval()
    with torch.inference_mode():
        assert torch.equal(rgb_only(x), rgb_only(z))


def test_config_rebuilds_same_architecture():
    model = build_model('kufenet-80k', channel_shuffle=False)
    rebuilt = KufeNet(**model.config)
    assert rebuilt.state_dict().keys() == model.state_dict().keys()
    assert count_parameters(rebuilt) == count_parameters(model)
    assert model.arch == 'kufenet' and model.modality == 'rgbd'


def test_channel_shuffle_switch_changes_function():
    torch.manual_seed(0)
    a = build_model('kufenet-15k').eval()
    b = build_model('kufenet-15k', channel_shuffle=False).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 4, 32, 32)
    with torch.inference_mode():
        assert not torch.allclose(a(x), b(x))


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match='kufenet-15k'):
        build_model('kufenet-1m')
    with pytest.raises(ValueError, match='modality'):
        build_model('kufenet-15k', modality='ir')
    with pytest.raises(ValueError, match='input must be'):
        build_model('ggcnn')(torch.randn(1, 3, 32, 32))


@pytest.mark.parametrize('kc', [1, 3, 5])
def test_attention_matches_direct_conv3d(kc):
    torch.manual_seed(kc)
    att = Conv3dAttention(kc)
    x = torch.randn(2, 7, 5, 6)
    assert torch.allclose(att(x), att.forward_reference(x), atol=1e-6)


@pytest.mark.parametrize('kernel', [3, 4, 5])
@pytest.mark.parametrize('stride', [1, 2])
def test_depthwise_conv_keeps_size(kernel, stride):
    out = DepthwiseConv(3, kernel, stride)(torch.randn(1, 3, 14, 14))
    assert out.shape == (1, 3, 14 // stride, 14 // stride)


def test_channel_shuffle_interleaves():
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    assert split_sizes(7, 3) == [3, 2, 2]
    with pytest.raises(ValueError):
        channel_shuffle(x, 4)


def test_flops_and_latency():
    small, large = build_model('kufenet-15k'), build_model('kufenet-80k')
    f64, f128 = count_flops(small, 64), count_flops(small, 128)
    assert 0 < f64 < f128 < count_flops(large, 128)
    lat = measure_latency_ms(small, 32, threads=1, warmup=1, repeats=3)
    assert 0 < lat['median'] <= lat['p95']
    with pytest.raises(ValueError):
        count_flops(small, 4)
