# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Benchmark helpers, the ``kufenet bench`` JSON output, memory probes and the profiler."""

from __future__ import annotations

import json

from kufenet_grasp.bench import memory
from kufenet_grasp.bench.inference import (
    add_ratios,
    BenchConfig,
    BenchResult,
    split_backend_spec,
    split_model_spec,
    summarise,
    time_interleaved,
)
import numpy as np
import pytest
import torch

torch.set_num_threads(1)


def test_summarise_agrees_with_numpy() -> None:
    times = list(np.random.default_rng(0).uniform(1, 10, 37))
    stats = summarise(times)
    assert stats['median_ms'] == pytest.approx(np.median(times))
    assert stats['p95_ms'] == pytest.approx(np.percentile(times, 95))
    assert stats['fps'] == pytest.approx(1000 / np.median(times))
    assert stats['min_ms'] <= stats['median_ms'] <= stats['p95_ms']
    with pytest.raises(ValueError, match='empty'):
        summarise([])


def test_time_interleaved_runs_round_robin_blocks() -> None:
    calls: list[str] = []
    configs = [BenchConfig(m, 'torch', 64, 1) for m in ('a', 'b')]
    runners = {c: (lambda m=c.model: calls.append(m)) for c in configs}
    times = time_interleaved(runners, repeats=7, warmup=2, block=3)
    assert [len(times[c]) for c in configs] == [7, 7]
    timed = calls[4:]  # after 2 warm-up calls each
    assert timed == list('aaabbbaaabbbab')
    assert all(t >= 0 for c in configs for t in times[c])


def test_add_ratios_uses_same_backend_size_and_threads() -> None:
    rows = [BenchResult('kufenet-80k', 'onnxruntime', 224, 1, median_ms=2.0),
            BenchResult('grconvnet', 'onnxruntime', 224, 1, median_ms=20.0),
            BenchResult('ggcnn', 'onnxruntime', 224, 1, median_ms=3.0),
            BenchResult('grconvnet', 'torch', 224, 1, median_ms=99.0)]
    add_ratios(rows)
    assert rows[0].speedup_vs == {'grconvnet': pytest.approx(10.0),
                                  'ggcnn': pytest.approx(1.5)}
    assert 'grconvnet' not in rows[1].speedup_vs
    assert rows[3].speedup_vs == {}


def test_memory_probes_track_an_allocation() -> None:
    memory.reset_peak()
    before = memory.rss_mib()
    block = np.ones(32 * 1024 * 1024 // 8)  # 32 MiB, touched
    assert memory.peak_rss_mib() - before > 16
    assert block.sum() > 0


@pytest.mark.slow
def test_cli_bench_json_has_expected_keys(capsys) -> None:
    from kufenet_grasp.cli.main import main

    code = main(['bench', '--models', 'kufenet-15k', '--backends', 'torch,onnxruntime',
                 '--sizes', '64', '--threads', '1', '--repeats', '3', '--warmup', '1',
                 '--json'])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {'machine', 'settings', 'results'} <= set(report)
    assert [(r['model'], r['backend']) for r in report['results']] == \
        [('kufenet-15k', 'torch'), ('kufenet-15k', 'onnxruntime')]
    for row in report['results']:
        assert row['error'] is None and row['repeats'] == 3
        for key in ('median_ms', 'p95_ms', 'fps', 'peak_mem_delta_mib', 'params', 'flops',
                    'speedup_vs', 'size', 'threads'):
            assert key in row
        assert 0 < row['median_ms'] <= row['p95_ms']
        assert row['params'] > 0


@pytest.mark.slow
def test_model_specs_name_trained_weights_under_a_label(tmp_path, capsys) -> None:
    from kufenet_grasp.cli.main import main
    from kufenet_grasp.models.registry import build_model
    from kufenet_grasp.models.weights import save_weights

    assert split_model_spec('ggcnn') == ('ggcnn', 'ggcnn')
    assert split_model_spec('kufenet-80k=models/a.safetensors') == \
        ('kufenet-80k', 'models/a.safetensors')
    with pytest.raises(ValueError, match='NAME=WEIGHTS_FILE'):
        split_model_spec('kufenet-80k=')
    path = tmp_path / 'trained.safetensors'
    save_weights(build_model('kufenet-15k'), path)
    code = main(['bench', '--models', f'kufenet-15k={path},other=/missing.safetensors',
                 '--backends', 'onnxruntime', '--sizes', '64', '--threads', '1',
                 '--repeats', '2', '--warmup', '0', '--json'])
    rows = json.loads(capsys.readouterr().out)['results']
    assert code == 1  # a configuration failed (the missing file), the others still ran
    assert rows[0]['weights'] == str(path) and rows[0]['params'] > 0
    assert rows[0]['error'] is None and rows[0]['repeats'] == 2
    assert rows[1]['error'] and 'missing' in rows[1]['error']
    code = main(['bench', '--models', 'other=/missing.safetensors', '--backends', 'onnxruntime',
                 '--sizes', '64', '--threads', '1', '--repeats', '2', '--warmup', '0'])
    lines = capsys.readouterr().out.splitlines()
    failed = [line for line in lines if line.startswith('failed: other on onnxruntime')]
    assert code == 1 and len(failed) == 1  # the whole message on one line below the table
    assert failed[0].endswith('/missing.safetensors: no such weights file')
    assert main(['bench', '--models', f'kufenet-15k,kufenet-15k={path}', '--sizes', '64',
                 '--repeats', '1', '--warmup', '0']) == 2
    assert 'twice' in capsys.readouterr().err


def test_cli_bench_rejects_unknown_backend(capsys) -> None:
    from kufenet_grasp.cli.main import main

    code = main(['bench', '--models', 'kufenet-15k', '--backends', 'tensorrt', '--sizes', '64',
                 '--threads', '1', '--repeats', '1', '--warmup', '0'])
    assert code == 2
    assert "unknown backend 'tensorrt'" in capsys.readouterr().err


def test_backend_specs_name_a_precision() -> None:
    assert split_backend_spec('openvino') == ('openvino', 'f32')
    assert split_backend_spec('openvino:bf16') == ('openvino', 'bf16')
    with pytest.raises(ValueError, match='precision f16 needs the openvino backend'):
        split_backend_spec('torch:f16')
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'"):
        split_backend_spec('tensorrt:bf16')


def test_cli_bench_rejects_a_precision_the_backend_lacks(capsys) -> None:
    from kufenet_grasp.cli.main import main

    code = main(['bench', '--models', 'kufenet-15k', '--backends', 'onnxruntime:bf16',
                 '--sizes', '64', '--threads', '1', '--repeats', '1', '--warmup', '0'])
    assert code == 2
    assert 'precision bf16 needs the openvino backend' in capsys.readouterr().err


@pytest.mark.slow
def test_bench_times_openvino_in_bfloat16_beside_float32(capsys) -> None:
    from kufenet_grasp.cli.main import main

    code = main(['bench', '--models', 'kufenet-15k,ggcnn', '--backends',
                 'openvino,openvino:bf16', '--sizes', '64', '--threads', '1', '--repeats', '2',
                 '--warmup', '0', '--json'])
    rows = json.loads(capsys.readouterr().out)['results']
    assert code == 0
    assert [(r['model'], r['backend']) for r in rows] == [
        ('kufenet-15k', 'openvino'), ('kufenet-15k', 'openvino:bf16'),
        ('ggcnn', 'openvino'), ('ggcnn', 'openvino:bf16')]
    assert all(r['error'] is None and r['median_ms'] > 0 for r in rows)
    # each precision is compared with GG-CNN in the same precision
    for kufenet, ggcnn in zip(rows[:2], rows[2:]):
        assert kufenet['speedup_vs']['ggcnn'] == pytest.approx(
            ggcnn['median_ms'] / kufenet['median_ms'])


def test_profile_ranks_convolutions() -> None:
    from kufenet_grasp.bench.profile import format_profile, profile_model

    rows = profile_model('kufenet-15k', input_size=64, threads=1, runs=2, warmup=1, top=50)
    assert rows and rows == sorted(rows, key=lambda r: r.self_cpu_ms, reverse=True)
    assert sum(r.share for r in rows) <= 1.0 + 1e-9
    assert any('conv' in r.name for r in rows)
    layers = profile_model('kufenet-15k', input_size=64, threads=1, runs=2, warmup=1,
                           by_module=True)
    assert layers and all(r.calls >= 2 for r in layers)
    assert 'ms/run' in format_profile(layers, 2)


@pytest.mark.slow
def test_exported_files_are_benchmarked_with_their_stored_cost(tmp_path, capsys) -> None:
    from kufenet_grasp.cli.main import main
    from kufenet_grasp.deploy.export import export_onnx
    from kufenet_grasp.deploy.source import resolve_source

    resolved = resolve_source('kufenet-15k')
    path = export_onnx(resolved, tmp_path / 'k15.onnx', input_size=64)
    code = main(['bench', '--models', f'k15-onnx={path}', '--backends', 'onnxruntime,torch',
                 '--sizes', '64', '--threads', '1', '--repeats', '2', '--warmup', '0',
                 '--json'])
    ort_row, torch_row = json.loads(capsys.readouterr().out)['results']
    assert code == 1  # torch cannot run an exported file; that row says so
    assert ort_row['error'] is None and ort_row['repeats'] == 2
    assert ort_row['params'] == sum(p.numel() for p in resolved.model.parameters())
    assert ort_row['flops'] > 0
    assert 'exported file' in torch_row['error']


@pytest.mark.slow
@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_profile_inside_a_runtime_ranks_its_layers(backend) -> None:
    from kufenet_grasp.bench.runtime_profile import profile_in_runtime

    # top: more than the layers (ONNX Runtime's count depends on the CPU's SIMD: 101 with
    # AVX-512), so every executed layer is listed
    rows = profile_in_runtime('kufenet-15k', backend, input_size=64, threads=1, runs=3,
                              warmup=1, top=10_000)
    assert rows and rows == sorted(rows, key=lambda r: r.self_cpu_ms, reverse=True)
    assert abs(sum(r.share for r in rows) - 1.0) < 1e-6
    convs = [r for r in rows if 'Conv' in r.name]
    # OpenVINO now and then reports a microsecond Concat as not run in one of the runs
    assert convs and all(r.calls == 3 for r in convs) and all(1 <= r.calls <= 3 for r in rows)


# the command builds and profiles the model in the runtime once more: several seconds each
@pytest.mark.slow
@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_cli_profile_inside_a_runtime_prints_the_table(backend, capsys) -> None:
    from kufenet_grasp.cli.main import main

    assert main(['bench', '--profile', 'kufenet-15k', '--profile-backend', backend,
                 '--sizes', '64', '--threads', '1', '--repeats', '2', '--warmup', '1']) == 0
    assert f'in {backend} at 64px' in capsys.readouterr().out


def test_stages_are_timed() -> None:
    from kufenet_grasp.bench.stages import time_stages

    rows = time_stages([64], repeats=2, warmup=1)
    assert {r['stage'] for r in rows} == {'preprocess', 'preprocess_metric', 'postprocess',
                                          'grasps'}
    assert all(r['median_ms'] > 0 and r['size'] == 64 for r in rows)


@pytest.mark.parametrize('size', [224, 300])
def test_grasp_stage_runs_every_peak_through_the_whole_path(size: int) -> None:
    from kufenet_grasp.bench.stages import grasp_stage_inputs, synthetic_frame

    detector, *args = grasp_stage_inputs(size, synthetic_frame()[1])
    peaks, grasps, rejected = detector.grasps_from_maps(*args)
    # five peaks, none rejected: depth, width, finger check and pose all ran for each
    assert len(peaks) == 5 and len(grasps) == 5 and not rejected
    assert all(0.03 < g.width_m < 0.06 and g.pose_camera is not None for g in grasps)
