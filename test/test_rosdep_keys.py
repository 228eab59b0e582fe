# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Every dependency in the two package.xml files resolves with rosdep on ROS 2 Jazzy.

``rosdep install --from-paths src --ignore-src`` stops at the first key it cannot locate, so a
dependency must be one of: a package of this workspace (skipped by ``--ignore-src``), a package
released into Jazzy (``jazzy/distribution.yaml``), or a rosdep key with a rule for Ubuntu noble,
Jazzy's platform (``rosdep/*.yaml``). The rosdistro files are excerpts kept in
``test/rosdistro`` (see its README for the commit they were copied from).
"""

import ast
import pathlib

from catkin_pkg.package import parse_package, parse_package_string
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
ROSDISTRO = ROOT / 'test' / 'rosdistro'
PACKAGE_XMLS = [ROOT / 'package.xml', ROOT / 'kufenet_msgs' / 'package.xml']
PLATFORM = ('ubuntu', 'noble')
# rosdep's installer names: a rule keyed by one of these applies to every OS version
INSTALLERS = {'apt', 'pip', 'source', 'packages'}


def dependency_names(package) -> set[str]:
    """Return every name a catkin_pkg Package depends on (``<depend>`` counts as all three)."""
    groups = (package.build_depends, package.buildtool_depends, package.build_export_depends,
              package.buildtool_export_depends, package.exec_depends, package.test_depends,
              package.doc_depends)
    return {dependency.name for group in groups for dependency in group}


def released_packages(distribution: dict) -> set[str]:
    """Names of the packages a rosdistro distribution file releases."""
    names = set()
    for repository_name, repository in distribution['repositories'].items():
        release = repository.get('release')
        if release is None:
            continue
        # a repository holding a single package lists none: the package is the repository
        names.update(release.get('packages', [repository_name]))
    return names


def resolves_on(rule, os_name: str, os_version: str) -> bool:
    """Whether a rosdep key's rule installs something (or nothing on purpose) on that OS."""
    if not isinstance(rule, dict) or os_name not in rule:
        return False
    os_rule = rule[os_name]
    if isinstance(os_rule, list):
        return True
    if not isinstance(os_rule, dict):
        return False
    if os_version in os_rule:
        return os_rule[os_version] is not None
    if '*' in os_rule:
        return os_rule['*'] is not None
    return bool(INSTALLERS & set(os_rule))


def rosdep_rules() -> dict:
    rules = {}
    for path in sorted((ROSDISTRO / 'rosdep').glob('*.yaml')):
        rules.update(yaml.safe_load(path.read_text()) or {})
    return rules


def unresolved(package, workspace: set[str], released: set[str], rules: dict) -> list[str]:
    """Dependencies of ``package`` that rosdep could not install on Jazzy, with the reason."""
    problems = []
    for name in sorted(dependency_names(package)):
        if name in workspace or name in released:
            continue
        if name not in rules:
            problems.append(f'{name}: no such ROS package in Jazzy and no such rosdep key')
        elif not resolves_on(rules[name], *PLATFORM):
            problems.append(f'{name}: the rosdep key has no rule for {" ".join(PLATFORM)}')
    return problems


@pytest.fixture(scope='module')
def index():
    distribution = yaml.safe_load((ROSDISTRO / 'jazzy' / 'distribution.yaml').read_text())
    workspace = {parse_package(path).name for path in PACKAGE_XMLS}
    return workspace, released_packages(distribution), rosdep_rules()


@pytest.mark.parametrize('path', PACKAGE_XMLS, ids=['kufenet_grasp', 'kufenet_msgs'])
def test_every_dependency_resolves_on_jazzy(path, index):
    problems = unresolved(parse_package(path), *index)
    assert not problems, (f'{path.relative_to(ROOT)}: rosdep install would stop at:\n  '
                          + '\n  '.join(problems) + '\n(see test/rosdistro/README.md)')


def _package_with(*dependencies: str):
    lines = '\n'.join(f'  <exec_depend>{name}</exec_depend>' for name in dependencies)
    return parse_package_string(f"""<?xml version="1.0"?>
<package format="3">
  <name>probe</name>
  <version>0.0.0</version>
  <description>probe</description>
  <maintainer email="probe@example.com">probe</maintainer>
  <license>Apache-2.0</license>
{lines}
</package>
""")


def test_an_unknown_key_is_reported(index):
    # the key package.xml once named: rosdistro defines neither it nor python3-safetensors
    problems = unresolved(_package_with('python3-safetensors-pip', 'rclpy', 'kufenet_msgs',
                                        'python3-numpy', 'python3-pybullet-pip'), *index)
    assert problems == ['python3-safetensors-pip: no such ROS package in Jazzy and no such '
                        'rosdep key']


def test_a_key_without_a_rule_for_noble_is_reported():
    rules = {'python3-mypy': {'debian': {'buster': ['python3-mypy']}},
             'only-old': {'ubuntu': {'focal': ['x'], 'jammy': ['x']}},
             'dropped': {'ubuntu': {'*': ['x'], 'noble': None}},
             'star': {'ubuntu': {'*': ['x'], 'bionic': None}},
             'via-pip': {'ubuntu': {'pip': {'packages': ['x']}}},
             'listed': {'ubuntu': ['x']}}
    problems = unresolved(_package_with(*rules), set(), set(), rules)
    assert problems == ['dropped: the rosdep key has no rule for ubuntu noble',
                        'only-old: the rosdep key has no rule for ubuntu noble',
                        'python3-mypy: the rosdep key has no rule for ubuntu noble']


def test_a_single_package_repository_releases_its_own_name():
    distribution = {'repositories': {
        'rclpy': {'release': {'version': '7.1.6-1'}},
        'launch_ros': {'release': {'packages': ['launch_ros', 'launch_testing_ros']}},
        'source_only': {'source': {'type': 'git'}}}}
    assert released_packages(distribution) == {'rclpy', 'launch_ros', 'launch_testing_ros'}


#: package.xml names whose Python module is called differently
MODULE_OF = {'python3-opencv': 'cv2'}
#: dependencies no ``import`` names, with (files, text) that shows where each is used
USED_WITHOUT_IMPORT = {
    'rviz2': ('launch/*.launch.py', "package='rviz2'"),
    'python3-pytest-timeout': ('setup.cfg', 'timeout = '),
    'python3-skimage': ('kufenet_grasp/sim/assets.py', "find_spec('skimage')"),
    # test_lint.py runs the linters in a fresh interpreter, from a script in a string
    'ament_flake8': ('test/test_lint.py', 'from ament_flake8.main import'),
    'ament_pep257': ('test/test_lint.py', 'from ament_pep257.main import'),
}
SOURCES = ('kufenet_grasp', 'launch', 'test', 'tools')


def imported_modules() -> set[str]:
    """Top-level names of every module the project's Python files import."""
    names = set()
    files = [path for folder in SOURCES for path in (ROOT / folder).rglob('*.py')]
    for path in files + [ROOT / 'setup.py']:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split('.')[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split('.')[0])
    return names


def module_of(dependency: str) -> str:
    """Python module of a package.xml dependency: rclpy, python3-numpy -> numpy, ..."""
    if dependency in MODULE_OF:
        return MODULE_OF[dependency]
    name = dependency.removeprefix('python3-').removesuffix('-pip')
    return name.replace('-', '_')


def test_kufenet_grasp_lists_only_dependencies_its_code_uses():
    declared = dependency_names(parse_package(ROOT / 'package.xml'))
    imported = imported_modules()
    unused = sorted(name for name in declared
                    if module_of(name) not in imported and name not in USED_WITHOUT_IMPORT)
    assert not unused, f'package.xml names dependencies no code uses: {unused}'
    for name, (pattern, text) in USED_WITHOUT_IMPORT.items():
        assert name in declared, f'{name} is used without an import but not in package.xml'
        assert any(text in path.read_text() for path in ROOT.glob(pattern)), (name, pattern)


def test_the_excerpts_hold_only_what_the_packages_use(index):
    _, released, rules = index
    declared = set().union(*(dependency_names(parse_package(path)) for path in PACKAGE_XMLS))
    assert sorted(set(rules) - declared) == []
    distribution = yaml.safe_load((ROSDISTRO / 'jazzy' / 'distribution.yaml').read_text())
    unused = [name for name, repository in distribution['repositories'].items()
              if not released_packages({'repositories': {name: repository}}) & declared]
    assert unused == []
