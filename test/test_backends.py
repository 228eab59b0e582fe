# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The three CPU inference backends agree with PyTorch; create_backend validates its input."""

from __future__ import annotations

import importlib.util

from kufenet_grasp.deploy import backends
from kufenet_grasp.deploy.backends import BackendUnavailable, create_backend, InferenceBackend
from kufenet_grasp.deploy.export import export_onnx, torch_reference
from kufenet_grasp.deploy.source import resolve_source
import numpy as np
import pytest
import torch

torch.set_num_threads(1)
SIZE = 64


@pytest.fixture(scope='module')
def model() -> torch.nn.Module:
    from kufenet_grasp.models.registry import build_model

    torch.manual_seed(1)
    return build_model('kufenet-15k').eval()


@pytest.fixture(scope='module')
def frame() -> np.ndarray:
    return np.random.default_rng(2).uniform(-1, 1, (1, 4, SIZE, SIZE)).astype(np.float32)


@pytest.fixture(scope='module')
def built(model) -> dict[str, InferenceBackend]:
    """Backends of ``model`` by name, each built once for the module (export and compile)."""
    class Built(dict):

        def __missing__(self, name: str) -> InferenceBackend:
            self[name] = create_backend(name, model, input_size=SIZE, threads=1)
            return self[name]

    return Built()


#: the exported runtimes' backends: an ONNX export (and an OpenVINO compile) each
EXPORTED = [pytest.param(name, marks=pytest.mark.slow) for name in ('onnxruntime', 'openvino')]


@pytest.mark.parametrize('name', ['torch', *EXPORTED])
def test_backend_matches_pytorch(name: str, model, frame, built) -> None:
    backend = built[name]
    assert isinstance(backend, InferenceBackend)
    assert backend.name == name and backend.input_size == SIZE
    out = backend.infer(frame)
    assert out.shape == (1, 4, SIZE, SIZE) and out.dtype == np.float32
    np.testing.assert_allclose(out, torch_reference(model, frame), atol=1e-4, rtol=0)
    again = backend.infer(frame)  # a second call returns fresh, equal maps
    np.testing.assert_array_equal(again, out)


@pytest.mark.slow
@pytest.mark.parametrize('name', ['onnxruntime', 'openvino'])
def test_backend_from_exported_file(name: str, model, frame, tmp_path) -> None:
    path = export_onnx(resolve_source(model), tmp_path / 'm.onnx', input_size=SIZE)
    out = create_backend(name, str(path), input_size=SIZE, threads=1).infer(frame)
    np.testing.assert_allclose(out, torch_reference(model, frame), atol=1e-4, rtol=0)


def test_torch_backend_channels_last_eager_agrees(model, frame) -> None:
    backend = backends.TorchBackend(model, SIZE, 1, jit=False, channels_last=True)
    np.testing.assert_allclose(backend.infer(frame), torch_reference(model, frame), atol=1e-4)


@pytest.mark.slow
def test_auto_picks_first_available(model, monkeypatch, built) -> None:
    # 'auto' names a backend and builds it through create_backend: hand it the module's
    # (test_backend_matches_pytorch checks those) instead of exporting and compiling again
    real_create = backends.create_backend
    monkeypatch.setattr(backends, 'create_backend', lambda name, source, **kw: (
        real_create(name, source, **kw) if name == 'auto' else built[name]))
    assert create_backend('auto', model, input_size=SIZE, threads=1).name == \
        backends.AUTO_ORDER[0]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda n, *a: None if n == 'openvino' else real(n, *a))
    assert create_backend('auto', model, input_size=SIZE, threads=1).name == 'onnxruntime'


def test_missing_package_names_what_to_install(model, monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda n, *a: None if n == 'openvino' else real(n, *a))
    with pytest.raises(BackendUnavailable, match='pip install openvino'):
        create_backend('openvino', model, input_size=SIZE)


def test_create_backend_rejects_bad_arguments(model, tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'"):
        create_backend('tensorrt', model, input_size=SIZE)
    with pytest.raises(ValueError, match='threads'):
        create_backend('torch', model, input_size=SIZE, threads=0)
    with pytest.raises(ValueError, match='input_size'):
        create_backend('torch', model, input_size=0)
    with pytest.raises(ValueError, match='torch backend'):
        create_backend('torch', str(tmp_path / 'm.onnx'), input_size=SIZE)
    with pytest.raises(ValueError, match='does not exist'):
        create_backend('onnxruntime', str(tmp_path / 'missing.onnx'), input_size=SIZE)


@pytest.mark.parametrize('name', ['torch', EXPORTED[0]])
def test_infer_rejects_wrong_shape(name: str, built) -> None:
    backend = built[name]
    with pytest.raises(ValueError, match=r'shape \(1, 4, 64, 64\)'):
        backend.infer(np.zeros((1, 3, SIZE, SIZE), np.float32))


def test_one_selector_serves_models_and_exported_files(monkeypatch) -> None:
    from kufenet_grasp.deploy.runtimes import select_backend

    installed = {'onnxruntime', 'torch'}
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda n, *a: object() if n in installed else None)
    texts = {'unknown': 'backend nope', 'none_installed': 'install one'}
    order = ('openvino', 'onnxruntime', 'torch')
    assert select_backend('auto', order, **texts) == 'onnxruntime'
    assert select_backend('auto', order, cannot_run=('onnxruntime',), **texts) == 'torch'
    assert select_backend('torch', order, **texts) == 'torch'
    with pytest.raises(BackendUnavailable, match='install one'):
        select_backend('auto', order[:2], cannot_run=('onnxruntime',), **texts)
    with pytest.raises(BackendUnavailable, match="'openvino': pip install openvino"):
        select_backend('openvino', order, **texts)
    with pytest.raises(ValueError, match='backend nope; choose one of openvino, onnxruntime, '
                                         'torch, auto'):
        select_backend('nope', order, **texts)


@pytest.mark.slow
def test_openvino_reads_onnx_without_the_model_converter(
        model, frame, monkeypatch, tmp_path) -> None:
    # ov.convert_model sends usage telemetry: a forked process per event that waits on the
    # network (seconds per conversion, and at exit); the ONNX frontend reads the same graph
    from kufenet_grasp.deploy.export import export_openvino
    import openvino as ov

    def refuse(*args, **kwargs):
        raise AssertionError('ov.convert_model called')

    # raising=False: imported without the converter, openvino has no convert_model at all
    monkeypatch.setattr(ov, 'convert_model', refuse, raising=False)
    expected = torch_reference(model, frame)
    in_memory = create_backend('openvino', model, input_size=SIZE, threads=1)
    np.testing.assert_allclose(in_memory.infer(frame), expected, atol=1e-4, rtol=0)
    onnx_path = export_onnx(resolve_source(model), tmp_path / 'm.onnx', input_size=SIZE)
    xml = export_openvino(onnx_path, tmp_path / 'm.xml')
    from_ir = create_backend('openvino', str(xml), input_size=SIZE, threads=1)
    np.testing.assert_allclose(from_ir.infer(frame), expected, atol=1e-4, rtol=0)
