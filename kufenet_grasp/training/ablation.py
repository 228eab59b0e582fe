# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Ablation studies of the poster: Table V (KD strategies) and Table VI (architecture).

Each row is one training run in ``OUT/rows/<key>/`` (a normal run folder). Rows run one
after another; a finished row (``result.json``) is skipped and an interrupted one resumes
from its ``last.pt``. After every row ``OUT/<table>.md`` and ``OUT/<table>.csv`` are
rewritten with the parameter count and best validation accuracy (%).
"""

from __future__ import annotations

from collections.abc import Callable
import csv
from dataclasses import dataclass, field, replace
import json
from pathlib import Path
from typing import Any

from kufenet_grasp.models.registry import build_model
from kufenet_grasp.models.registry import count_parameters as count_model_parameters
from kufenet_grasp.training.config import TrainConfig
from kufenet_grasp.training.trainer import train

TABLES: tuple[str, ...] = ('table5', 'table6')


@dataclass(frozen=True)
class AblationRow:
    """One row: ``key`` (folder name), display ``columns`` and the config changes."""

    key: str
    columns: dict[str, str]
    changes: dict[str, Any] = field(default_factory=dict)


def _table5() -> list[AblationRow]:
    """Table V: no KD, fruit, AT-hint with each mapping, fruit + AT-hint (max²)."""
    rows = [AblationRow('none', {'KD strategy': '-', 'Mapping': '-'}, {'kd': 'none'}),
            AblationRow('fruit', {'KD strategy': 'Fruit', 'Mapping': '-'}, {'kd': 'fruit'})]
    for mapping in ('mean', 'max', 'max2', 'max4'):
        rows.append(AblationRow(f'at-{mapping}', {'KD strategy': 'AT-Hint', 'Mapping': mapping},
                                {'kd': 'hint', 'mapping': mapping}))
    rows.append(AblationRow('fruit+at-max2', {'KD strategy': 'Fruit, AT-Hint',
                                              'Mapping': 'max2'},
                            {'kd': 'fruit+hint', 'mapping': 'max2'}))
    return rows


def _table6() -> list[AblationRow]:
    """Table VI: modality × unequal encoding (UE) × channel shuffle (CS) × attention (CA)."""
    specs = [('rgb', False, True, True), ('d', False, True, True),
             ('rgbd', False, False, False), ('rgbd', False, True, True),
             ('rgbd', True, False, False), ('rgbd', True, True, False),
             ('rgbd', True, False, True), ('rgbd', True, True, True)]
    rows = []
    for modality, ue, cs, ca in specs:
        mark = {True: 'yes', False: 'no'}
        key = f'{modality}-ue{int(ue)}-cs{int(cs)}-ca{int(ca)}'
        columns = {'Modality': modality.upper() if modality != 'rgbd' else 'RGB-D',
                   'UE': mark[ue] if modality == 'rgbd' else '-', 'CS': mark[cs],
                   'CA': mark[ca]}
        overrides = {'modality': modality, 'unequal': ue, 'channel_shuffle': cs,
                     'channel_attention': ca}
        rows.append(AblationRow(key, columns, {'kd': 'none', 'model_overrides': overrides}))
    return rows


def table_rows(table: str) -> list[AblationRow]:
    """Return the rows of ``'table5'`` or ``'table6'``."""
    if table == 'table5':
        return _table5()
    if table == 'table6':
        return _table6()
    raise ValueError(f'ablation: table must be one of {TABLES}, got {table!r}')


def count_parameters(model_name: str, overrides: dict[str, Any]) -> int:
    """``sum(p.numel())`` of ``build_model(model_name, **overrides)``."""
    return int(count_model_parameters(build_model(model_name, **overrides)))


def _row_config(base: TrainConfig, row: AblationRow, row_dir: Path) -> TrainConfig:
    """Return the base config with the row's changes, writing to ``row_dir``."""
    changes = dict(row.changes)
    overrides = {**base.model_overrides, **changes.pop('model_overrides', {})}
    teacher = base.teacher if changes.get('kd', base.kd) != 'none' else None
    return replace(base, out=str(row_dir), model_overrides=overrides, teacher=teacher,
                   **changes)


def _train_minutes(row_dir: Path) -> str:
    """Training wall time of a row in minutes (``wall_s`` of its ``log.csv``), or '-'."""
    try:
        with open(row_dir / 'log.csv', newline='') as handle:
            last = list(csv.DictReader(handle))[-1]
        return f"{float(last['wall_s']) / 60.0:.1f}"
    except (OSError, IndexError, KeyError, ValueError):
        return '-'


def write_table(table: str, rows: list[dict[str, Any]], out_dir: Path) -> tuple[Path, Path]:
    """Write ``out_dir/<table>.md`` and ``.csv`` from finished row results.

    Accuracy is the best validation accuracy at 30° (the checkpoint is chosen on it); the
    training time comes from each row's ``log.csv`` (resumed runs count every part).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if not rows:
        columns: list[str] = []
    else:
        columns = list(rows[0]['columns']) + ['Params', 'Val accuracy (%)', 'Best epoch',
                                              'Train (min)']
    records = [{**r['columns'], 'Params': str(r['params']),
                'Val accuracy (%)': f"{100 * r['best_accuracy']:.2f}",
                'Best epoch': str(r['best_epoch']),
                'Train (min)': _train_minutes(out_dir / 'rows' / r['key'])} for r in rows]
    md = out_dir / f'{table}.md'
    lines = ['| ' + ' | '.join(columns) + ' |', '|' + '---|' * len(columns)]
    lines += ['| ' + ' | '.join(rec[c] for c in columns) + ' |' for rec in records]
    md.write_text('\n'.join(lines) + '\n')
    path_csv = out_dir / f'{table}.csv'
    with open(path_csv, 'w', newline='') as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(records)
    return md, path_csv


def run_ablation(
    table: str,
    base: TrainConfig,
    out_dir: str | Path,
    train_fn: Callable[..., Any] | None = None,
) -> list[dict[str, Any]]:
    """Train every row of ``table`` in turn (resumable) and write the tables.

    Args:
        table: ``'table5'`` (needs ``base.teacher``) or ``'table6'``.
        base: options shared by all rows (its ``out`` and KD fields are replaced per row).
        out_dir: folder of the row runs and the tables.
        train_fn: ``train(config, resume=...)`` (default :func:`trainer.train`).

    Returns:
        One dict per row: key, columns, params, best_accuracy, best_epoch.
    """
    if train_fn is None:
        train_fn = train
    rows = table_rows(table)
    if table == 'table5' and not base.teacher:
        raise ValueError('ablation table5: --teacher WEIGHTS is required for the KD rows')
    out = Path(out_dir)
    results: list[dict[str, Any]] = []
    for row in rows:
        row_dir = out / 'rows' / row.key
        done = row_dir / 'result.json'
        if done.is_file():
            results.append(json.loads(done.read_text()))
        else:
            config = _row_config(base, row, row_dir)
            result = train_fn(config, resume=(row_dir / 'last.pt').is_file())
            record = {'key': row.key, 'columns': row.columns,
                      'params': count_parameters(config.model, config.model_overrides),
                      'best_accuracy': float(result.best_accuracy),
                      'best_epoch': int(result.best_epoch)}
            done.write_text(json.dumps(record, indent=2))
            results.append(record)
        write_table(table, results, out)
    return results
