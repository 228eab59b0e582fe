# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The weights shipped in models/: listed in SHA256SUMS, load safely, tampering is refused."""

from __future__ import annotations

from pathlib import Path
import shutil

from kufenet_grasp.models.weights import (
    check_manifest,
    load_weights,
    read_manifest,
    WeightsError,
    write_manifest,
)
import numpy as np
import pytest
import torch

MODELS = Path(__file__).resolve().parents[1] / 'models'
SHIPPED = ('kufenet-80k.safetensors', 'kufenet-15k.safetensors')


@pytest.mark.parametrize('name', SHIPPED)
def test_shipped_weights_load_with_their_metadata(name: str) -> None:
    path = MODELS / name
    assert path.is_file(), f'{path} is missing: models/README.md says how to re-create it'
    assert check_manifest(path), f'{name} is not listed in models/SHA256SUMS'
    model, meta = load_weights(path, expected_arch=name.removesuffix('.safetensors'))
    assert meta.trained_on['dataset'].startswith('jacquard:')
    assert 0.0 < meta.metrics['val_accuracy'] <= 1.0
    assert meta.channel_order == 'depth,r,g,b' and meta.input_size == 224
    with torch.inference_mode():
        out = model(torch.zeros(1, 4, 224, 224))
    assert out.shape == (1, 4, 224, 224) and torch.isfinite(out).all()


def test_manifest_lists_only_existing_files() -> None:
    entries = read_manifest(MODELS)
    assert set(SHIPPED) <= set(entries)
    assert all((MODELS / name).is_file() for name in entries)


def test_tampered_copy_is_refused(tmp_path: Path) -> None:
    source = MODELS / SHIPPED[0]
    copy = tmp_path / source.name
    shutil.copy(source, copy)
    write_manifest(tmp_path)
    load_weights(copy)  # the untouched copy matches its manifest
    data = bytearray(copy.read_bytes())
    data[-8:] = np.frombuffer(np.float32([1e3, -1e3]).tobytes(), np.uint8).tobytes()
    copy.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match='SHA-256'):
        load_weights(copy)
