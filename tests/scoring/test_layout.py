"""The scoring package's layout: every module imports on its own, the imports between its
modules form no cycle, no module reads another's private names, and none is over 400 lines."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import octorec.scoring

PACKAGE = Path(octorec.scoring.__file__).parent
MODULES = sorted(f"octorec.scoring.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem != "__init__")
MAX_LINES = 400


def _tree(module: str) -> ast.Module:
    path = PACKAGE / f"{module.rsplit('.', 1)[1]}.py"
    return ast.parse(path.read_text(), filename=str(path))


def _scoring_imports(module: str) -> dict[str, set[str]]:
    """The scoring modules `module` imports (anywhere in it, also inside functions and
    `TYPE_CHECKING` blocks), each with the names it takes from them."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "octorec.scoring":  # `from octorec.scoring import ranking`
                for alias in node.names:
                    found.setdefault(f"octorec.scoring.{alias.name}", set())
            elif node.module.startswith("octorec.scoring."):
                found.setdefault(node.module, set()).update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("octorec.scoring."):
                    found.setdefault(alias.name, set())
    return found


def _graph() -> dict[str, set[str]]:
    return {module: set(_scoring_imports(module)) for module in MODULES}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph`, or None (depth-first search, three colours)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_scoring_modules_import_each_other_without_a_cycle() -> None:
    graph = _graph()
    assert len(graph) >= 15 and "octorec.scoring.registry" in graph
    assert set().union(*graph.values()) <= set(MODULES), "an import names no scoring module"
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph) or [])}"


def test_no_module_takes_a_private_name_from_another() -> None:
    taken = {
        (module, imported, name)
        for module in MODULES
        for imported, names in _scoring_imports(module).items()
        for name in names
        if name.startswith("_")
    }
    assert not taken


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_in_a_fresh_interpreter(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert importlib.import_module(module).__name__ == module


@pytest.mark.parametrize("module", MODULES)
def test_no_module_is_over_400_lines(module: str) -> None:
    lines = len((PACKAGE / f"{module.rsplit('.', 1)[1]}.py").read_text().splitlines())
    assert lines <= MAX_LINES, f"{module}: {lines} lines"
