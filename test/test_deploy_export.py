# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""BatchNorm folding and ONNX / OpenVINO export parity with PyTorch."""

from __future__ import annotations

import json

from kufenet_grasp.deploy.export import (
    build_metadata,
    export_onnx,
    export_openvino,
    max_abs_difference,
    read_onnx_metadata,
    to_onnx_bytes,
)
from kufenet_grasp.deploy.fuse import find_foldable, fold_batchnorm
from kufenet_grasp.deploy.source import resolve_source, SourceError
from model_fixtures import randomise_batchnorm
import numpy as np
import pytest
import torch
from torch import nn

torch.set_num_threads(1)
SIZE = 64


class _Toy(nn.Module):
    """Every BatchNorm pattern the folding pass must handle.

    Conv+BN, depthwise conv+BN, cat of convs+BN, depthwise ConvTranspose+BN in a
    Sequential, and a conv output shared by a BN and a residual.
    """

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.ca, self.cb = nn.Conv2d(8, 3, 3, padding=1), nn.Conv2d(8, 5, 1, bias=False)
        self.bcat = nn.BatchNorm2d(8)
        self.dw, self.b2 = nn.Conv2d(8, 8, 3, 2, 1, groups=8, bias=False), nn.BatchNorm2d(8)
        self.up = nn.Sequential(nn.ConvTranspose2d(8, 8, 4, 2, 1, groups=8), nn.BatchNorm2d(8),
                                nn.ReLU())
        self.skip, self.b3 = nn.Conv2d(8, 8, 1), nn.BatchNorm2d(8)
        self.head = nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.b1(self.c1(x)))
        y = torch.relu(self.bcat(torch.cat([self.ca(y), self.cb(y)], dim=1)))
        y = self.up(torch.relu(self.b2(self.dw(y))))
        s = self.skip(y)
        return self.head(self.b3(s) + s)  # skip's output has two users: must not be folded


def _preset(name: str) -> nn.Module:
    from kufenet_grasp.models.registry import build_model

    torch.manual_seed(0)
    return randomise_batchnorm(build_model(name))


def test_fold_batchnorm_matches_and_removes_foldable_bns() -> None:
    model = randomise_batchnorm(_Toy())
    folded = fold_batchnorm(model)
    x = torch.randn(2, 4, 32, 32)
    with torch.no_grad():
        assert torch.allclose(folded(x), model(x), atol=1e-5, rtol=1e-5)
    assert isinstance(folded.b1, nn.Identity) and isinstance(folded.b2, nn.Identity)
    assert isinstance(folded.up[1], nn.Identity) and isinstance(folded.bcat, nn.Identity)
    assert isinstance(folded.b3, nn.BatchNorm2d)  # conv output shared with the residual
    assert isinstance(model.b1, nn.BatchNorm2d)  # the input model is left untouched


def test_fold_batchnorm_falls_back_to_sequential_pairs_when_untraceable() -> None:
    class Untraceable(nn.Module):

        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x) if x.sum() > -1e9 else x  # data-dependent: fx cannot trace

    model = randomise_batchnorm(Untraceable())
    assert find_foldable(model) == [(('body.0',), 'body.1')]
    x = torch.randn(1, 4, 16, 16)
    with torch.no_grad():
        assert torch.allclose(fold_batchnorm(model)(x), model(x), atol=1e-5)


def test_fold_batchnorm_rejects_non_module() -> None:
    with pytest.raises(TypeError, match='nn.Module'):
        fold_batchnorm('kufenet-15k')  # type: ignore[arg-type]


@pytest.mark.parametrize('name', ['kufenet-15k', 'ggcnn', 'grconvnet'])
def test_fold_batchnorm_on_registry_models(name: str) -> None:
    model = _preset(name)
    x = torch.randn(1, 4, SIZE, SIZE)
    with torch.no_grad():
        diff = (fold_batchnorm(model)(x) - model(x)).abs().max().item()
    assert diff <= 1e-5


@pytest.mark.slow
@pytest.mark.parametrize('name', ['kufenet-15k', 'ggcnn'])
def test_onnx_export_matches_pytorch(name: str, tmp_path) -> None:
    import onnxruntime as ort

    resolved = resolve_source(_preset(name))
    path = export_onnx(resolved, tmp_path / f'{name}.onnx', input_size=SIZE)
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    assert max_abs_difference(resolved.model, lambda x: session.run(None, {'input': x})[0],
                              SIZE) <= 1e-4
    props = read_onnx_metadata(path)
    assert props['input_size'] == str(SIZE)
    assert props['channel_order'] == 'depth,R,G,B'
    assert float(props['width_scale_px']) == 150.0


@pytest.mark.slow
def test_onnx_metadata_carries_weights_metadata_and_sha256(tmp_path) -> None:
    from kufenet_grasp.models.weights import save_weights, sha256_file

    weights = tmp_path / 'k15.safetensors'
    save_weights(_preset('kufenet-15k'), weights, input_size=SIZE,
                 trained_on={'dataset': 'cornell'}, metrics={'iw_accuracy': 0.5}, extra={})
    with pytest.warns(UserWarning, match='SHA256SUMS'):  # no manifest beside a temp file
        resolved = resolve_source(str(weights))
    props = read_onnx_metadata(export_onnx(resolved, tmp_path / 'k15.onnx', input_size=SIZE))
    assert props['source_sha256'] == sha256_file(weights)
    assert props['arch'] == 'kufenet' and props['model_name'] == 'kufenet-15k'
    assert 'cornell' in props['trained_on']
    assert props == {**build_metadata(resolved, SIZE), 'rewrites': ''}
    carried = json.loads(props['weights_metadata'])  # the whole safetensors metadata
    assert carried['format'] == 'kufenet-weights/1' and 'cornell' in carried['trained_on']
    assert int(props['params']) == sum(p.numel() for p in resolved.model.parameters())


@pytest.mark.slow
def test_dynamic_batch_export_runs_batch_of_two() -> None:
    import onnxruntime as ort

    model = _preset('kufenet-15k')
    session = ort.InferenceSession(to_onnx_bytes(model, SIZE, dynamic_batch=True),
                                   providers=['CPUExecutionProvider'])
    assert max_abs_difference(model, lambda x: session.run(None, {'input': x})[0], SIZE,
                              batch=2) <= 1e-4


@pytest.mark.slow
def test_openvino_export_matches_pytorch(tmp_path) -> None:
    import openvino as ov

    resolved = resolve_source(_preset('kufenet-15k'))
    onnx_path = export_onnx(resolved, tmp_path / 'k.onnx', input_size=SIZE)
    xml = export_openvino(onnx_path, tmp_path / 'k.xml')
    assert xml.with_suffix('.bin').is_file()
    core = ov.Core()
    model = core.read_model(str(xml))
    assert model.get_rt_info(['kufenet', 'input_size']).astype(str) == str(SIZE)
    compiled = core.compile_model(model, 'CPU', {'INFERENCE_PRECISION_HINT': 'f32'})
    assert max_abs_difference(resolved.model, lambda x: compiled([x])[0], SIZE) <= 1e-4


@pytest.mark.slow
def test_cli_export_openvino_writes_and_verifies(tmp_path, capsys) -> None:
    from kufenet_grasp.cli.main import main

    out = tmp_path / 'ggcnn.xml'
    code = main(['export', 'ggcnn', '--format', 'openvino', '--size', str(SIZE),
                 '--out', str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert out.is_file() and out.with_suffix('.onnx').is_file()
    assert 'onnxruntime: max' in text and 'openvino: max' in text and 'MISMATCH' not in text


def test_bad_sources_and_arguments_raise_clear_errors(tmp_path) -> None:
    with pytest.raises(SourceError, match='no-such-model'):
        resolve_source('no-such-model')
    other = tmp_path / 'weights.pt'
    other.write_bytes(b'x')
    with pytest.raises(SourceError, match='safetensors'):
        resolve_source(str(other))
    with pytest.raises(SourceError, match='no such weights file'):
        resolve_source(str(tmp_path / 'missing.safetensors'))
    with pytest.raises(ValueError, match='input_size'):
        to_onnx_bytes(_Toy(), 3)
    with pytest.raises(ValueError, match='opset'):
        to_onnx_bytes(_Toy(), SIZE, opset=7)
    with pytest.raises(ValueError, match='.xml'):
        export_openvino(tmp_path / 'a.onnx', tmp_path / 'a.bin')


def test_max_abs_difference_detects_a_wrong_model() -> None:
    model = randomise_batchnorm(_Toy())
    assert max_abs_difference(model, lambda x: np.zeros((1, 4, SIZE, SIZE), np.float32),
                              SIZE) > 1e-4


@pytest.mark.slow
def test_split_bias_keeps_the_outputs_of_depthwise_transposed_convolutions() -> None:
    from kufenet_grasp.deploy.upsample_rewrite import split_bias, split_transposed_biases

    torch.manual_seed(0)
    deconv = nn.ConvTranspose2d(6, 6, 4, 2, 1, groups=6, bias=True)
    x = torch.randn(2, 6, 13, 17)
    with torch.no_grad():
        assert (split_bias(deconv)(x) - deconv(x)).abs().max().item() <= 1e-6
    assert deconv.bias is not None  # the original is untouched
    with pytest.raises(ValueError, match='depth-wise'):
        split_bias(nn.ConvTranspose2d(6, 12, 4, 2, 1))  # not depth-wise: left alone
    model = fold_batchnorm(_preset('kufenet-80k').eval())  # folding gives the biases
    rewritten, count = split_transposed_biases(model)
    assert count == 3 and all(m.bias is None for m in rewritten.modules()
                              if isinstance(m, nn.ConvTranspose2d))
    x = torch.randn(1, 4, SIZE, SIZE)
    with torch.no_grad():
        assert (rewritten(x) - model(x)).abs().max().item() <= 1e-5


@pytest.mark.slow
def test_split_bias_is_an_export_option_used_for_openvino_only() -> None:
    from kufenet_grasp.deploy.export import to_onnx_bytes
    import onnx

    model = _preset('kufenet-15k')

    def transposed_with_bias(data: bytes) -> int:
        graph = onnx.load_from_string(data).graph
        return sum(node.op_type == 'ConvTranspose' and len(node.input) == 3
                   for node in graph.node)

    assert transposed_with_bias(to_onnx_bytes(model, SIZE)) == 3
    assert transposed_with_bias(to_onnx_bytes(model, SIZE, split_bias=True)) == 0


@pytest.mark.parametrize('preset', ['kufenet-15k', 'kufenet-80k'])
def test_mix_and_dense_fusion_rewrites_keep_the_outputs(preset) -> None:
    from kufenet_grasp.deploy.fuse import fold_batchnorm
    from kufenet_grasp.deploy.mix_rewrite import (
        dense_fusion_without_shuffle,
        fuse_mixed_depthwise,
        fuse_split_blocks,
        FusedMixBlock,
        pad_head_to_simd,
    )
    from kufenet_grasp.models.blocks import MixCopyBlock, MixSplitBlock
    from kufenet_grasp.models.registry import build_model

    torch.manual_seed(7)
    model = build_model(preset)
    for layer in model.modules():  # non-trivial BatchNorm statistics, as after training
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.5, 0.5)
            layer.running_var.uniform_(0.5, 2.0)
            layer.weight.data.uniform_(0.5, 1.5)
            layer.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    folded = fold_batchnorm(model)
    mixed, fused = fuse_mixed_depthwise(folded)
    assert fused == 4
    assert not any(isinstance(m, (MixSplitBlock, MixCopyBlock)) for m in mixed.modules())
    assert sum(isinstance(m, FusedMixBlock) for m in mixed.modules()) == 4
    dense, changed = dense_fusion_without_shuffle(mixed)
    assert changed and not dense.use_shuffle and dense.fuse[0].groups == 1
    x = torch.randn(2, 4, 64, 64)
    with torch.no_grad():
        expected = model(x)
        torch.testing.assert_close(mixed(x), expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(dense(x), expected, atol=1e-5, rtol=1e-5)
    split_only, fused = fuse_split_blocks(folded)
    assert fused == 2 and sum(isinstance(m, MixCopyBlock) for m in split_only.modules()) == 2
    assert not any(isinstance(m, MixSplitBlock) for m in split_only.modules())
    with torch.no_grad():
        torch.testing.assert_close(split_only(x), expected, atol=1e-5, rtol=1e-5)
    again, changed = dense_fusion_without_shuffle(dense)
    assert again is dense and not changed  # nothing left to rewrite
    padded, changed = pad_head_to_simd(dense)
    assert changed and padded.head.conv.out_channels == 8
    with torch.no_grad():
        torch.testing.assert_close(padded(x), expected, atol=1e-5, rtol=1e-5)
    assert pad_head_to_simd(padded) == (padded, False)


@pytest.mark.slow
def test_export_rewrites_are_recorded_and_unknown_names_refused(tmp_path) -> None:
    from kufenet_grasp.deploy.model_metadata import read_exported_metadata

    resolved = resolve_source('kufenet-15k')
    path = export_onnx(resolved, tmp_path / 'r.onnx', input_size=64,
                       rewrites=['mix', 'dense-fusion'])
    assert read_exported_metadata(path)['rewrites'] == 'mix,dense-fusion'
    with pytest.raises(ValueError, match="unknown rewrite 'nope'"):
        export_onnx(resolved, tmp_path / 'bad.onnx', input_size=64, rewrites=['nope'])
    from kufenet_grasp.cli.main import main
    from kufenet_grasp.deploy.export import DEFAULT_REWRITES

    for flags, expected in (([], ','.join(DEFAULT_REWRITES)), (['--rewrite', 'none'], '')):
        out = tmp_path / f'cli{len(flags)}.onnx'
        assert main(['export', 'kufenet-15k', '--size', '64', '--out', str(out), *flags]) == 0
        assert read_exported_metadata(out)['rewrites'] == expected


@pytest.mark.slow
def test_a_half_resolution_head_exports_its_own_maps_and_the_runtimes_upsample_them(
        tmp_path) -> None:
    from kufenet_grasp.deploy.runtimes import OnnxRuntimeBackend, OpenVinoBackend
    from kufenet_grasp.models.registry import build_model
    import onnxruntime as ort

    torch.manual_seed(0)
    model = randomise_batchnorm(build_model('kufenet-15k', head_kernel=1, output_stride=2))
    resolved = resolve_source(model)
    onnx_path = export_onnx(resolved, tmp_path / 'half.onnx', input_size=SIZE)
    assert read_onnx_metadata(onnx_path)['output_stride'] == '2'
    session = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    x = np.zeros((1, 4, SIZE, SIZE), np.float32)
    assert session.run(None, {'input': x})[0].shape == (1, 4, SIZE // 2, SIZE // 2)
    xml = export_openvino(onnx_path, tmp_path / 'half.xml')
    for backend in (OnnxRuntimeBackend(onnx_path, SIZE, 1), OpenVinoBackend(xml, SIZE, 1)):
        assert max_abs_difference(model, backend.infer, SIZE) <= 1e-4, backend.name


@pytest.mark.slow
def test_a_depthwise_head_exports_with_the_default_rewrites_and_keeps_its_maps(
        tmp_path) -> None:
    from kufenet_grasp.deploy.export import DEFAULT_REWRITES
    from kufenet_grasp.deploy.runtimes import OnnxRuntimeBackend, OpenVinoBackend
    from kufenet_grasp.models.registry import build_model

    torch.manual_seed(1)
    model = randomise_batchnorm(build_model('kufenet-15k', head_depthwise=True))
    onnx_path = export_onnx(resolve_source(model), tmp_path / 'dw.onnx', input_size=SIZE,
                            rewrites=DEFAULT_REWRITES)
    xml = export_openvino(onnx_path, tmp_path / 'dw.xml')
    for backend in (OnnxRuntimeBackend(onnx_path, SIZE, 1), OpenVinoBackend(xml, SIZE, 1)):
        assert max_abs_difference(model, backend.infer, SIZE) <= 1e-4, backend.name


def test_half_resolution_maps_are_upsampled_as_pytorch_does_and_wrong_shapes_refused() -> None:
    from kufenet_grasp.deploy.runtimes import maps_at_input_size
    from kufenet_grasp.models.kufenet import upsample_maps

    maps = np.random.default_rng(3).normal(size=(2, 4, 16, 16)).astype(np.float32)
    expected = upsample_maps(torch.from_numpy(maps)).numpy()
    np.testing.assert_allclose(maps_at_input_size(maps, 32), expected, atol=1e-6)
    full = np.zeros((1, 4, 32, 32), np.float32)
    assert maps_at_input_size(full, 32) is full
    with pytest.raises(ValueError, match=r'drew maps of shape \(1, 4, 10, 10\) for 32 px'):
        maps_at_input_size(np.zeros((1, 4, 10, 10), np.float32), 32)
