# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Every test module that starts ROS carries the ``ros`` marker, so make test-fast stays fast.

``make test-fast`` runs ``-m 'not ros and not slow'``; a module that spins rclpy nodes without
the marker would slip DDS waits into it. Read with ``ast``: a module that imports rclpy, or
the fixtures that start a ROS context, must set ``pytestmark = pytest.mark.ros``; a test
function that imports them inside its body may carry ``@pytest.mark.ros`` instead.
"""

import ast
import pathlib

import pytest

TESTS = pathlib.Path(__file__).resolve().parent
#: imports that mean a module starts rclpy (directly or through the shared fixtures)
ROS_STARTERS = {'rclpy', 'launch_testing', 'node_fixtures.init_ros', 'node_fixtures.Spinner',
                'kufenet_grasp.demo.run_demo.run_demo'}


def _imported(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split('.')[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split('.')[0])
            names |= {f'{node.module}.{alias.name}' for alias in node.names}
    return names


def _marks(tree: ast.Module) -> set[str]:
    """Return the marker names of a module-level ``pytestmark = pytest.mark.NAME``."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == 'pytestmark' for t in node.targets):
            values = node.value.elts if isinstance(node.value, ast.List) else [node.value]
            return {v.attr for v in values if isinstance(v, ast.Attribute)}
    return set()


def _decorated_ros(function: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Attribute) and d.attr == 'ros' for d in function.decorator_list)


def _unmarked(tree: ast.Module) -> list[str]:
    """Return what starts ROS without the marker: '<module>' or the names of test functions."""
    if 'ros' in _marks(tree):
        return []
    module_level = [n for n in tree.body if not isinstance(n, ast.FunctionDef)]
    if _imported(ast.Module(body=module_level, type_ignores=[])) & ROS_STARTERS:
        return ['<module>']
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef)
            and _imported(ast.Module(body=[n], type_ignores=[])) & ROS_STARTERS
            and not _decorated_ros(n)]


def test_modules_that_start_ros_are_marked_ros():
    unmarked = {}
    for path in sorted(TESTS.glob('test_*.py')):
        found = _unmarked(ast.parse(path.read_text()))
        if found:
            unmarked[path.name] = found
    assert unmarked == {}


@pytest.mark.parametrize('source, starts_ros, marks', [
    ('import rclpy\n', True, set()),
    ('from node_fixtures import Spinner, wait_for\n', True, set()),
    ('from node_fixtures import oracle_factory\n', False, set()),
    ('import pytest\npytestmark = pytest.mark.ros\n', False, {'ros'}),
    ('import pytest\npytestmark = [pytest.mark.ros, pytest.mark.slow]\n', False, {'ros', 'slow'}),
])
def test_the_reader_sees_ros_imports_and_markers(source, starts_ros, marks):
    tree = ast.parse(source)
    assert bool(_imported(tree) & ROS_STARTERS) == starts_ros
    assert _marks(tree) == marks


def test_a_function_that_imports_rclpy_needs_its_own_marker_or_the_modules():
    body = 'def test_a():\n    import rclpy\n'
    assert _unmarked(ast.parse('import pytest\n' + body)) == ['test_a']
    assert _unmarked(ast.parse('import pytest\n@pytest.mark.ros\n' + body)) == []
    assert _unmarked(ast.parse('import pytest\npytestmark = pytest.mark.ros\n' + body)) == []
