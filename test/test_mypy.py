# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""mypy finds no type error in kufenet_grasp/ with the configuration in setup.cfg.

ament_mypy has no PyPI wheel; like it, this runs mypy in a fresh interpreter. The settings and
the list of modules not yet held to them are in setup.cfg, the reasons in CONTRIBUTING.md.
"""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'mypy', '--config-file', str(ROOT / 'setup.cfg'),
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=1800)


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
