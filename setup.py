# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""ament_python package kufenet_grasp: KufeNet grasp detection for ROS 2."""

from glob import glob
import os

from setuptools import find_packages, setup

package_name = 'kufenet_grasp'


def data_tree(folder: str, patterns: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """Install every file under ``folder`` matching ``patterns`` into share/<package>/folder."""
    entries: dict[str, list[str]] = {}
    for pattern in patterns:
        for path in glob(os.path.join(folder, '**', pattern), recursive=True):
            if os.path.isfile(path):
                target = os.path.join('share', package_name, os.path.dirname(path))
                entries.setdefault(target, []).append(path)
    return sorted((target, sorted(files)) for target, files in entries.items())


setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(include=[package_name, f'{package_name}.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{package_name}']),
        (f'share/{package_name}', ['package.xml', 'README.md']),
        *data_tree('launch', ('*.py',)),
        *data_tree('config', ('*.yaml', '*.rviz', '*.xml')),
        *data_tree('models', ('*.safetensors', '*.onnx', '*.xml', '*.bin', 'SHA256SUMS', '*.md')),
    ],
    install_requires=['setuptools'],
    extras_require={
        # what test/ needs beyond the runtime dependencies (colcon test runs it with pytest)
        'test': ['pytest', 'pytest-timeout', 'hypothesis', 'lxml', 'mypy'],
    },
    zip_safe=False,
    maintainer='kufenet_grasp maintainers',
    maintainer_email='maintainers@kufenet.dev',
    description='Fast planar grasp detection (KufeNet) from one RGB-D camera for ROS 2 arms.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'kufenet = kufenet_grasp.cli.main:main',
            'grasp_detector = kufenet_grasp.nodes.grasp_detector:main',
            'sim_world = kufenet_grasp.nodes.sim_world:main',
            'grasp_executor = kufenet_grasp.nodes.grasp_executor:main',
        ],
    },
)
