# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Metadata of weights and exported model files, read without PyTorch.

A ``.safetensors`` weights file holds string metadata (format ``kufenet-weights/1``: arch,
config, input size, channel order, normalisation, training data, metrics, ...). An exported
file carries that whole dict, as JSON under :data:`WEIGHTS_METADATA_KEY`, beside its own keys
(ONNX ``metadata_props``; OpenVINO IR ``rt_info`` under ``kufenet``), so a detector that runs
the exported file applies the same pre-processing as one that loads the weights.
:func:`read_model_metadata` returns that dict for any of the three file kinds.
"""

from __future__ import annotations

import json
from pathlib import Path
import struct
from typing import Any
from xml.etree import ElementTree

#: key of the exported file's metadata that holds the source weights file's whole metadata
WEIGHTS_METADATA_KEY = 'weights_metadata'
#: the key under which OpenVINO IR keeps the project's metadata (``rt_info``)
RT_INFO_KEY = 'kufenet'
_MAX_HEADER = 100 * 1024 * 1024


class MetadataError(ValueError):
    """A model file's metadata cannot be read."""


def read_safetensors_metadata(path: str | Path) -> dict[str, str]:
    """Return the ``__metadata__`` strings of a safetensors file, read from its JSON header."""
    path = Path(path)
    try:
        with open(path, 'rb') as stream:
            head = stream.read(8)
            if len(head) < 8:
                raise MetadataError(f'{path}: too short for a safetensors header')
            (length,) = struct.unpack('<Q', head)
            if length > min(path.stat().st_size - 8, _MAX_HEADER):
                raise MetadataError(f'{path}: header length {length} exceeds the file')
            header = json.loads(stream.read(length))
    except OSError as exc:
        raise MetadataError(f'{path}: cannot read ({exc.strerror or exc})') from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MetadataError(f'{path}: corrupt safetensors header ({exc})') from exc
    meta = header.get('__metadata__') if isinstance(header, dict) else None
    if not isinstance(meta, dict):
        return {}
    return {str(k): str(v) for k, v in meta.items()}


def _onnx_metadata(path: Path) -> dict[str, str]:
    """``metadata_props`` of an ONNX file (with ``onnx``, else through ONNX Runtime)."""
    try:
        import onnx
    except ImportError:
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
        return dict(session.get_modelmeta().custom_metadata_map)
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises several types for a bad file
        raise MetadataError(f'{path}: not a readable ONNX file ({exc})') from exc
    return {entry.key: entry.value for entry in proto.metadata_props}


def _ir_metadata(path: Path) -> dict[str, str]:
    """``rt_info/kufenet`` entries of an OpenVINO IR ``.xml`` file, parsed as XML."""
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as exc:
        raise MetadataError(f'{path}: not a readable OpenVINO IR file ({exc})') from exc
    section = root.find(f'rt_info/{RT_INFO_KEY}')
    if section is None:
        return {}
    return {child.tag: child.get('value', '') for child in section}


def read_exported_metadata(path: str | Path, *, ov_model: Any = None) -> dict[str, str]:
    """Return the exported file's own metadata (ONNX ``metadata_props`` or IR ``rt_info``).

    ``ov_model`` (an ``openvino.Model`` already read from ``path``) avoids parsing the XML
    a second time.
    """
    path = Path(path)
    if not path.is_file():
        raise MetadataError(f'{path}: no such file')
    if path.suffix == '.onnx':
        return _onnx_metadata(path)
    if path.suffix != '.xml':
        raise MetadataError(f'{path}: expected an .onnx or OpenVINO .xml file')
    if ov_model is not None and ov_model.has_rt_info([RT_INFO_KEY]):
        info = ov_model.get_rt_info()[RT_INFO_KEY]
        return {key: str(info[key].astype(str)) for key in info}
    return _ir_metadata(path)


def _json_object(metadata: dict[str, str], key: str) -> dict[str, Any]:
    """Return the JSON object stored as text under ``key`` ({} if absent or empty)."""
    text = metadata.get(key)
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MetadataError(f'{key} is not JSON ({exc})') from exc
    if not isinstance(value, dict):
        raise MetadataError(f'{key} is not a JSON object')
    return value


def carried_weights_metadata(exported: dict[str, str]) -> dict[str, str]:
    """Return the weights file's metadata dict an exported file carries ({} if none)."""
    value = _json_object(exported, WEIGHTS_METADATA_KEY)
    return {str(k): str(v) for k, v in value.items()}


def read_model_metadata(path: str | Path) -> dict[str, str]:
    """Return the weights metadata of a ``.safetensors`` file or the one an export carries.

    The same string dict for a weights file and for every file exported from it, so callers
    (pre-processing, the node's checks) need not know which they were given.
    """
    path = Path(path)
    if path.suffix == '.safetensors':
        return read_safetensors_metadata(path)
    return carried_weights_metadata(read_exported_metadata(path))


def exported_input_size(path: str | Path) -> int | None:
    """Square input side (px) an exported file was built for, or None if it does not say."""
    value = read_exported_metadata(path).get('input_size', '')
    try:
        return int(value)
    except ValueError:
        return None


def input_spec_dict(weights_metadata: dict[str, str]) -> dict[str, Any]:
    """Return the ``input_spec`` recorded in a weights metadata dict ({} = legacy input).

    Build the spec with ``kufenet_grasp.grasp.model_input.InputSpec.from_dict``, which also
    checks its fields.
    """
    return _json_object(weights_metadata, 'input_spec')
