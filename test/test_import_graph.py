# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The folders of kufenet_grasp are its layers: no import goes up, none crosses into ROS early.

Read from the source with ``ast`` (nothing is imported), every ``import`` counts, also those
inside functions and ``if TYPE_CHECKING`` blocks. docs/ARCHITECTURE.md draws the same order.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / 'kufenet_grasp'

#: the sub-packages from the lowest layer to the highest; a module may import its own folder
#: and the folders listed before it, never one listed after it
LAYERS = (
    'common',     # types every layer shares (GraspStatus, float tuples)
    'geometry',   # camera model, transforms, grasp frame, width, finger check
    'grasp',      # grasp rectangle, labels, maps, metric, pre- and post-processing
    'models',     # networks, registry, weights files
    'data',       # dataset readers, splits, augmentation, the PyTorch dataset
    'deploy',     # export, inference backends
    'detection',  # the ROS-free detector pipeline
    'execution',  # pick sequence, its checks, the motion-backend interface
    'sim',        # PyBullet world, robot, simulated motion backend, dataset generator
    'training',   # losses, training loop, evaluation, camera sweeps on rendered data
    'runtime',    # ROS-free helpers of the nodes (frame sync, image decoding, worker, tables)
    'offline',    # the detector on recorded files and bags without ROS (kufenet detect)
    'nodes',      # rclpy nodes and the ROS glue
    'demo',       # the simulated pick-and-place demo (starts the nodes)
    'bench',      # measurement, down to the running node over DDS
    'cli',        # the kufenet command
)
#: the first layer that may import a ROS package; every layer below it is ROS-free
FIRST_ROS_LAYER = 'nodes'
ROS_PACKAGES = frozenset({
    'action_msgs', 'ament_index_python', 'builtin_interfaces', 'cv_bridge',
    'diagnostic_msgs', 'geometry_msgs', 'kufenet_msgs', 'launch', 'launch_ros',
    'lifecycle_msgs', 'message_filters', 'moveit', 'rcl_interfaces', 'rclpy',
    'rosidl_runtime_py', 'sensor_msgs', 'std_msgs', 'tf2_msgs', 'tf2_ros',
    'visualization_msgs',
})


def _modules() -> list[pathlib.Path]:
    return sorted(PACKAGE.rglob('*.py'))


def _layer(path: pathlib.Path) -> str | None:
    """Sub-package a module belongs to (None for the package's own ``__init__``)."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


def _imports(path: pathlib.Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the module at ``path``."""
    return _imports_in(path.read_text(), path.relative_to(PACKAGE).parent.parts)


def _imports_in(source: str, folder: tuple[str, ...]) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, a module of ``folder``."""
    package_parts = ['kufenet_grasp', *folder]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[:len(package_parts) - (node.level - 1)]
                name = '.'.join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ''
            found.append((node.lineno, name))
    return found


def _project_layer(module: str) -> str | None:
    parts = module.split('.')
    return parts[1] if parts[0] == 'kufenet_grasp' and len(parts) > 1 else None


def test_every_folder_is_a_layer_and_every_layer_a_folder():
    folders = {p.name for p in PACKAGE.iterdir() if (p / '__init__.py').is_file()}
    assert folders == set(LAYERS)
    assert len(LAYERS) == len(set(LAYERS))


def test_no_module_imports_a_higher_layer():
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = []
    for path in _modules():
        layer = _layer(path)
        if layer is None:
            continue
        for line, module in _imports(path):
            target = _project_layer(module)
            if target in rank and rank[target] > rank[layer]:
                upward.append(f'{path.relative_to(PACKAGE.parent)}:{line} imports {module}')
    assert upward == []


def test_no_import_cycle_between_folders():
    """Follows from the order above; checked on the graph so that no new folder hides one."""
    edges: dict[str, set[str]] = {}
    for path in _modules():
        layer = _layer(path)
        for _, module in _imports(path):
            target = _project_layer(module)
            if layer and target and target != layer:
                edges.setdefault(layer, set()).add(target)
    state: dict[str, str] = {}

    def visit(folder: str, trail: tuple[str, ...]) -> None:
        if state.get(folder) == 'done':
            return
        assert state.get(folder) != 'open', ' -> '.join(trail + (folder,))
        state[folder] = 'open'
        for target in sorted(edges.get(folder, ())):
            visit(target, trail + (folder,))
        state[folder] = 'done'

    for folder in sorted(edges):
        visit(folder, ())


def test_layers_below_the_nodes_import_no_ros_package():
    ros_free = set(LAYERS[:LAYERS.index(FIRST_ROS_LAYER)])
    found = []
    for path in _modules():
        if _layer(path) in ros_free or _layer(path) is None:
            found += [f'{path.relative_to(PACKAGE.parent)}:{line} imports {module}'
                      for line, module in _imports(path)
                      if module.split('.')[0] in ROS_PACKAGES]
    assert found == []


@pytest.mark.parametrize('source, expected', [
    ('import kufenet_grasp.nodes.qos\n', ['kufenet_grasp.nodes.qos']),
    ('from ..nodes import qos\n', ['kufenet_grasp.nodes']),
    ('def f():\n    from kufenet_grasp.cli import main\n', ['kufenet_grasp.cli']),
    ('from . import scene\n', ['kufenet_grasp.sim']),
])
def test_the_import_reader_sees_absolute_relative_and_local_imports(source, expected):
    """The checks above would pass vacuously if the reader missed an import form."""
    assert [name for _, name in _imports_in(source, ('sim',))] == expected
    assert [_project_layer(name) for name in expected][0] in LAYERS
