# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Every dependency in the two package.xml files resolves with rosdep on ROS 2 Jazzy.

``rosdep install --from-paths src --ignore-src`` stops at the first key it cannot locate, so a
dependency must be one of: a package of this workspace (skipped by ``--ignore-src``), a package
released into Jazzy (``jazzy/distribution.yaml``), or a rosdep key with a rule for Ubuntu noble,
Jazzy's platform (``rosdep/*.yaml``). The rosdistro files are excerpts kept in
``test/rosdistro`` (see its README for the commit they were copied from).
"""

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
