# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""A KufeNet's 3×3 output conv replaced by a 1×1 conv fitted to the maps it draws."""

from __future__ import annotations

import json

from dataset_fixtures import write_jacquard_fixture
from kufenet_grasp.cli.main import main
from kufenet_grasp.models.kufenet import KufeNet
from kufenet_grasp.models.registry import build_model
from kufenet_grasp.models.weights import load_weights, save_weights
from kufenet_grasp.training.head_refit import refit_pointwise_head
import pytest
import torch


def _centre_tap_model(seed: int = 0) -> KufeNet:
    """Build a KufeNet-15K whose 3×3 head reads the centre pixel only (a 1×1 head in disguise)."""
    torch.manual_seed(seed)
    model = build_model('kufenet-15k')
    assert isinstance(model, KufeNet)
    with torch.no_grad():
        centre = model.head.weight[:, :, 1, 1].clone()
        model.head.weight.zero_()
        model.head.weight[:, :, 1, 1] = centre
    return model.eval()


def _inputs(count: int, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.rand(4, 64, 64, generator=generator) - 0.5 for _ in range(count)]


def test_a_head_that_is_already_pointwise_is_recovered_exactly():
    model = _centre_tap_model()
    refitted, fit = refit_pointwise_head(model, _inputs(3, seed=1))
    assert fit.images == 3 and fit.pixels == 3 * 64 * 64
    assert refitted.config['head_kernel'] == 1 and refitted.head.kernel_size == (1, 1)
    with torch.inference_mode():
        for x in _inputs(2, seed=2):  # images the fit did not see
            torch.testing.assert_close(refitted(x[None]), model(x[None]), atol=1e-4, rtol=0)
    kept = {k: v for k, v in model.state_dict().items() if not k.startswith('head.')}
    for key, value in kept.items():
        assert torch.equal(refitted.state_dict()[key], value), key


def test_a_full_3x3_head_is_approximated_and_the_model_shrinks():
    torch.manual_seed(3)
    model = build_model('kufenet-15k').eval()
    refitted, _ = refit_pointwise_head(model, _inputs(4, seed=4), quality_power=0.0)
    x = _inputs(1, seed=5)[0][None]
    with torch.inference_mode():
        error = (refitted(x) - model(x)).abs().mean()
        spread = (model(x) - model(x).mean(dim=(2, 3), keepdim=True)).abs().mean()
    assert error < spread  # better than predicting each map's mean
    params = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in refitted.parameters()) == params - 8 * 4 * 8


def test_refit_refuses_what_it_cannot_fit():
    with pytest.raises(ValueError, match='needs a KufeNet'):
        refit_pointwise_head(build_model('ggcnn'), _inputs(1, seed=0))
    pointwise, _ = refit_pointwise_head(_centre_tap_model(), _inputs(1, seed=0))
    with pytest.raises(ValueError, match='already has a 1x1 head'):
        refit_pointwise_head(pointwise, _inputs(1, seed=0))
    with pytest.raises(ValueError, match='no input images'):
        refit_pointwise_head(_centre_tap_model(), [])
    with pytest.raises(ValueError, match='weight_floor'):
        refit_pointwise_head(_centre_tap_model(), _inputs(1, seed=0), weight_floor=0.0)
    with pytest.raises(ValueError, match='head_kernel'):
        KufeNet(head_kernel=5)


def test_weights_written_before_the_option_keep_their_3x3_head():
    model = build_model('kufenet-15k')
    config = dict(model.config)
    del config['head_kernel']  # as files written before the option stored it
    assert KufeNet(**config).head.kernel_size == (3, 3)


def test_cli_refits_a_weights_file_and_records_how(tmp_path, capsys):
    write_jacquard_fixture(tmp_path / 'data', n_objects=2, size=64, split='train')
    source = tmp_path / 'model.safetensors'
    save_weights(_centre_tap_model(), source, input_size=64)
    out = tmp_path / 'pointwise.safetensors'
    assert main(['refit-head', str(source), '--dataset', f'jacquard:{tmp_path / "data"}',
                 '--images', '3', '--out', str(out)]) == 0
    assert 'fitted on 3 images' in capsys.readouterr().out
    refitted, meta = load_weights(out)
    assert refitted.config['head_kernel'] == 1 and 'head_refit' in meta.extra
    assert '"images": 3' in meta.extra['head_refit']
    # again on its own output, and on a file that is not there: one line each, exit 2
    assert main(['refit-head', str(out), '--dataset', f'jacquard:{tmp_path / "data"}',
                 '--out', str(tmp_path / 'again.safetensors')]) == 2
    assert capsys.readouterr().err.strip().endswith('already has a 1x1 head')
    assert main(['refit-head', str(tmp_path / 'missing.safetensors'), '--dataset',
                 f'jacquard:{tmp_path / "data"}', '--out', str(tmp_path / 'x.safetensors')]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('kufenet refit-head: error:') and '\n' not in err


def test_a_half_resolution_head_leaves_the_last_block_out_and_keeps_the_rest():
    torch.manual_seed(6)
    model = build_model('kufenet-15k').eval()
    refitted, fit = refit_pointwise_head(model, _inputs(4, seed=7), output_stride=2)
    assert fit.output_stride == 2 and refitted.output_stride == 2 and refitted.up3 is None
    assert refitted.config['output_stride'] == 2 and refitted.head.in_channels == 12
    x = _inputs(1, seed=8)[0][None]
    with torch.inference_mode():
        maps = refitted(x)
        assert maps.shape == (1, 4, 64, 64)
        assert refitted.forward_native(x).shape == (1, 4, 32, 32)
        _, features = refitted.forward_features(x)  # no full-resolution feature is made
        assert [tuple(f.shape[-2:]) for f in features] == [(16, 16), (32, 32)]
        error = (maps - model(x)).abs().mean()
        spread = (model(x) - model(x).mean(dim=(2, 3), keepdim=True)).abs().mean()
    assert error < spread
    kept = {k: v for k, v in model.state_dict().items() if not k.startswith(('head.', 'up3.'))}
    assert set(kept) == set(refitted.state_dict()) - {'head.weight', 'head.bias'}
    for key, value in kept.items():
        assert torch.equal(refitted.state_dict()[key], value), key
    with pytest.raises(ValueError, match='already draws its maps at half resolution'):
        refit_pointwise_head(refitted, _inputs(1, seed=0), output_stride=2)
    with pytest.raises(ValueError, match='output_stride'):
        refit_pointwise_head(model, _inputs(1, seed=0), output_stride=4)
    with pytest.raises(ValueError, match='output_stride'):
        KufeNet(output_stride=3)


def test_a_pointwise_head_can_still_move_to_half_resolution_and_the_record_keeps_its_history(
        tmp_path, capsys):
    write_jacquard_fixture(tmp_path / 'data', n_objects=2, size=64, split='train')
    pointwise, _ = refit_pointwise_head(_centre_tap_model(), _inputs(2, seed=0))
    source = tmp_path / 'pointwise.safetensors'
    save_weights(pointwise, source, input_size=64,
                 extra={'head_refit': '{"images": 2}'})
    out = tmp_path / 'half.safetensors'
    assert main(['refit-head', str(source), '--dataset', f'jacquard:{tmp_path / "data"}',
                 '--images', '3', '--output-stride', '2', '--out', str(out)]) == 0
    assert 'head at half resolution fitted on 3 images' in capsys.readouterr().out
    half, meta = load_weights(out, verify_manifest=False)
    assert half.output_stride == 2
    record = json.loads(meta.extra['head_refit'])
    assert record['output_stride'] == 2 and record['source_head_refit'] == {'images': 2}
