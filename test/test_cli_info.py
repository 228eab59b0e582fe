# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""``kufenet info``: JSON output for presets and weights files, errors on a bad MODEL."""

import json
from pathlib import Path
import subprocess
import sys

from kufenet_grasp.cli.main import main
from kufenet_grasp.models.registry import build_model, count_parameters
from kufenet_grasp.models.weights import save_weights, write_manifest
import pytest
import torch

torch.set_num_threads(1)


def test_info_json_for_preset(capsys):
    rc = main(['info', 'kufenet-15k', '--json', '--size', '64', '--threads', '1',
               '--repeats', '2'])
    out = capsys.readouterr().out
    assert rc == 0
    data = json.loads(out)
    assert {'params', 'flops', 'latency_ms', 'arch', 'input_size'} <= set(data)
    assert data['params'] == count_parameters(build_model('kufenet-15k'))
    assert isinstance(data['flops'], int) and data['flops'] > 0
    assert isinstance(data['latency_ms'], float) and data['latency_ms'] > 0
    assert data['input_size'] == 64 and data['arch'] == 'kufenet-15k'


def test_info_text_for_weights_file(tmp_path, capsys):
    path = tmp_path / 'g.safetensors'
    save_weights(build_model('ggcnn'), path)
    write_manifest(tmp_path)
    rc = main(['info', str(path), '--size', '48', '--threads', '1', '--repeats', '1'])
    out = capsys.readouterr().out
    assert rc == 0
    assert '62,420' in out and 'FLOPs' in out and 'ms' in out


def test_info_bad_model_exits_2(tmp_path, capsys):
    assert main(['info', 'no-such-model', '--json']) == 2
    err = capsys.readouterr().err
    assert 'no-such-model' in err and 'kufenet-15k' in err
    bogus = tmp_path / 'bogus.pt'
    torch.save({'a': torch.zeros(1)}, bogus)
    assert main(['info', str(bogus)]) == 2
    assert 'refusing to load a pickle' in capsys.readouterr().err
    assert main(['info', 'kufenet-15k', '--size', '2']) == 2
    capsys.readouterr()


def test_info_names_an_exported_model_for_what_it_is(capsys):
    exported = Path(__file__).resolve().parents[1] / 'models' / 'kufenet-80k_224.xml'
    assert main(['info', str(exported)]) == 2
    err = capsys.readouterr().err.strip()
    assert 'an exported model' in err and 'kufenet bench --models' in err and '\n' not in err
    assert 'corrupt' not in err


# two fresh interpreters that import torch; test_info_json_for_preset runs the same main()
@pytest.mark.slow
def test_info_command_line_prints_only_json():
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, '-m', 'kufenet_grasp.cli.main', 'info', 'kufenet-15k', '--json',
         '--size', '64', '--threads', '1', '--repeats', '2'],
        cwd=root, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {'params', 'flops', 'latency_ms', 'arch', 'input_size'} <= set(data)
    bad = subprocess.run([sys.executable, '-m', 'kufenet_grasp.cli.main', 'info', 'nope'],
                         cwd=root, capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2 and 'nope' in bad.stderr and not bad.stdout
