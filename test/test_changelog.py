# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Each package's CHANGELOG.rst is in the form catkin_generate_changelog maintains.

catkin_pkg's parser is the one bloom and catkin_prepare_release read the file with: a title
``Changelog for package NAME`` and one ``VERSION (YYYY-MM-DD)`` section per release, newest
first. The newest release must be the version package.xml declares.
"""

import pathlib

from catkin_pkg.changelog import get_changelog_from_path
from catkin_pkg.package import parse_package
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize('folder', [ROOT, ROOT / 'kufenet_msgs'],
                         ids=['kufenet_grasp', 'kufenet_msgs'])
def test_changelog_parses_and_its_newest_release_is_the_package_version(folder):
    package = parse_package(folder / 'package.xml')
    path = folder / 'CHANGELOG.rst'
    first_line = path.read_text().splitlines()[1]
    assert first_line == f'Changelog for package {package.name}'
    releases = list(get_changelog_from_path(str(path), package.name).foreach_version())
    assert releases, f'{path}: no "VERSION (YYYY-MM-DD)" section'
    versions = [version for version, _, _ in releases]
    assert versions[0] == package.version
    assert len(set(versions)) == len(versions)
    assert all(str(block).startswith('* ') for _, _, content in releases for block in content)
