# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The ROS 2 Python linters (ament_flake8, ament_pep257) pass on the project's Python code.

Each linter runs in a fresh interpreter: flake8 forks worker processes, and forking a test
process that already holds torch and rclpy threads can deadlock.
"""

import pathlib
import subprocess
import sys

import pytest

#: runs the linters over every file (make test-fast leaves it out)
pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parents[1]
PEP257_IGNORE = 'D100,D101,D102,D103,D104,D105,D106,D107,D203,D212,D404,D401'
PATHS = [str(ROOT / p) for p in ('kufenet_grasp', 'launch', 'test', 'tools', 'setup.py')
         if (ROOT / p).exists()]

FLAKE8 = """
import sys
from ament_flake8.main import main_with_errors
rc, errors = main_with_errors(argv=sys.argv[1:])
sys.exit(rc)
"""
PEP257 = """
import sys
from ament_pep257.main import main
sys.exit(main(argv=sys.argv[1:]))
"""


def _run(script: str, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', script, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_flake8():
    # ament's default configuration, as `colcon test` runs it on a ROS 2 install (with the
    # flake8 plugins a Jazzy install brings: quotes, import order, docstrings, builtins, ...)
    result = _run(FLAKE8, PATHS)
    assert result.returncode == 0, 'flake8 errors:\n' + result.stdout[-6000:]


def test_pep257():
    # The pep257 convention (summary on the first line, Google-style sections) with ament's
    # list of ignored codes: a docstring is not required everywhere, but present ones are checked.
    result = _run(PEP257, [*PATHS, '--convention', 'pep257', '--add-ignore', PEP257_IGNORE])
    assert result.returncode == 0, 'pep257 errors:\n' + '\n'.join(
        line for line in result.stdout.splitlines() if ': D' in line)[-6000:]


def test_flake8_has_the_plugins_of_a_jazzy_install():
    # Without the plugins ament_flake8 still passes, silently checking much less.
    result = subprocess.run([sys.executable, '-m', 'flake8', '--version'], capture_output=True,
                            text=True, timeout=120)
    for plugin in ('flake8-quotes', 'import-order', 'flake8-docstrings', 'flake8-builtins',
                   'flake8-comprehensions', 'flake8-blind-except', 'flake8-class-newline',
                   'flake8-deprecated'):
        assert plugin in result.stdout.replace('\n', ''), f'{plugin} missing: {result.stdout}'
