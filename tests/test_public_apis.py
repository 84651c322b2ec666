"""The code uses other packages through their public APIs only.

A name that starts with ``_`` (but does not end with one) is private to the package that defines it:
NumPy's ``numpy._core``, SciPy's ``scipy.signal._sosfilt`` or ``biosignals._stream``
may change or vanish in any release. Each top-level package of this project (engine,
biosignals, therapies, benchmarks) may use its own private modules and names; it may not
import another package's, nor reach them as attributes of an imported module or name.
Found with the ``ast`` module, so comments and docstrings do not count.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "biosignals", "therapies", "benchmarks", "console")


def _private(name: str) -> bool:
    """A dotted name with a private part: ``_x``; not ``__x__`` (a dunder) nor ``_x_`` (a
    "sunder" such as ctypes' ``_fields_``, public by convention)."""
    return any(p.startswith("_") and not p.endswith("_") for p in name.split("."))


def _foreign(module: str, own: str) -> bool:
    return module.split(".")[0] != own


class _Finder(ast.NodeVisitor):
    """Collects ``file:line: what`` for every use of another package's private names."""

    def __init__(self, own: str, where: str) -> None:
        self.own, self.where = own, where
        self.bound: dict[str, str] = {}  # local name -> what it was imported as
        self.found: list[str] = []

    def _flag(self, node: ast.AST, what: str) -> None:
        self.found.append(f"{self.where}:{getattr(node, 'lineno', 0)}: {what}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if _foreign(alias.name, self.own):
                if _private(alias.name):
                    self._flag(node, f"import {alias.name}")
                local = alias.asname or alias.name.split(".")[0]
                self.bound[local] = alias.name if alias.asname else local

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or not _foreign(module, self.own):
            return  # relative, or this package's own
        if _private(module):
            self._flag(node, f"from {module} import ...")
        for alias in node.names:
            if _private(alias.name):
                self._flag(node, f"from {module} import {alias.name}")
            self.bound[alias.asname or alias.name] = f"{module}.{alias.name}"

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain: list[str] = []
        base: ast.expr = node
        while isinstance(base, ast.Attribute):
            chain.append(base.attr)
            base = base.value
        if isinstance(base, ast.Name) and base.id in self.bound:
            dotted = ".".join([self.bound[base.id], *reversed(chain)])
            if _private(".".join(reversed(chain))):
                self._flag(node, dotted)
                return  # one finding per chain
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func, args = node.func, node.args
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        text = [a.value for a in args[:2] if isinstance(a, ast.Constant)]
        strings = [t for t in text if isinstance(t, str)]
        if name in {"getattr", "hasattr"} and len(args) >= 2 and strings:
            target = args[0]
            if isinstance(target, ast.Name) and target.id in self.bound and _private(strings[-1]):
                self._flag(node, f"{name}({self.bound[target.id]}, {strings[-1]!r})")
        module = strings[0] if name in {"import_module", "__import__"} and strings else ""
        if module and _foreign(module, self.own) and _private(module):
            self._flag(node, f"{name}({module!r})")
        self.generic_visit(node)


def private_uses(path: Path, own: str) -> list[str]:
    """Every use of another package's private module or name in the file at ``path``."""
    finder = _Finder(own, str(path.relative_to(ROOT)))
    finder.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return finder.found


def test_ci_tests_the_lowest_numpy_and_scipy_pyproject_allows() -> None:
    """numpy and scipy have a lower and an upper bound, and the versions CI pins for its
    lowest-versions run (.ci/lowest-versions.txt) are exactly the lower bounds."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    bounds = {}
    for dep in deps:
        m = re.fullmatch(r"(numpy|scipy)>=([0-9.]+),<([0-9.]+)", dep.replace(" ", ""))
        if m:
            bounds[m[1]] = m[2]
    pins = dict(
        line.split("==")
        for line in (ROOT / ".ci" / "lowest-versions.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert set(bounds) == {"numpy", "scipy"}, f"numpy/scipy need >=low,<high bounds: {deps}"
    assert pins == bounds
    assert "lowest-versions.txt" in (ROOT / ".ci" / "run").read_text()


def _sources() -> Iterator[tuple[Path, str]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path, package


def test_no_package_uses_another_packages_private_names() -> None:
    found = [hit for path, package in _sources() for hit in private_uses(path, package)]
    assert not found, "private names of other packages used:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("own", "source", "hits"),
    [
        ("biosignals", "from scipy.signal._sosfilt import _sosfilt", 2),
        ("biosignals", "from numpy._core import multiarray", 1),
        ("biosignals", "import numpy._core.multiarray as m", 1),
        ("biosignals", "from scipy.ndimage import _nd_image", 1),
        ("biosignals", "import numpy as np\nnp._core.multiarray.correlate2(a, v, 0)", 1),
        ("biosignals", "import scipy.signal\nscipy.signal._sosfilt", 1),
        ("biosignals", "import importlib\nimportlib.import_module('numpy._core')", 1),
        ("biosignals", "import numpy as np\ngetattr(np, '_core')", 1),
        ("engine", "from biosignals._stream import History", 1),
        ("engine", "from biosignals import pipeline\npipeline._monitor('eda', 1.0, None)", 1),
        ("engine", "import ctypes\nissubclass(t, ctypes._Pointer)", 1),
        ("benchmarks", "from engine.record.bench import _FRAME_RATE", 1),
        # allowed: public names, dunders, sunders, own private modules, relative imports
        ("biosignals", "import numpy as np\nnp.correlate(a, v)\nnp.__version__", 0),
        ("engine", "import ctypes\nctypes.Structure._fields_", 0),
        ("engine", "from engine.render._gl import GL\nfrom engine import __version__", 0),
        ("engine", "from . import _gl\nfrom ._gaze import head_pose", 0),
        ("engine", "x = thing._private\nself._x = 1", 0),
    ],
)
def test_the_check_sees_private_names(own: str, source: str, hits: int) -> None:
    """The check itself, on a few lines placed in a module of package ``own``."""
    finder = _Finder(own, f"{own}/probe.py")
    finder.visit(ast.parse(source))
    assert len(finder.found) == hits, finder.found
