# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Weights files: safetensors + kufenet metadata + an optional SHA-256 manifest.

A weights file is a ``.safetensors`` file whose string metadata describe how to rebuild and
feed the model (format ``kufenet-weights/1``). Pickle-based PyTorch checkpoints are never
unpickled by :func:`load_weights`; :func:`convert_state_dict` turns a *trusted* ``.pt`` state
dict into a weights file with ``torch.load(weights_only=True)``. A ``SHA256SUMS`` file
(``sha256sum`` format) beside the weights pins their content.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
import hashlib
import json
from pathlib import Path
import struct
from typing import Any
import warnings

from kufenet_grasp.grasp.model_input import InputSpec
from kufenet_grasp.models.base import GraspModel
from kufenet_grasp.models.registry import build_from_config, build_model
import torch

#: value of the ``format`` metadata key
FORMAT_VERSION = 'kufenet-weights/1'
#: name of the manifest file beside the weights
MANIFEST_NAME = 'SHA256SUMS'
#: how the network input is normalised (docs/ARCHITECTURE.md, "Network input")
NORMALISATION: dict[str, str] = {
    'depth': 'metres minus the mean of valid pixels, clipped to [-1, 1], invalid inpainted',
    'rgb': 'uint8 / 255 minus the image mean',
}
#: the width output times this is the gripper opening in pixels
WIDTH_SCALE_PX = 150
_PICKLE_MAGIC = (b'PK\x03\x04', b'\x80')
_MAX_HEADER = 100 * 1024 * 1024


class WeightsError(Exception):
    """A weights file is missing, unsafe, corrupt or does not fit the architecture."""


@dataclass
class WeightsMetadata:
    """The kufenet metadata of a weights file (decoded from its safetensors strings).

    Also behaves as a read-only mapping (``metadata['arch']``, ``dict(metadata)``).
    """

    arch: str
    config: dict[str, Any]
    input_size: int
    format: str = FORMAT_VERSION  # noqa: A003 (the metadata key's name)
    name: str | None = None
    channel_order: str = 'depth,r,g,b'
    normalisation: dict[str, Any] = field(default_factory=lambda: dict(NORMALISATION))
    width_scale_px: float = WIDTH_SCALE_PX
    trained_on: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    torch_version: str = ''
    #: how the input is made (grasp.model_input.InputSpec as a dict); {} = legacy pixel crop
    input_spec: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict."""
        return asdict(self)

    def keys(self) -> list[str]:
        """Field names (mapping protocol)."""
        return list(self.as_dict())

    def __getitem__(self, key: str) -> Any:
        """Field value by name (mapping protocol)."""
        return self.as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        """Iterate over field names."""
        return iter(self.keys())

    def get(self, key: str, default: Any = None) -> Any:
        """Field value by name or ``default``."""
        return self.as_dict().get(key, default)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for block in iter(lambda: stream.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def save_weights(model: GraspModel, path: str | Path, *, input_size: int = 224,
                 trained_on: dict | None = None, metrics: dict | None = None,
                 extra: dict | None = None, input_spec: dict | None = None) -> None:
    """Write ``model``'s state dict and kufenet metadata to the safetensors file ``path``.

    ``input_size`` is the square input side in pixels the weights were trained for.
    """
    from safetensors.torch import save_file

    if not isinstance(model, GraspModel):
        raise WeightsError(f'save_weights({path}): model must be a GraspModel, '
                           f'got {type(model).__name__}')
    metadata = {
        'format': FORMAT_VERSION, 'arch': model.arch, 'name': model.name or '',
        'config': json.dumps(model.config), 'input_size': str(int(input_size)),
        'channel_order': 'depth,r,g,b', 'normalisation': json.dumps(NORMALISATION),
        'width_scale_px': str(WIDTH_SCALE_PX), 'trained_on': json.dumps(trained_on or {}),
        'metrics': json.dumps(metrics or {}), 'extra': json.dumps(extra or {}),
        'torch_version': torch.__version__,
    }
    if input_spec:
        metadata['input_spec'] = json.dumps(input_spec)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=metadata)


def _check_file(path: Path) -> dict[str, Any]:
    """Check existence, refuse pickles, validate the safetensors header; return the header."""
    if not path.is_file():
        raise WeightsError(f'weights file {path}: no such file')
    size = path.stat().st_size
    with open(path, 'rb') as stream:
        head = stream.read(9)
        # A safetensors file is an 8-byte little-endian header length followed by a JSON
        # object; its first byte can be 0x80 like a pickle's, so the pickle test only applies
        # to files that do not have that structure.
        looks_like_safetensors = (
            len(head) == 9 and head[8:9] == b'{'
            and struct.unpack('<Q', head[:8])[0] <= min(size - 8, _MAX_HEADER))
        if not looks_like_safetensors and any(head.startswith(m) for m in _PICKLE_MAGIC):
            raise WeightsError(f'weights file {path}: refusing to load a pickle (PyTorch '
                               f'.pt/.pth zip or pickle) file; weights must be safetensors')
        head = head[:8]
        stream.seek(8)
        if len(head) < 8:
            raise WeightsError(f'weights file {path}: truncated or corrupt ({size} bytes, '
                               f'shorter than a safetensors header)')
        (header_len,) = struct.unpack('<Q', head)
        if header_len > min(size - 8, _MAX_HEADER):
            raise WeightsError(f'weights file {path}: truncated or corrupt (header length '
                               f'{header_len} exceeds the file size {size})')
        try:
            header = json.loads(stream.read(header_len))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WeightsError(f'weights file {path}: truncated or corrupt header '
                               f'({exc})') from exc
    if not isinstance(header, dict):
        raise WeightsError(f'weights file {path}: corrupt header (not a JSON object)')
    ends = [info['data_offsets'][1] for key, info in header.items()
            if key != '__metadata__' and isinstance(info, dict) and 'data_offsets' in info]
    if max(ends, default=0) != size - 8 - header_len:
        raise WeightsError(f'weights file {path}: truncated or corrupt (tensor data ends at '
                           f'{max(ends, default=0)} bytes, file holds {size - 8 - header_len})')
    return header


def _decode_input_spec(raw: str | None) -> dict[str, Any]:
    """Decode the ``input_spec`` metadata, checked against InputSpec; {} if absent."""
    if not raw:
        return {}
    spec = InputSpec.from_dict(json.loads(raw))  # ValueError on unknown fields or values
    return spec.to_dict()


def input_spec_of(metadata: WeightsMetadata) -> InputSpec:
    """How the network input of these weights is made (legacy crop when not recorded)."""
    return InputSpec.from_dict(metadata.input_spec)


def _decode_metadata(path: Path, raw: dict[str, str] | None) -> WeightsMetadata:
    """Turn safetensors string metadata into :class:`WeightsMetadata`."""
    if not raw or raw.get('format') != FORMAT_VERSION:
        found = (raw or {}).get('format')
        raise WeightsError(f'weights file {path}: missing kufenet metadata (expected format '
                           f'{FORMAT_VERSION!r}, found {found!r})')
    try:
        return WeightsMetadata(
            arch=raw['arch'], config=json.loads(raw['config']),
            input_size=int(raw['input_size']), format=raw['format'],
            name=raw.get('name') or None, channel_order=raw.get('channel_order', ''),
            normalisation=json.loads(raw.get('normalisation', '{}')),
            width_scale_px=float(raw.get('width_scale_px', WIDTH_SCALE_PX)),
            trained_on=json.loads(raw.get('trained_on', '{}')),
            metrics=json.loads(raw.get('metrics', '{}')),
            extra=json.loads(raw.get('extra', '{}')),
            torch_version=raw.get('torch_version', ''),
            input_spec=_decode_input_spec(raw.get('input_spec')))
    except (KeyError, ValueError) as exc:
        raise WeightsError(f'weights file {path}: invalid kufenet metadata ({exc!r})') from exc


def read_metadata(path: str | Path) -> WeightsMetadata:
    """Read the kufenet metadata of weights file ``path`` without building the model."""
    path = Path(path)
    header = _check_file(path)
    return _decode_metadata(path, header.get('__metadata__'))


def read_manifest(folder: str | Path) -> dict[str, str]:
    """Parse ``folder/SHA256SUMS`` into {file name: hex digest} (empty if absent)."""
    manifest = Path(folder) / MANIFEST_NAME
    if not manifest.is_file():
        return {}
    entries = {}
    for number, line in enumerate(manifest.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise WeightsError(f'manifest {manifest}: line {number} is not '
                               f"'<sha256>  <filename>': {line!r}")
        entries[parts[1].lstrip('*').strip()] = parts[0].lower()
    return entries


def write_manifest(folder: str | Path, pattern: str = '*.safetensors') -> Path:
    """Write ``folder/SHA256SUMS`` listing every file matching ``pattern``; return its path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WeightsError(f'write_manifest: {folder} is not a folder')
    lines = [f'{sha256_file(p)}  {p.name}\n' for p in sorted(folder.glob(pattern))
             if p.is_file()]
    manifest = folder / MANIFEST_NAME
    manifest.write_text(''.join(lines))
    return manifest


def check_manifest(path: str | Path) -> bool:
    """Check ``path`` against the SHA256SUMS beside it.

    Returns True if listed and matching, False if not listed (or no manifest); raises
    :class:`WeightsError` on a mismatch.
    """
    path = Path(path)
    expected = read_manifest(path.parent).get(path.name)
    if expected is None:
        return False
    actual = sha256_file(path)
    if actual != expected:
        raise WeightsError(f'weights file {path}: SHA-256 {actual} does not match '
                           f'{MANIFEST_NAME} entry {expected}')
    return True


def load_weights(path: str | Path, *, expected_arch: str | None = None,
                 map_location: str | torch.device = 'cpu',
                 verify_manifest: bool = True) -> tuple[GraspModel, WeightsMetadata]:
    """Build the model a weights file describes and load its tensors (eval mode).

    ``expected_arch`` may be a family ('kufenet') or the preset name stored at save time
    ('kufenet-80k'). With ``verify_manifest`` the file is checked against SHA256SUMS beside
    it: a mismatch raises, a file not listed only warns.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    header = _check_file(path)
    if verify_manifest and not check_manifest(path):
        warnings.warn(f'weights file {path} is not listed in a {MANIFEST_NAME} beside it; '
                      f'its content is not verified', stacklevel=2)
    metadata = _decode_metadata(path, header.get('__metadata__'))
    if expected_arch is not None and expected_arch not in (metadata.arch, metadata.name):
        raise WeightsError(f'weights file {path}: wrong architecture, expected '
                           f'{expected_arch!r} but the file holds {metadata.arch!r} '
                           f'(preset {metadata.name!r})')
    try:
        model = build_from_config(metadata.arch, metadata.config)
    except ValueError as exc:
        raise WeightsError(f'weights file {path}: cannot rebuild the model ({exc})') from exc
    model.name = metadata.name
    try:
        state = load_file(str(path), device=str(map_location))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f'weights file {path}: corrupt tensor data ({exc})') from exc
    _check_state(path, model, state)
    model.load_state_dict(state)
    return model.eval(), metadata


def _check_state(path: Path, model: GraspModel, state: dict[str, torch.Tensor]) -> None:
    """Raise WeightsError naming the missing/unexpected/mis-shaped tensors."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = [f'{k}: file {found[k]} vs model {expected[k]}' for k in sorted(expected)
              if k in found and found[k] != expected[k]]
    if missing or unexpected or shapes:
        raise WeightsError(
            f'weights file {path}: tensors do not match architecture {model.arch!r}: '
            f'missing {missing[:5]}, unexpected {unexpected[:5]}, shape mismatches '
            f'{shapes[:5]}')


def convert_state_dict(src: str | Path, dst: str | Path, name: str, *,
                       input_size: int = 224, **overrides: Any) -> None:
    """Convert a TRUSTED PyTorch ``.pt`` state dict for preset ``name`` to a weights file.

    Loads with ``torch.load(weights_only=True)`` (no arbitrary unpickling); accepts a bare
    state dict or one under the key 'state_dict' or 'model'.
    """
    try:
        obj = torch.load(str(src), map_location='cpu', weights_only=True)
    except Exception as exc:
        raise WeightsError(f'convert {src}: cannot load as a weights-only state dict '
                           f'({exc})') from exc
    if isinstance(obj, dict) and isinstance(obj.get('state_dict', obj.get('model')), dict):
        obj = obj.get('state_dict', obj.get('model'))
    if not isinstance(obj, dict):
        raise WeightsError(f'convert {src}: expected a state dict, got {type(obj).__name__}')
    model = build_model(name, **overrides)
    _check_state(Path(src), model, obj)
    model.load_state_dict(obj)
    save_weights(model, dst, input_size=input_size, extra={'converted_from': Path(src).name})


def interpolate_weights(base: str | Path, tuned: str | Path, alpha: float,
                        out: str | Path) -> WeightsMetadata:
    """Write ``(1 - alpha) * base + alpha * tuned`` (same architecture) to ``out``.

    A weight-space ensemble of a model and its fine-tuned copy (WiSE-FT, Wortsman et al.,
    CVPR 2022) keeps much of what the fine-tuning learnt and much of what it forgot, which helps
    on data unlike either training set. The metadata are the tuned file's, with the recipe in
    ``extra['interpolated']``. Raises :class:`WeightsError` for files that do not match.
    """
    if not 0.0 <= float(alpha) <= 1.0:
        raise WeightsError(f'interpolate_weights: alpha must be in [0, 1], got {alpha!r}')
    base_model, base_meta = load_weights(base)
    tuned_model, tuned_meta = load_weights(tuned)
    if (base_meta.arch, base_meta.config) != (tuned_meta.arch, tuned_meta.config):
        raise WeightsError(f'interpolate_weights: {base} ({base_meta.arch}) and {tuned} '
                           f'({tuned_meta.arch}) are not the same architecture')
    base_state, tuned_state = base_model.state_dict(), tuned_model.state_dict()
    mixed = {key: (base_state[key].double() * (1.0 - alpha)
                   + value.double() * alpha).to(value.dtype)
             if value.is_floating_point() else value for key, value in tuned_state.items()}
    tuned_model.load_state_dict(mixed)
    extra = dict(tuned_meta.extra)
    extra['interpolated'] = json.dumps({'base': Path(base).name, 'tuned': Path(tuned).name,
                                        'alpha': float(alpha)})
    save_weights(tuned_model, out, input_size=tuned_meta.input_size,
                 trained_on=tuned_meta.trained_on, metrics=tuned_meta.metrics, extra=extra,
                 input_spec=tuned_meta.input_spec or None)
    return read_metadata(out)
