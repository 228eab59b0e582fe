# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Exported models carry the weights' metadata and run in a detector process without PyTorch."""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys
import textwrap

from kufenet_grasp.deploy.export import export_onnx, export_openvino, torch_reference
from kufenet_grasp.deploy.model_metadata import (
    MetadataError,
    read_model_metadata,
    read_safetensors_metadata,
)
from kufenet_grasp.deploy.runtimes import create_exported_backend
from kufenet_grasp.deploy.source import resolve_source
from kufenet_grasp.grasp.model_input import METRIC_INPUT
from kufenet_grasp.models.registry import build_model
from kufenet_grasp.models.weights import save_weights
import numpy as np
import pytest
import torch

SIZE = 96  # the node fixtures' input size
TEST_DIR = Path(__file__).resolve().parent


@pytest.fixture(scope='module')
def exported(tmp_path_factory) -> dict[str, Path]:
    """Write a kufenet-15k weights file (seeded random weights) and its .onnx and .xml exports."""
    folder = tmp_path_factory.mktemp('exported')
    torch.manual_seed(3)
    weights = folder / 'k15.safetensors'
    save_weights(build_model('kufenet-15k'), weights, input_size=SIZE,
                 trained_on={'dataset': 'unit-test'}, input_spec=METRIC_INPUT.to_dict())
    resolved = resolve_source(weights)
    onnx_path = export_onnx(resolved, folder / 'k15.onnx', input_size=SIZE)
    xml_path = export_openvino(onnx_path, folder / 'k15.xml')
    return {'weights': weights, 'onnx': onnx_path, 'xml': xml_path}


@pytest.mark.parametrize('kind', ['onnx', 'xml'])
def test_exported_file_carries_the_whole_weights_metadata(exported, kind) -> None:
    raw = read_safetensors_metadata(exported['weights'])
    assert raw['format'] == 'kufenet-weights/1' and json.loads(raw['input_spec'])
    assert read_model_metadata(exported[kind]) == raw
    assert read_model_metadata(exported['weights']) == raw


def test_corrupt_safetensors_header_is_a_metadata_error(tmp_path) -> None:
    bad = tmp_path / 'bad.safetensors'
    bad.write_bytes((20).to_bytes(8, 'little') + b'{not json at all!!!!')
    with pytest.raises(MetadataError, match='corrupt safetensors header'):
        read_safetensors_metadata(bad)


def test_exported_backend_checks_size_and_file(exported, tmp_path) -> None:
    with pytest.raises(ValueError, match='takes 96 px inputs, not 224 px'):
        create_exported_backend('auto', exported['onnx'], input_size=224, threads=1)
    with pytest.raises(ValueError, match='no such file'):
        create_exported_backend('auto', tmp_path / 'missing.onnx', threads=1)
    with pytest.raises(ValueError, match='cannot run the exported file'):
        create_exported_backend('torch', exported['onnx'], threads=1)


def test_openvino_computes_in_the_precision_asked_for(exported) -> None:
    x = np.random.default_rng(5).uniform(-1, 1, (1, 4, SIZE, SIZE)).astype(np.float32)
    f32 = create_exported_backend('openvino', exported['xml'], threads=1)
    bf16 = create_exported_backend('openvino', exported['xml'], threads=1, precision='bf16')
    assert (f32.precision, bf16.precision) == ('f32', 'bf16')
    reference = torch_reference(resolve_source(exported['weights']).model, x)
    maps_f32, maps_bf16 = f32.infer(x), bf16.infer(x)
    # bfloat16 keeps 8 bits of mantissa: close to float32, not equal to it
    assert np.abs(maps_f32 - reference).max() < 1e-4
    assert np.abs(maps_bf16 - reference).max() < 0.05 and np.any(maps_bf16 != maps_f32)


def test_a_precision_other_backends_lack_is_refused(exported) -> None:
    with pytest.raises(ValueError, match='precision bf16 needs the openvino backend, not '
                                         'onnxruntime'):
        create_exported_backend('onnxruntime', exported['onnx'], threads=1, precision='bf16')
    with pytest.raises(ValueError, match="unknown precision 'int4'; choose from f32, bf16"):
        create_exported_backend('openvino', exported['xml'], threads=1, precision='int4')


_CONVERTER_SCRIPT = textwrap.dedent("""
    import sys
    from kufenet_grasp.deploy.runtimes import import_openvino
    ov = import_openvino()
    print(hasattr(ov, 'Core'), [m for m in sys.modules
                                if m.startswith(('openvino.tools.ovc', 'openvino_telemetry'))])
    import openvino.tools.ovc
    print(hasattr(openvino.tools.ovc, 'convert_model'))
""")


def test_openvino_runtime_is_imported_without_its_model_converter() -> None:
    # a fresh interpreter: this one may have imported openvino (and its converter) already
    done = subprocess.run([sys.executable, '-c', _CONVERTER_SCRIPT], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    # the runtime, none of the converter or its telemetry, and the converter still importable
    assert done.stdout.split() == ['True', '[]', 'True'], done.stdout


_NODE_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import rclpy
    from rclpy.lifecycle import TransitionCallbackReturn
    from kufenet_grasp.nodes.grasp_detector import GraspDetectorNode
    from kufenet_grasp.nodes.frame_processing import FrameInput
    from kufenet_msgs.msg import GraspStatus
    from node_fixtures import _image, CX, CY, DETECTOR_PARAMS, FRAME_ID, FX, FY, HEIGHT
    from node_fixtures import render, T_BASE_CAMERA, WIDTH
    from sensor_msgs.msg import CameraInfo, Image

    class Tf:
        base_frame = 'base_link'

        def lookup(self, camera_frame, stamp):
            return T_BASE_CAMERA

    rclpy.init()
    params = dict(DETECTOR_PARAMS, weights=sys.argv[1], backend=sys.argv[2],
                  autostart=False, quality_threshold=0.0)
    node = GraspDetectorNode('exported_detector', parameter_defaults=params)
    configured = node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    header = Image().header
    header.frame_id = FRAME_ID
    rgb, depth = render()
    info = CameraInfo(header=header, width=WIDTH, height=HEIGHT,
                      k=[FX, 0.0, CX, 0.0, FY, CY, 0.0, 0.0, 1.0])
    frame = FrameInput(_image(rgb, 'rgb8', header), _image(depth, '32FC1', header), info)
    outcome = node._processor.process(frame, 0.0, Tf())
    spec = node._processor._input_spec.to_dict()
    x = np.random.default_rng(5).uniform(-1, 1, (1, 4, 96, 96)).astype(np.float32)
    np.save(sys.argv[3], node._processor._infer_fn(x))
    converter = [m for m in sys.modules if m.startswith(('openvino.tools.ovc',
                                                         'openvino_telemetry'))]
    print(json.dumps({'torch': 'torch' in sys.modules, 'converter': converter,
                      'configured': configured,
                      'inferred': int(outcome.code) in (GraspStatus.OK, GraspStatus.NO_GRASP),
                      'summary': outcome.summary, 'spec': spec}))
    node.destroy_node()
    rclpy.shutdown()
""")


# a fresh interpreter that starts rclpy and a detector node (a DDS participant)
@pytest.mark.ros
@pytest.mark.parametrize(('kind', 'backend'), [('onnx', 'onnxruntime'), ('xml', 'auto')])
def test_detector_node_runs_an_exported_model_without_importing_torch(
        exported, kind, backend, tmp_path) -> None:
    maps_path = tmp_path / 'maps.npy'
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(TEST_DIR), os.environ.get('PYTHONPATH', '')]), ROS_DOMAIN_ID='77')
    done = subprocess.run([sys.executable, '-c', _NODE_SCRIPT, str(exported[kind]), backend,
                           str(maps_path)], capture_output=True, text=True, timeout=120,
                          env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report['torch'] is False
    assert report['converter'] == []  # OpenVINO's model converter and its telemetry
    assert report['configured'] is True
    assert report['inferred'], report['summary']  # the frame went through the network
    assert report['spec'] == METRIC_INPUT.to_dict()  # pre-processing from the carried metadata
    # the process ran the exported network itself: same maps as the PyTorch weights
    x = np.random.default_rng(5).uniform(-1, 1, (1, 4, SIZE, SIZE)).astype(np.float32)
    model = resolve_source(exported['weights']).model
    np.testing.assert_allclose(np.load(maps_path), torch_reference(model, x), atol=1e-4)


def test_exported_file_listed_in_a_manifest_must_match_it(exported, tmp_path) -> None:
    import hashlib
    import shutil

    from kufenet_grasp.deploy.runtimes import verify_listed_checksum

    for suffix in ('.xml', '.bin'):
        shutil.copy(exported['xml'].with_suffix(suffix), tmp_path / f'm{suffix}')
    xml, binary = tmp_path / 'm.xml', tmp_path / 'm.bin'
    assert verify_listed_checksum(xml) is False  # no manifest: nothing to check
    lines = [f'{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n' for p in (xml, binary)]
    (tmp_path / 'SHA256SUMS').write_text(''.join(lines))
    assert verify_listed_checksum(xml) is True
    create_exported_backend('openvino', xml, threads=1)
    binary.write_bytes(binary.read_bytes()[:-4] + b'\0\0\0\0')  # weights altered
    with pytest.raises(ValueError, match='does not match its SHA256SUMS entry'):
        create_exported_backend('openvino', xml, threads=1)


@pytest.mark.parametrize('name', ['kufenet-80k_224.onnx', 'kufenet-80k_224.xml'])
def test_shipped_exports_are_the_shipped_weights(name) -> None:
    from kufenet_grasp.deploy.model_metadata import read_exported_metadata
    from kufenet_grasp.deploy.runtimes import verify_listed_checksum
    from kufenet_grasp.models.weights import sha256_file

    models = TEST_DIR.parent / 'models'
    path, weights = models / name, models / 'kufenet-80k.safetensors'
    assert verify_listed_checksum(path)  # listed in models/SHA256SUMS and unchanged
    assert read_exported_metadata(path)['source_sha256'] == sha256_file(weights), \
        f're-export {name}: kufenet export models/kufenet-80k.safetensors --format openvino'
    assert read_model_metadata(path) == read_safetensors_metadata(weights)
    x = np.random.default_rng(1).uniform(-1, 1, (1, 4, 224, 224)).astype(np.float32)
    backend = create_exported_backend('auto', path, threads=1)
    np.testing.assert_allclose(backend.infer(x),
                               torch_reference(resolve_source(weights).model, x), atol=1e-4)
