# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""mypy finds no type error in kufenet_grasp/ with the configuration in setup.cfg.

ament_mypy has no PyPI wheel; like it, this runs mypy in a fresh interpreter. The settings are
in setup.cfg, the reasons in CONTRIBUTING.md; no module is excused from them.
"""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'mypy', '--config-file', str(ROOT / 'setup.cfg'),
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=1800)


# a checker over every module, like test_lint (a minute or more on two cores); the probe below
# keeps mypy's configuration in make test-fast
@pytest.mark.slow
def test_mypy_finds_no_error_in_kufenet_grasp():
    result = _mypy()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_the_configuration_checks_unannotated_functions_too(tmp_path):
    # check_untyped_defs: the body of a function without annotations is checked as well
    probe = tmp_path / 'probe.py'
    probe.write_text('def scale(values):\n    return len(values) + "m"\n')
    result = _mypy('--no-incremental', '--cache-dir', str(tmp_path / 'cache'), str(probe))
    assert result.returncode == 1
    assert 'probe.py:2: error: Unsupported operand types for + ("int" and "str")' in result.stdout


def test_no_module_is_excused_and_no_error_is_silenced():
    config = (ROOT / 'setup.cfg').read_text()
    assert 'ignore_errors' not in config
    silenced = [f'{path.relative_to(ROOT)}:{number}'
                for path in sorted((ROOT / 'kufenet_grasp').rglob('*.py'))
                for number, line in enumerate(path.read_text().splitlines(), start=1)
                if '# type: ignore' in line]
    assert silenced == [], 'fix the type instead (CONTRIBUTING.md, "Type checking")'
