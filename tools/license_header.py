# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Check, or add, the license header that every source file of this repository starts with.

The header is two comment lines (after a ``#!`` line, if the file has one)::

    # Copyright kufenet_grasp maintainers
    # SPDX-License-Identifier: Apache-2.0

It names the copyright holder and the license (the full text is in LICENSE) without a year, so
no file changes just because a year went by.

    python tools/license_header.py          # report files without the header, exit 1 if any
    python tools/license_header.py --fix    # add the header where it is missing
"""

import argparse
import fnmatch
import pathlib
import sys

HEADER = ('# Copyright kufenet_grasp maintainers', '# SPDX-License-Identifier: Apache-2.0')
ROOT = pathlib.Path(__file__).resolve().parents[1]
# the source trees, relative to the repository root, and which files in them carry the header
SOURCES = ('kufenet_grasp', 'kufenet_msgs', 'launch', 'test', 'tools', 'setup.py', 'env.sh')
PATTERNS = ('*.py', '*.sh', 'CMakeLists.txt', '*.cmake')
SKIP_DIRS = {'__pycache__', '.git', 'build', 'install', 'log'}


def source_files(root: pathlib.Path = ROOT) -> list[pathlib.Path]:
    """Every file under the source trees of ``root`` that must carry the header, sorted."""
    found = []
    for name in SOURCES:
        top = root / name
        candidates = [top] if top.is_file() else top.rglob('*')
        for path in candidates:
            if (path.is_file() and not SKIP_DIRS & set(path.relative_to(root).parts)
                    and any(fnmatch.fnmatch(path.name, p) for p in PATTERNS)):
                found.append(path)
    return sorted(found)


def _header_start(lines: list[str]) -> int:
    """Index of the line where the header belongs: after a shebang, else the first line."""
    return 1 if lines and lines[0].startswith('#!') else 0


def problem(path: pathlib.Path) -> str | None:
    """Say what is wrong with the header of ``path``, or None when it is in place."""
    lines = path.read_text(encoding='utf-8').splitlines()
    start = _header_start(lines)
    for offset, expected in enumerate(HEADER):
        index = start + offset
        actual = lines[index] if index < len(lines) else None
        if actual != expected:
            found = 'nothing' if actual is None else repr(actual)
            return f'{path}:{index + 1}: expected {expected!r}, found {found}'
    return None


def add_header(path: pathlib.Path) -> bool:
    """Insert the header into ``path`` unless it is there already; True when the file changed."""
    if problem(path) is None:
        return False
    text = path.read_text(encoding='utf-8')
    lines = text.splitlines(keepends=True)
    start = _header_start(lines)
    header = ''.join(line + '\n' for line in HEADER)
    if start and not lines[0].endswith('\n'):
        lines[0] += '\n'
    path.write_text(''.join(lines[:start]) + header + ''.join(lines[start:]), encoding='utf-8')
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--fix', action='store_true', help='add the header where it is missing')
    parser.add_argument('paths', nargs='*', type=pathlib.Path,
                        help='files to check (default: every source file of the repository)')
    args = parser.parse_args(argv)
    paths = args.paths or source_files()
    if args.fix:
        changed = [path for path in paths if add_header(path)]
        for path in changed:
            print(f'added the license header to {path}')
    problems = [message for message in map(problem, paths) if message]
    for message in problems:
        print(message)
    if problems:
        print(f'{len(problems)} of {len(paths)} files lack the license header; '
              'add it with: python tools/license_header.py --fix')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
