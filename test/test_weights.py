# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Weights files: round trip, metadata, refusal of pickles, corruption, arch and manifest."""

import json
import warnings

from kufenet_grasp.models.registry import build_model
from kufenet_grasp.models.weights import (
    check_manifest,
    convert_state_dict,
    FORMAT_VERSION,
    load_weights,
    MANIFEST_NAME,
    read_metadata,
    save_weights,
    WeightsError,
    write_manifest,
)
import pytest
from safetensors.torch import save_file
import torch

torch.set_num_threads(1)


def _trained(name='kufenet-15k', **overrides):
    torch.manual_seed(1)
    model = build_model(name, **overrides)
    with torch.no_grad():  # non-default BN statistics so the round trip checks buffers too
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _outputs(model, size=32):
    torch.manual_seed(2)
    with torch.inference_mode():
        return model(torch.randn(1, 4, size, size))


@pytest.fixture
def saved(tmp_path):
    model = _trained(channel_shuffle=False)
    path = tmp_path / 'k15.safetensors'
    save_weights(model, path, input_size=300, trained_on={'dataset': 'cornell', 'split': 'iw'},
                 metrics={'accuracy': 0.93}, extra={'epochs': 3})
    return model, path


def test_round_trip_same_outputs_and_metadata(saved):
    model, path = saved
    with pytest.warns(UserWarning, match='not listed'):
        loaded, meta = load_weights(path)
    assert torch.equal(_outputs(model), _outputs(loaded))
    assert loaded.config == model.config and loaded.config['channel_shuffle'] is False
    assert not loaded.training
    assert meta.arch == 'kufenet' and meta.name == 'kufenet-15k'
    assert meta.input_size == 300 and meta.format == FORMAT_VERSION
    assert meta.trained_on == {'dataset': 'cornell', 'split': 'iw'}
    assert meta.metrics == {'accuracy': 0.93} and meta.extra == {'epochs': 3}
    assert meta.channel_order == 'depth,r,g,b' and meta.width_scale_px == 150
    assert meta.torch_version == torch.__version__ and 'depth' in meta.normalisation
    assert read_metadata(path) == meta
    assert dict(meta)['arch'] == 'kufenet' and meta.get('input_size') == 300


def test_ggcnn_round_trip(tmp_path):
    model = _trained('ggcnn')
    path = tmp_path / 'g.safetensors'
    save_weights(model, path)
    write_manifest(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        loaded, meta = load_weights(path, expected_arch='ggcnn')
    assert torch.equal(_outputs(model, 36), _outputs(loaded, 36))
    assert meta.input_size == 224


def test_pickle_checkpoint_is_refused(tmp_path):
    path = tmp_path / 'model.pt'
    torch.save(build_model('kufenet-15k').state_dict(), path)
    with pytest.raises(WeightsError, match=r'model\.pt.*refusing to load a pickle.*safetensors'):
        load_weights(path)
    legacy = tmp_path / 'legacy.pth'
    torch.save({'a': torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(WeightsError, match='refusing to load a pickle'):
        read_metadata(legacy)


def test_truncated_file(saved, tmp_path):
    _, path = saved
    data = path.read_bytes()
    for cut, name in ((len(data) - 100, 'a'), (200, 'b'), (5, 'c')):
        bad = tmp_path / f'{name}.safetensors'
        bad.write_bytes(data[:cut])
        with pytest.raises(WeightsError, match=rf'{name}\.safetensors: truncated or corrupt'):
            load_weights(bad, verify_manifest=False)


def test_missing_file_and_missing_metadata(tmp_path):
    with pytest.raises(WeightsError, match=r'nothere\.safetensors: no such file'):
        load_weights(tmp_path / 'nothere.safetensors')
    plain = tmp_path / 'plain.safetensors'
    save_file({'x': torch.zeros(3)}, str(plain))
    with pytest.raises(WeightsError, match='plain.safetensors: missing kufenet metadata'):
        read_metadata(plain)


def test_wrong_arch(saved):
    _, path = saved
    with pytest.raises(WeightsError, match=r"k15\.safetensors: wrong architecture.*'teacher'"):
        load_weights(path, expected_arch='teacher', verify_manifest=False)
    model, _ = load_weights(path, expected_arch='kufenet-15k', verify_manifest=False)
    assert model.arch == 'kufenet'


def test_tensors_not_matching_architecture(saved, tmp_path):
    _, path = saved
    meta = read_metadata(path)
    small = build_model('kufenet-15k')
    raw = {'format': FORMAT_VERSION, 'arch': 'kufenet', 'input_size': '224',
           'config': json.dumps({**meta.config, 'fused': 40})}
    bad = tmp_path / 'mismatch.safetensors'
    save_file(dict(small.state_dict()), str(bad), metadata=raw)
    with pytest.raises(WeightsError, match='mismatch.safetensors: tensors do not match'):
        load_weights(bad, verify_manifest=False)


def test_manifest_mismatch_and_match(saved):
    _model, path = saved
    manifest = write_manifest(path.parent)
    assert manifest.name == MANIFEST_NAME
    assert manifest.read_text().split() == [manifest.read_text().split()[0], path.name]
    assert check_manifest(path)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        load_weights(path)
    save_weights(_trained('kufenet-15k'), path)  # content changes after the manifest
    with pytest.raises(WeightsError, match=r'k15\.safetensors.*does not match SHA256SUMS'):
        load_weights(path)
    loaded, _ = load_weights(path, verify_manifest=False)
    assert loaded.config['channel_shuffle'] is True


def test_convert_trusted_state_dict(tmp_path):
    model = _trained('grconvnet')
    src = tmp_path / 'trusted.pt'
    torch.save({'state_dict': model.state_dict()}, src)
    dst = tmp_path / 'converted.safetensors'
    convert_state_dict(src, dst, 'grconvnet')
    loaded, meta = load_weights(dst, expected_arch='grconvnet', verify_manifest=False)
    assert torch.equal(_outputs(model, 24), _outputs(loaded, 24))
    assert meta.extra['converted_from'] == 'trusted.pt'
    with pytest.raises(WeightsError, match='tensors do not match'):
        convert_state_dict(src, tmp_path / 'x.safetensors', 'ggcnn')


def test_safetensors_whose_first_byte_is_0x80_is_not_taken_for_a_pickle(tmp_path):
    """The header length is little-endian: a first byte of 0x80 is valid safetensors."""
    model = build_model('kufenet-15k')
    path = tmp_path / 'k.safetensors'
    save_weights(model, path, input_size=64, extra={'pad': ''})
    # each pad character lengthens the header by about one byte: try the pads nearest 0x80 first
    first = (0x80 - path.read_bytes()[0]) % 256
    for pad in sorted(range(300), key=lambda p: abs(p - first)):
        save_weights(model, path, input_size=64, extra={'pad': ' ' * pad})
        if path.read_bytes()[:1] == b'\x80':
            break
    assert path.read_bytes()[:1] == b'\x80', 'could not produce a 0x80 header length'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        loaded, meta = load_weights(path, verify_manifest=False)
    assert meta.arch == 'kufenet'
