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
from kufenet_grasp.training.head_refit import refit_depthwise_head, refit_pointwise_head
from model_fixtures import randomise_batchnorm
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


def _separable_head_model(seed: int = 0) -> KufeNet:
    """Build a KufeNet-15K whose 3×3 head is a per-channel kernel times a 1×1 conv."""
    torch.manual_seed(seed)
    model = randomise_batchnorm(build_model('kufenet-15k'), seed)
    assert isinstance(model, KufeNet)
    with torch.no_grad():
        kernels = torch.randn(model.head.in_channels, 3, 3)
        model.head.weight.copy_(model.head.weight[:, :, 1:2, 1:2] * kernels[None])
    return model.eval()


def test_a_depthwise_head_recovers_a_separable_3x3_head_and_costs_a_fraction_of_it():
    model = _separable_head_model()
    refitted, fit = refit_depthwise_head(model, _inputs(3, seed=1), quality_power=0.0)
    assert (fit.head, fit.blend, fit.images) == ('depthwise', 1.0, 3)
    assert refitted.config['head_depthwise'] and refitted.config['head_kernel'] == 3
    depthwise, mix = refitted.head
    assert depthwise.groups == depthwise.in_channels == 8 and mix.kernel_size == (1, 1)
    with torch.inference_mode():
        for x in _inputs(2, seed=2):  # images the fit did not see
            torch.testing.assert_close(refitted(x[None]), model(x[None]), atol=1e-4, rtol=0)
    kept = {k: v for k, v in model.state_dict().items() if not k.startswith('head.')}
    for key, value in kept.items():
        assert torch.equal(refitted.state_dict()[key], value), key
    params = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in refitted.parameters()) == params - 8 * 4 * 9 + 8 * 9 + 8 * 4


def test_a_depthwise_head_blended_to_nothing_is_the_pointwise_fit_and_between_lies_between():
    torch.manual_seed(4)
    model = randomise_batchnorm(build_model('kufenet-15k'), seed=4)
    inputs = _inputs(3, seed=5)
    batch = torch.stack(inputs)

    def fit_error(head_model: torch.nn.Module) -> float:
        """Weighted squared error against the source's maps on the fit's own pixels."""
        with torch.inference_mode():
            target = model(batch)
            weight = target[:, :1].clamp(0, 1) ** 2 + 0.01
            return float((weight * (head_model(batch) - target) ** 2).sum())

    pointwise, _ = refit_pointwise_head(model, inputs)
    errors = [fit_error(refit_depthwise_head(model, inputs, blend=blend)[0])
              for blend in (0.0, 0.5, 1.0)]
    # features this model makes are nearly collinear, so the weights of two equally good
    # fits may differ: their errors may not
    assert errors[0] == pytest.approx(fit_error(pointwise), rel=1e-3)
    assert errors[0] > errors[1] > errors[2]  # nearer the 3×3 head's maps as blend grows


def test_a_depthwise_refit_refuses_what_it_cannot_fit():
    pointwise, _ = refit_pointwise_head(_centre_tap_model(), _inputs(1, seed=0))
    depthwise, _ = refit_depthwise_head(_separable_head_model(), _inputs(1, seed=0))
    half, _ = refit_pointwise_head(_centre_tap_model(), _inputs(1, seed=0), output_stride=2)
    for source in (pointwise, depthwise, half):
        with pytest.raises(ValueError, match='plain 3x3 head at full resolution'):
            refit_depthwise_head(source, _inputs(1, seed=0))
    with pytest.raises(ValueError, match='needs a KufeNet'):
        refit_depthwise_head(build_model('ggcnn'), _inputs(1, seed=0))
    with pytest.raises(ValueError, match='blend in'):
        refit_depthwise_head(_separable_head_model(), _inputs(1, seed=0), blend=1.5)
    with pytest.raises(ValueError, match='no input images'):
        refit_depthwise_head(_separable_head_model(), [])
    with pytest.raises(ValueError, match='head_depthwise needs head_kernel 3'):
        KufeNet(head_kernel=1, head_depthwise=True)
    # a depth-wise head is a full-resolution head that can still be fitted by a 1×1 conv
    again, _ = refit_pointwise_head(depthwise, _inputs(1, seed=0))
    assert not again.config['head_depthwise'] and again.head.kernel_size == (1, 1)


def test_cli_fits_a_depthwise_head_and_refuses_a_blend_it_cannot_use(tmp_path, capsys):
    write_jacquard_fixture(tmp_path / 'data', n_objects=2, size=64, split='train')
    source = tmp_path / 'model.safetensors'
    save_weights(_separable_head_model(), source, input_size=64)
    out = tmp_path / 'depthwise.safetensors'
    dataset = f'jacquard:{tmp_path / "data"}'
    assert main(['refit-head', str(source), '--dataset', dataset, '--images', '2',
                 '--head', 'depthwise', '--blend', '0.5', '--out', str(out)]) == 0
    assert 'depth-wise + 1x1 head (blend 0.5) fitted on 2 images' in capsys.readouterr().out
    refitted, meta = load_weights(out, verify_manifest=False)
    assert refitted.config['head_depthwise']
    record = json.loads(meta.extra['head_refit'])
    assert (record['head'], record['blend']) == ('depthwise', 0.5)
    assert main(['refit-head', str(source), '--dataset', dataset, '--blend', '0.5',
                 '--out', str(tmp_path / 'x.safetensors')]) == 2
    assert capsys.readouterr().err.strip() == (
        'kufenet refit-head: error: --blend applies to --head depthwise only')
    assert main(['refit-head', str(source), '--dataset', dataset, '--head', 'depthwise',
                 '--output-stride', '2', '--out', str(tmp_path / 'y.safetensors')]) == 2
    assert 'full resolution only' in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(['refit-head', str(source), '--dataset', dataset, '--head', 'depthwise',
              '--blend', '1.5', '--out', str(tmp_path / 'z.safetensors')])
    assert exit_info.value.code == 2 and 'must be in [0, 1]' in capsys.readouterr().err
