"""Whole-codebase checks: lint, types, layering, no sleep pacing."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "biosignals", "therapies", "console")
SLEEP_CALL = "time." + "sleep("  # spelled apart so this file does not match itself


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


# The `vrtherapy` command (engine/cli.py) is the one engine module that names the console,
# the layer above: it builds the console's parsers and runs its commands, importing it
# inside functions only (test_console_imported_lazily).
ENTRY_POINT = ROOT / "engine" / "cli.py"


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("biosignals", {"engine", "therapies", "console"}),
        ("therapies", {"engine", "console"}),
        ("engine", {"console"}),
    ],
)
def test_layering(package: str, forbidden: set[str]) -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & forbidden)
        for p in (ROOT / package).rglob("*.py")
        if _imports(p) & forbidden and p != ENTRY_POINT
    }
    assert offenders == {}


def test_console_imported_lazily() -> None:
    """engine/cli.py imports the console only inside functions (`vrtherapy --help` stays
    fast and the engine never depends on the console at import time)."""
    tree = ast.parse(ENTRY_POINT.read_text(encoding="utf-8"))
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert not [ast.unparse(n) for n in top if "console" in ast.unparse(n)]
    inside = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    assert any(n.module.startswith("console") for n in inside)


def test_pylsl_only_through_biosignals_lsl() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*.py")
        if "pylsl" in _imports(p) and p.name != "lsl.py"
    ]
    assert offenders == []


# tests/waiting.py holds the one helper that may pause between polls of real state
# (`wait_for`) and between ticks of a simulated device (`ticks`); every other test waits
# through it, so a fixed wait anywhere else in tests/ is a disguised sleep. This file is
# exempt too: its test feeds the finder samples of what it must catch.
NOT_CHECKED = (ROOT / "tests" / "waiting.py", Path(__file__).resolve())


def _is_number(node: ast.expr) -> bool:
    """A numeric literal, or arithmetic on literals only (``0.01``, ``-1``, ``8 * 0.5``)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp):
        return _is_number(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_number(node.left) and _is_number(node.right)
    return False


def _called_name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def fixed_waits(source: str, *, literal_waits: bool) -> list[int]:
    """Lines of ``source`` that wait a fixed time: any ``sleep(...)``, a wait on a fresh
    ``Event()`` (nothing can set it), and with ``literal_waits`` any ``X.wait(<number>)``.
    Python programs held in string literals (``python -c`` scripts) are checked too."""
    found: list[int] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "\n" in node.value:
            try:
                inner = fixed_waits(node.value, literal_waits=literal_waits)
            except SyntaxError:  # prose, not a program
                continue
            found += [node.lineno + line - 1 for line in inner]
        if not isinstance(node, ast.Call):
            continue
        name, func = _called_name(node.func), node.func
        fresh_event = isinstance(func, ast.Attribute) and (
            isinstance(func.value, ast.Call) and _called_name(func.value.func) == "Event"
        )
        literal = bool(node.args) and _is_number(node.args[0])
        if name == "sleep" or (name == "wait" and (fresh_event or (literal_waits and literal))):
            found.append(node.lineno)
    return sorted(found)


def test_no_sleep_pacing() -> None:
    """No sleep anywhere; in tests/ no fixed wait outside the helper either. Engine code
    may wait on its own stop/wake events with a period (a thread that ends at once)."""
    offenders = [
        str(p.relative_to(ROOT))
        for d in (*PACKAGES, "tests")
        for p in (ROOT / d).rglob("*.py")
        if SLEEP_CALL in p.read_text(encoding="utf-8") and p.name != "test_codebase.py"
    ]
    assert offenders == []
    waits = {
        f"{p.relative_to(ROOT)}:{line}"
        for d in (*PACKAGES, "tests")
        for p in (ROOT / d).rglob("*.py")
        if p not in NOT_CHECKED
        for line in fixed_waits(p.read_text(encoding="utf-8"), literal_waits=d == "tests")
    }
    assert sorted(waits) == [], "wait for real state: tests/waiting.py wait_for"


def test_fixed_wait_finder_sees_disguised_sleeps() -> None:
    # the waits are spelled apart (like SLEEP_CALL) so that a text search of the tests
    # does not take this finder's own examples for waits
    fresh_wait = "threading.Event()" + ".wait("
    script = 'CODE = r"""\nimport threading\n' + fresh_wait + '2)\n"""\n'
    lines = [
        "import threading, time",
        fresh_wait + "8.0)",  # 2
        "waiter = threading.Event()",
        "waiter.wait(0.01)",  # 4
        "waiter.wait(-1 + 2 * 0.5)",  # 5
        SLEEP_CALL + "period)",  # 6
        "waiter.wait(period)",  # a period from elsewhere: not a literal
        "proc.wait(timeout=10)",  # a process ending wakes it
        "q.get(timeout=1.0)",
    ]
    source = "".join(line + "\n" for line in lines) + script  # line 10 opens the string;
    # the script's line 3 is line 12
    assert fixed_waits(source, literal_waits=True) == [2, 4, 5, 6, 12]
    assert fixed_waits(source, literal_waits=False) == [2, 6, 12]


def _tool(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    found = str(exe) if exe.exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[dev]'"
    return found


def test_ruff_clean() -> None:
    r = subprocess.run([_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_mypy_clean() -> None:
    r = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_package_is_installed() -> None:
    """A plain `pip install .` must ship every package (the list in pyproject is explicit)."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("__init__.py")
    }
    assert found - listed == set()
