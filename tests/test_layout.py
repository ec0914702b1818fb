"""The house rules of the package layout, checked by walking every import.

- the imports between the package's modules form no cycle;
- only ``__main__`` imports the command line, and only the command line imports the pipeline;
- no module is over 450 lines and no function over 80;
- nothing outside the library (notebooks, benchmarks, tests other than ``tests/cli/``) imports
  the CLI.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tinycompress"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80
CLI_TESTS = ROOT / "tests" / "cli"  # the command line's own tests


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST, me: str, is_package: bool, known: set[str]) -> set[str]:
    """Every package module ``tree`` imports, anywhere (lazy imports inside functions too)."""
    here = me if is_package else me.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - node.level + 1]
                parent = ".".join(base + ([node.module] if node.module else []))
            else:
                parent = node.module or ""
            out.add(parent)
            out.update(f"{parent}.{a.name}" for a in node.names)  # `from pkg import module`
    return {m for m in out if m in known}


def package_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    known = set(files)
    return {name: imported_modules(ast.parse(path.read_text(encoding="utf-8")), name,
                                   path.name == "__init__.py", known) - {name}
            for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_find_cycle_sees_a_lazy_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    tree = ast.parse("def f():\n    from .cli import main\n")
    assert imported_modules(tree, "tinycompress.pipeline", False,
                            {"tinycompress.cli"}) == {"tinycompress.cli"}


def test_no_import_cycle() -> None:
    assert find_cycle(package_graph()) is None


def test_only_main_imports_the_cli_and_only_the_cli_the_pipeline() -> None:
    graph = package_graph()
    cli = sorted(m for m, deps in graph.items()
                 if "tinycompress.cli" in deps and m != "tinycompress.__main__")
    pipeline = sorted(m for m, deps in graph.items()
                      if "tinycompress.pipeline" in deps and m != "tinycompress.cli")
    assert cli == [], f"modules importing the CLI: {cli}"
    assert pipeline == [], f"modules other than the CLI importing the pipeline: {pipeline}"


def long_definitions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.relative_to(ROOT)}:{node.lineno} {node.name} "
            f"({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


def test_modules_and_functions_are_short_enough_to_read() -> None:
    files = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
    long_modules = [f"{p.relative_to(ROOT)} ({n} lines)" for p in files
                    if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    long_functions = [row for p in files for row in long_definitions(p)]
    assert long_modules == []
    assert long_functions == []


def _code_of(path: Path) -> str:
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("folder", ["tests", "chapters", "bench"])
def test_nothing_outside_the_library_imports_the_cli(folder: str) -> None:
    users = []
    for path in sorted((ROOT / folder).rglob("*")):
        if path.suffix not in {".py", ".ipynb"} or CLI_TESTS in path.parents:
            continue
        text = _code_of(path)
        if path.suffix == ".ipynb":  # notebook magics are not Python
            text = "\n".join(line for line in text.splitlines() if not line.startswith(("%", "!")))
        if "tinycompress.cli" in imported_modules(ast.parse(text), "x", False,
                                                  {"tinycompress.cli"}):
            users.append(str(path.relative_to(ROOT)))
    assert users == []
