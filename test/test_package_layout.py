# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The repository is a well-formed ament_python package beside an ament_cmake interface package."""

import pathlib
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

from catkin_pkg.package import parse_package
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD_COMMAND = 'colcon build --symlink-install --base-paths . kufenet_msgs'
# colcon lives in the project's virtual environment, beside this interpreter.
COLCON = shutil.which('colcon') or str(pathlib.Path(sys.executable).with_name('colcon'))


def test_layout_has_every_promised_path():
    for rel in ('package.xml', 'setup.py', 'setup.cfg', 'resource/kufenet_grasp',
                'kufenet_grasp/__init__.py', 'kufenet_msgs/package.xml',
                'kufenet_msgs/CMakeLists.txt', 'launch', 'config', 'models', 'test',
                'README.md', 'Makefile', '.ci/run'):
        assert (ROOT / rel).exists(), rel


def test_package_xml_is_format_3_and_parses_with_catkin_pkg():
    for path in (ROOT / 'package.xml', ROOT / 'kufenet_msgs' / 'package.xml'):
        package = parse_package(str(path))
        assert package.package_format == 3
        package.validate()
    grasp = parse_package(str(ROOT / 'package.xml'))
    assert grasp.get_build_type() == 'ament_python'
    deps = {d.name for d in grasp.build_depends + grasp.exec_depends}
    assert {'rclpy', 'kufenet_msgs', 'sensor_msgs', 'geometry_msgs'} <= deps


def test_setup_uses_extras_require_and_underscore_keys():
    setup_py = (ROOT / 'setup.py').read_text()
    assert 'extras_require' in setup_py and 'tests_require' not in setup_py
    setup_cfg = (ROOT / 'setup.cfg').read_text()
    assert 'script_dir=$base/lib/kufenet_grasp' in setup_cfg
    assert 'install_scripts=$base/lib/kufenet_grasp' in setup_cfg
    assert 'script-dir' not in setup_cfg and 'install-scripts' not in setup_cfg


def test_every_interface_field_has_a_comment():
    """Each field line of every .msg/.srv/.action is preceded or followed by a comment."""
    files = sorted((ROOT / 'kufenet_msgs').glob('*/*.*'))
    assert {f.suffix for f in files} == {'.msg', '.srv', '.action'}
    field = re.compile(r'^[A-Za-z_][\w/]*(\[\d*\])?\s+[a-z_]\w*\s*(#.*)?$')
    for path in files:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if field.match(line.strip()):
                context = lines[max(0, i - 3):i + 1]
                assert any(c.strip().startswith('#') or '#' in c for c in context), (
                    f'{path.name}: field without a comment: {line}')


def test_readme_documents_the_build_command_naming_both_packages():
    readme = (ROOT / 'README.md').read_text()
    assert BUILD_COMMAND in readme
    assert BUILD_COMMAND in (ROOT / 'Makefile').read_text().replace('\\\n\t', '')


def test_documented_colcon_command_finds_both_packages():
    args = BUILD_COMMAND.replace('build --symlink-install', 'list').split()[1:]
    out = subprocess.run([COLCON, *args],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    names = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert names == {'kufenet_grasp', 'kufenet_msgs'}


@pytest.mark.slow
def test_documented_colcon_command_builds_both_packages(tmp_path):
    """Build into a scratch workspace with the documented command; both packages install."""
    cmd = [COLCON, *BUILD_COMMAND.split()[1:], '--build-base', str(tmp_path / 'build'),
           '--install-base', str(tmp_path / 'install')]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    install = tmp_path / 'install'
    assert (install / 'kufenet_msgs' / 'share' / 'kufenet_msgs' / 'msg' /
            'GraspRectangle.msg').exists()
    assert (install / 'kufenet_grasp' / 'share' / 'kufenet_grasp' / 'package.xml').exists()
    assert (install / 'kufenet_grasp' / 'lib' / 'kufenet_grasp' / 'kufenet').exists()
    generated = list((install / 'kufenet_msgs').rglob('_grasp_rectangle.py'))
    assert generated, 'no generated Python message module'
    shutil.rmtree(tmp_path / 'build', ignore_errors=True)


def test_msgs_package_declares_every_interface_file():
    cmake = (ROOT / 'kufenet_msgs' / 'CMakeLists.txt').read_text()
    for path in sorted((ROOT / 'kufenet_msgs').glob('*/*.*')):
        assert f'"{path.parent.name}/{path.name}"' in cmake, path.name
    tree = ET.parse(ROOT / 'kufenet_msgs' / 'package.xml')
    assert tree.find('member_of_group').text == 'rosidl_interface_packages'
