"""The ROS 2 Python linters (ament_flake8, ament_pep257) pass on the project's Python code."""

import pathlib

from ament_flake8.main import main_with_errors as flake8_main
from ament_pep257.main import main as pep257_main

ROOT = pathlib.Path(__file__).resolve().parents[1]
PEP257_IGNORE = "D100,D101,D102,D103,D104,D105,D106,D107,D203,D212,D404,D401"
PATHS = [str(ROOT / p) for p in ("kufenet_grasp", "launch", "test", "tools", "setup.py")
         if (ROOT / p).exists()]


def test_flake8():
    rc, errors = flake8_main(argv=["--config", str(ROOT / "setup.cfg"), *PATHS])
    assert rc == 0, f"{len(errors)} flake8 errors:\n" + "\n".join(errors[:50])


def test_pep257():
    # The pep257 convention (summary on the first line, Google-style sections) with ament's
    # list of ignored codes: a docstring is not required everywhere, but present ones are checked.
    rc = pep257_main(argv=[*PATHS, "--convention", "pep257", "--add-ignore", PEP257_IGNORE])
    assert rc == 0, "pep257 found docstring errors (see captured output)"
