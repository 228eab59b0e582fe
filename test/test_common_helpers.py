# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The package's data-file lookup (installed share, else source tree) and the polling wait."""

import threading

from kufenet_grasp.common import package_files
from kufenet_grasp.common.waiting import wait_until
import pytest


def _install(prefix, *files):
    """Make a fake install prefix that registers kufenet_grasp in the ament resource index."""
    marker = prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'kufenet_grasp'
    marker.parent.mkdir(parents=True)
    marker.write_text('')
    for name in files:
        path = prefix / 'share' / 'kufenet_grasp' / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('installed')
    return prefix / 'share' / 'kufenet_grasp'


def test_the_share_is_the_first_prefix_that_registers_the_package(tmp_path, monkeypatch):
    other = tmp_path / 'other'
    (other / 'share').mkdir(parents=True)
    share = _install(tmp_path / 'install', 'config/grippers/franka_hand.yaml')
    monkeypatch.setenv('AMENT_PREFIX_PATH', f'{other}:{tmp_path / "install"}')
    assert package_files.share_dir() == share
    found = package_files.package_file('config', 'grippers', 'franka_hand.yaml')
    assert found == share / 'config' / 'grippers' / 'franka_hand.yaml'
    # what the share lacks comes from the source checkout
    assert package_files.package_file('config', 'executor.yaml') == \
        package_files.SOURCE_ROOT / 'config' / 'executor.yaml'


def test_without_an_install_files_come_from_the_source_tree(tmp_path, monkeypatch):
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(tmp_path))
    assert package_files.share_dir() is None
    assert package_files.package_roots() == [package_files.SOURCE_ROOT]
    assert package_files.package_file('config', 'detector.yaml').is_file()
    assert package_files.find_package_file('config', 'none.yaml') is None
    with pytest.raises(FileNotFoundError, match='config/none.yaml not found under'):
        package_files.package_file('config', 'none.yaml')


def test_wait_until_returns_when_another_thread_makes_the_condition_true():
    flag = threading.Event()
    threading.Timer(0.05, flag.set).start()
    assert wait_until(flag.is_set, 10.0)


def test_wait_until_gives_up_after_the_timeout_and_asks_once_more():
    calls = []
    assert not wait_until(lambda: calls.append(1) and False, 0.05, period_s=0.01)
    assert len(calls) >= 2
    assert wait_until(lambda: True, 0.0)  # a zero timeout still asks once
