# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of training, resume, evaluation and the CLI (tiny data and model)."""

import csv
import itertools
import json
from pathlib import Path
import subprocess
import sys

from dataset_fixtures import write_jacquard_fixture
from kufenet_grasp.cli import main as cli_main
from kufenet_grasp.training.ablation import run_ablation, table_rows, write_table
from kufenet_grasp.training.config import ConfigError, TrainConfig
from kufenet_grasp.training.trainer import LOG_COLUMNS, lr_at, train, Trainer, TrainError
import pytest
import torch

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
MODEL = 'kufenet-15k'
SIZE = 32


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> Path:
    """Return a tiny Jacquard-layout dataset with ``train`` and ``val`` folders (64 px images)."""
    root = tmp_path_factory.mktemp('jacquard')
    write_jacquard_fixture(root, n_objects=2, size=64, images_per_object=2, split='train',
                           seed=1)
    write_jacquard_fixture(root, n_objects=1, size=64, images_per_object=2, split='val',
                           seed=2)
    return root


def _config(data_root: Path, out: Path, **kw) -> TrainConfig:
    """Small, fast training options."""
    opts = {'model': MODEL, 'dataset': f'jacquard:{data_root}', 'out': str(out),
            'train_split': 'train', 'val_split': 'val', 'epochs': 1, 'batches_per_epoch': 2,
            'batch_size': 2, 'input_size': SIZE, 'augment': True, 'progress': False, 'seed': 7}
    opts.update(kw)
    return TrainConfig(**opts)


@pytest.mark.slow
def test_few_steps_reduce_loss(data_root, tmp_path):
    trainer = Trainer(_config(data_root, tmp_path / 'run', augment=False, lr=3e-3))
    x, y, _ = next(iter(trainer._loader(0)))
    trainer.model.train()
    losses = [float(trainer._step(x, y)[0]) for _ in range(25)]
    assert losses[-1] < losses[0]


@pytest.mark.slow
def test_one_epoch_writes_outputs_and_resume_is_exact(data_root, tmp_path):
    from kufenet_grasp.models.weights import load_weights

    run = tmp_path / 'run'
    result = train(_config(data_root, run))
    assert result.epochs_run == 1 and 0.0 <= result.best_accuracy <= 1.0
    for name in ('log.csv', 'last.pt', 'best.safetensors', 'config.json'):
        assert (run / name).is_file(), name
    with open(run / 'log.csv') as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and tuple(rows[0]) == LOG_COLUMNS
    model, _ = load_weights(run / 'best.safetensors')
    assert sum(p.numel() for p in model.parameters()) > 0
    with pytest.raises(TrainError, match='resume'):
        train(_config(data_root, run))
    resumed = train(_config(data_root, run, epochs=2), resume=True)
    assert resumed.epochs_run == 2 and len(resumed.history) == 2
    with open(run / 'log.csv') as handle:
        assert [r['epoch'] for r in csv.DictReader(handle)] == ['1.0', '2.0']
    straight = train(_config(data_root, tmp_path / 'straight', epochs=2))
    assert straight.epochs_run == 2
    a = torch.load(run / 'last.pt', weights_only=True)['model']
    b = torch.load(tmp_path / 'straight' / 'last.pt', weights_only=True)['model']
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(TrainError, match='different options'):
        train(_config(data_root, run, epochs=3, lr=5e-4), resume=True)


@pytest.mark.slow
def test_kd_training_with_teacher_runs(data_root, tmp_path):
    teacher = train(_config(data_root, tmp_path / 'teacher', model='kufenet-15k'))
    student = train(_config(data_root, tmp_path / 'student', kd='fruit+hint',
                            teacher=str(teacher.run_dir / 'best.safetensors'),
                            granularity='sample'))
    with open(student.run_dir / 'log.csv') as handle:
        row = next(csv.DictReader(handle))
    assert 0.0 <= float(row['active']) <= 1.0
    assert float(row['teacher_task']) > 0


@pytest.mark.slow
def test_train_and_eval_cli_and_init(data_root, tmp_path, capsys):
    run = tmp_path / 'run'
    rc = cli_main.main(['train', '--model', MODEL, '--dataset', f'jacquard:{data_root}',
                        '--train-split', 'train', '--val-split', 'val', '--epochs', '1',
                        '--batches-per-epoch', '1', '--batch-size', '2', '--input-size',
                        str(SIZE), '--no-progress', '--no-tensorboard', '--out', str(run)])
    assert rc == 0 and 'best validation accuracy' in capsys.readouterr().out
    best = run / 'best.safetensors'
    fine = Trainer(_config(data_root, tmp_path / 'fine', init=str(best)))
    from kufenet_grasp.models.weights import load_weights

    ref = load_weights(best)[0].state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in fine.model.state_dict().items())
    rc = cli_main.main(['eval', str(best),
                        '--dataset', f'jacquard:{data_root}', '--split', 'val', '--json',
                        '--plot', str(tmp_path / 'plots')])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report['n_images'] == 2
    assert set(report['accuracy_by_angle']) == {'30', '25', '20', '15', '10'}
    assert 0.0 <= report['accuracy'] <= 1.0 and len(report['per_image']) == 2
    assert len(list((tmp_path / 'plots').glob('*.png'))) == 2


def test_config_validation_and_schedule(data_root, tmp_path):
    with pytest.raises(ConfigError, match='teacher'):
        _config(data_root, tmp_path, kd='fruit')
    with pytest.raises(ConfigError, match='mapping'):
        _config(data_root, tmp_path, mapping='sum')
    with pytest.raises(ConfigError, match='val_split'):
        _config(data_root, tmp_path, val_split=None)
    cfg = _config(data_root, tmp_path, epochs=5, lr=1e-3)
    lrs = [lr_at(cfg, e) for e in range(5)]
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1e-5)
    assert all(a > b for a, b in itertools.pairwise(lrs))
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_ablation_rows_tables_and_resume(tmp_path):
    assert [r.key for r in table_rows('table5')][-1] == 'fruit+at-max2'
    t6 = table_rows('table6')
    assert len(t6) == 8
    assert {r.changes['model_overrides']['modality'] for r in t6} == {'rgb', 'd', 'rgbd'}
    calls = []

    class _Result:
        best_accuracy, best_epoch = 0.5, 1

    def fake_train(config, resume=False):
        calls.append(config)
        Path(config.out).mkdir(parents=True, exist_ok=True)
        (Path(config.out) / 'log.csv').write_text('epoch,wall_s\n1,60.0\n2,150.0\n')
        return _Result()

    base = TrainConfig(model=MODEL, dataset='jacquard:/nowhere', out=str(tmp_path),
                       teacher='t.safetensors', kd='fruit+hint')
    rows = run_ablation('table5', base, tmp_path, train_fn=fake_train)
    assert len(rows) == len(calls) == 7
    assert calls[0].kd == 'none' and calls[0].teacher is None
    assert calls[3].kd == 'hint' and calls[3].mapping == 'max'
    md = (tmp_path / 'table5.md').read_text()
    assert '50.00' in md and 'Fruit, AT-Hint' in md
    assert '| Train (min) |' in md.splitlines()[0] and md.splitlines()[2].endswith('| 2.5 |')
    run_ablation('table5', base, tmp_path, train_fn=fake_train)
    assert len(calls) == 7  # finished rows are skipped
    write_table('empty', [], tmp_path)
    with pytest.raises(ValueError, match='teacher'):
        run_ablation('table5', TrainConfig(model=MODEL, dataset='x:y', out='o'), tmp_path,
                     train_fn=fake_train)


def test_train_cli_help():
    proc = subprocess.run([sys.executable, '-m', 'kufenet_grasp.cli.main', 'train', '--help'],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0
    for option in ('--teacher', '--kd', '--resume', '--batches-per-epoch', '--device'):
        assert option in proc.stdout


def test_freeze_norm_keeps_the_loaded_statistics_and_trains_the_rest(data_root, tmp_path):
    def norms(model):
        return [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]

    for frozen in (True, False):
        trainer = Trainer(_config(data_root, tmp_path / f'run{frozen}', freeze_norm=frozen,
                                  batches_per_epoch=1))
        before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
        trainer.train_epoch(0)
        after = trainer.model.state_dict()
        stats = [k for k in before if k.endswith(('running_mean', 'running_var'))]
        scales = [k for k in before if k.endswith('.weight') and k[:-len('weight')] + 'running_var'
                  in before]
        assert stats and scales
        assert all(torch.equal(before[k], after[k]) for k in stats) == frozen
        assert not all(torch.equal(before[k], after[k]) for k in scales)  # still trained
        assert all(m.training != frozen for m in norms(trainer.model))
    assert TrainConfig.from_dict({**_config(data_root, tmp_path).to_dict(),
                                  'freeze_norm': True}).freeze_norm
