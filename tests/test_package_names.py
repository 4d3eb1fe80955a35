"""The package folder holds no module named like a standard-library one.

Python puts the script's folder first on ``sys.path``, so running a script from
inside ``graphcl_rec/`` would import such a module instead of the standard one
(a ``typing.py`` there broke ``import typing``).
"""

import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "graphcl_rec"


def test_no_top_level_module_shadows_the_standard_library():
    names = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert names, PACKAGE
    assert not sorted(names & set(sys.stdlib_module_names))
