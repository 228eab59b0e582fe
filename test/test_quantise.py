# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""int8 post-training quantisation: calibration frames, QDQ layers, metadata, CLI and eval."""

from __future__ import annotations

import argparse
import json

from dataset_fixtures import write_jacquard_fixture
from kufenet_grasp.cli import evaluate as eval_cli
from kufenet_grasp.cli import export as export_cli
from kufenet_grasp.deploy.export import export_onnx
from kufenet_grasp.deploy.model_metadata import read_exported_metadata, read_model_metadata
from kufenet_grasp.deploy.quantise import agreement, calibration_frames, quantise_onnx
from kufenet_grasp.deploy.runtimes import create_exported_backend
from kufenet_grasp.deploy.source import resolve_source
from kufenet_grasp.models.registry import build_model
from kufenet_grasp.models.weights import save_weights
import numpy as np
import onnx
import pytest
import torch

#: int8 quantisation and ONNX export runs, seconds each: make test-fast leaves them out
pytestmark = pytest.mark.slow

SIZE = 64


@pytest.fixture(scope='module')
def setup(tmp_path_factory) -> dict:
    """Write a tiny Jacquard dataset, kufenet-15k weights and their float ONNX export."""
    root = tmp_path_factory.mktemp('quant')
    write_jacquard_fixture(root / 'data', n_objects=3, size=SIZE, split='train', seed=4)
    torch.manual_seed(0)
    weights = root / 'k15.safetensors'
    save_weights(build_model('kufenet-15k'), weights, input_size=SIZE)
    onnx_path = export_onnx(resolve_source(weights), root / 'k15.onnx', input_size=SIZE)
    frames = calibration_frames(f"jacquard:{root / 'data'}", split='train', count=4,
                                input_size=SIZE)
    return {'root': root, 'weights': weights, 'onnx': onnx_path, 'frames': frames}


def test_calibration_frames_are_normalised_network_inputs(setup) -> None:
    frames = setup['frames']
    assert len(frames) == 4
    for frame in frames:
        assert frame.shape == (1, 4, SIZE, SIZE) and frame.dtype == np.float32
        assert np.all(np.abs(frame[0, 0]) <= 1.0)  # depth clipped to [-1, 1]
    with pytest.raises(ValueError, match='at least one frame'):
        calibration_frames(f"jacquard:{setup['root'] / 'data'}", split='train', count=0)


def _quantised_convs(path) -> tuple[set[str], set[str]]:
    """Names of Conv nodes whose weight is dequantised (int8) and of those left in float."""
    graph = onnx.load(str(path)).graph
    dequantised = {out for node in graph.node if node.op_type == 'DequantizeLinear'
                   for out in node.output}
    int8, fp32 = set(), set()
    for node in graph.node:
        if node.op_type == 'Conv':
            (int8 if node.input[1] in dequantised else fp32).add(node.name)
    return int8, fp32


def test_dense_policy_quantises_channel_mixing_convs_only(setup) -> None:
    out = quantise_onnx(setup['onnx'], setup['root'] / 'dense_int8.onnx', setup['frames'])
    int8, fp32 = _quantised_convs(out)
    assert any('/pw/' in name for name in int8)  # point-wise convs are int8
    assert all('/dw.' not in name for name in int8)  # depth-wise convs stay float
    assert any('/head/' in name for name in fp32)
    every = quantise_onnx(setup['onnx'], setup['root'] / 'all_int8.onnx', setup['frames'],
                          policy='all-conv')
    assert not _quantised_convs(every)[1]
    with pytest.raises(ValueError, match='quantisation policy'):
        quantise_onnx(setup['onnx'], setup['root'] / 'x.onnx', setup['frames'], policy='x')


def test_int8_model_keeps_metadata_and_stays_close_to_float(setup) -> None:
    out = quantise_onnx(setup['onnx'], setup['root'] / 'meta_int8.onnx', setup['frames'],
                        calibration={'dataset': 'fixture'})
    meta = read_exported_metadata(out)
    assert meta['precision'] == 'int8' and meta['input_size'] == str(SIZE)
    assert json.loads(meta['quantisation'])['frames'] == 4
    assert read_model_metadata(out) == read_model_metadata(setup['weights'])
    for backend in ('onnxruntime', 'openvino'):
        fp32 = create_exported_backend(backend, setup['onnx'], threads=1)
        int8 = create_exported_backend(backend, out, threads=1)
        report = agreement(fp32.infer, int8.infer, setup['frames'])
        assert 0 < report['quality_mean_abs_diff'] < 0.05, (backend, report)


def _export_args(**overrides) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    export_cli.add_arguments(parser)
    args = parser.parse_args([str(overrides.pop('source'))])
    for key, value in overrides.items():
        setattr(args, key, value)
    return args


# end to end through both commands: float and int8 exports, two OpenVINO conversions and an
# evaluation; the tests above cover quantise_onnx, its metadata and the CLI's argument checks
def test_cli_int8_export_writes_onnx_and_ir_and_eval_reads_them(setup, capsys) -> None:
    out = setup['root'] / 'cli' / 'k15.xml'
    args = _export_args(source=setup['weights'], format='openvino', out=out, size=SIZE,
                        int8=True, calib=f"jacquard:{setup['root'] / 'data'}",
                        calib_frames=3, no_verify=True)
    assert export_cli.run(args) == 0
    for name in ('k15.onnx', 'k15.xml', 'k15_int8.onnx', 'k15_int8.xml', 'k15_int8.bin'):
        assert (out.parent / name).is_file(), name
    assert 'openvino int8 against float' in capsys.readouterr().out
    parser = argparse.ArgumentParser()
    eval_cli.add_arguments(parser)
    eval_args = parser.parse_args([str(out.parent / 'k15_int8.xml'), '--dataset',
                                   f"jacquard:{setup['root'] / 'data'}", '--json'])
    assert eval_cli.run(eval_args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report['n_images'] == 6 and report['backend'] == 'openvino'
    assert report['input_size'] == SIZE


def test_cli_int8_without_calibration_is_a_usage_error(setup, capsys) -> None:
    args = _export_args(source=setup['weights'], out=setup['root'] / 'n.onnx', int8=True)
    assert export_cli.run(args) == 2
    assert '--int8 needs --calib' in capsys.readouterr().err


def test_eval_runs_an_export_in_bfloat16_and_refuses_it_for_weights(setup, capsys) -> None:
    parser = argparse.ArgumentParser()
    eval_cli.add_arguments(parser)
    data = f"jacquard:{setup['root'] / 'data'}"
    args = parser.parse_args([str(setup['onnx']), '--dataset', data, '--backend', 'openvino',
                              '--precision', 'bf16', '--json'])
    assert eval_cli.run(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report['n_images'] == 6
    assert (report['backend'], report['precision']) == ('openvino', 'bf16')
    args = parser.parse_args([str(setup['weights']), '--dataset', data, '--precision', 'bf16'])
    assert eval_cli.run(args) == 2
    assert 'precision bf16 needs an exported .onnx / .xml model' in capsys.readouterr().err
