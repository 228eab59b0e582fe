# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Point the ROS 2 wheels' CMake export files at this interpreter's include folders.

The PyPI ROS 2 wheels were built under /opt/python/cp311-cp311; their exported CMake
targets name that machine's Python and NumPy include folders, which makes CMake stop with
"Imported target ... includes non-existent path". This rewrites those paths in
``$VIRTUAL_ENV/share/*/cmake/*.cmake`` to this interpreter's. Idempotent.
"""

from __future__ import annotations

import pathlib
import re
import sys
import sysconfig

import numpy

PYTHON_INCLUDE = re.compile(r'/opt/python/cp311-cp311/include/python3\.11')
NUMPY_INCLUDE = re.compile(
    r'/opt/python/cp311-cp311/lib/python3\.11/site-packages/numpy/_core/include')


def main() -> int:
    """Rewrite the include paths; print how many files changed."""
    prefix = pathlib.Path(sys.prefix)
    python_include = sysconfig.get_paths()['include']
    numpy_include = numpy.get_include()
    changed = 0
    for path in prefix.glob('share/*/cmake/*.cmake'):
        text = path.read_text()
        new = NUMPY_INCLUDE.sub(numpy_include, PYTHON_INCLUDE.sub(python_include, text))
        if new != text:
            path.write_text(new)
            changed += 1
    print(f'fix_ros_wheel_cmake: {changed} CMake files rewritten under {prefix}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
