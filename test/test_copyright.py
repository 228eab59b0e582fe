# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The license: every source file carries the project's header, and LICENSE is Apache-2.0.

This stands in for ament_copyright (no PyPI wheel): the convention is a two-line SPDX header
without a year, checked by tools/license_header.py (see CONTRIBUTING.md).
"""

import importlib.util
import pathlib
import subprocess
import sys

from catkin_pkg.package import parse_package

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOOL = ROOT / 'tools' / 'license_header.py'
_spec = importlib.util.spec_from_file_location('license_header', TOOL)
license_header = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(license_header)


def test_every_source_file_has_the_license_header():
    result = subprocess.run([sys.executable, str(TOOL)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-6000:]


def test_the_source_files_include_every_kind_of_source():
    files = {path.relative_to(ROOT).as_posix() for path in license_header.source_files()}
    for expected in ('setup.py', 'env.sh', 'kufenet_grasp/__init__.py',
                     'kufenet_msgs/CMakeLists.txt', 'launch/grasp_pipeline.launch.py',
                     'test/test_copyright.py', 'tools/license_header.py'):
        assert expected in files
    assert not any(part in {'build', 'install', 'log', '__pycache__'}
                   for name in files for part in pathlib.PurePosixPath(name).parts)


def test_a_missing_or_changed_header_is_reported(tmp_path):
    bare = tmp_path / 'bare.py'
    bare.write_text('"""A module."""\n')
    other = tmp_path / 'other.py'
    other.write_text('# Copyright kufenet_grasp maintainers\n# SPDX-License-Identifier: MIT\n')
    good = tmp_path / 'good.py'
    good.write_text('#!/usr/bin/env python3\n' + '\n'.join(license_header.HEADER) + '\n')
    assert license_header.problem(good) is None
    assert 'bare.py:1: expected' in license_header.problem(bare)
    assert "other.py:2: expected '# SPDX-License-Identifier: Apache-2.0', found '# SPDX" in (
        license_header.problem(other))
    assert license_header.main([str(bare), str(good)]) == 1
    assert license_header.main([str(good)]) == 0


def test_fix_adds_the_header_after_a_shebang_and_only_once(tmp_path):
    script = tmp_path / 'script.py'
    script.write_text('#!/usr/bin/env python3\n"""A script."""\nprint(1)\n')
    empty = tmp_path / '__init__.py'
    empty.write_text('')
    assert license_header.main(['--fix', str(script), str(empty)]) == 0
    assert script.read_text() == ('#!/usr/bin/env python3\n' + '\n'.join(license_header.HEADER)
                                  + '\n"""A script."""\nprint(1)\n')
    assert empty.read_text() == '\n'.join(license_header.HEADER) + '\n'
    assert not license_header.add_header(script)
    assert script.read_text().count('SPDX') == 1


def test_license_file_and_package_metadata_agree_on_apache_2():
    text = (ROOT / 'LICENSE').read_text()
    assert text.split()[:4] == ['Apache', 'License', 'Version', '2.0,']
    assert 'END OF TERMS AND CONDITIONS' in text
    for path in (ROOT / 'package.xml', ROOT / 'kufenet_msgs' / 'package.xml'):
        assert [str(name) for name in parse_package(path).licenses] == ['Apache-2.0']
    assert "license='Apache-2.0'" in (ROOT / 'setup.py').read_text()
    assert all(line.endswith('Apache-2.0') for line in license_header.HEADER[1:])
