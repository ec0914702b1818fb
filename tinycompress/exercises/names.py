"""The names a stub hands over in place of its region, so that a student copy passes ruff.

Cutting the lines of a region out of a function leaves two kinds of names behind, both found
here from the file's syntax tree, and both settled in the stub without hiding anything else:

- **outputs**: a name the region binds and the code after it reads (``return out``) would be
  undefined (F821). The stub binds it again right after its ``raise``, ``out = ...``: the line
  never runs, so no behaviour changes, and it states what the student's code must set.
- **givens**: a name bound outside the region that only the region reads (``xp = pad_hw(x,
  padding)`` before a loop the student writes, or an import only the solution uses) would be
  unused (F841 for a local, F401 for an import). The line is part of what the exercise gives,
  so it stays, with a ``# noqa`` for that one rule on that one line, naming the task whose code
  reads it. Deleting the line instead would take away part of the function's shape, and a
  blanket exemption would hide real slips in the copy.

The rules pyflakes applies are followed where they matter: a local counts as unused only for a
plain assignment or an unpacking of a literal tuple (``a, b = 1, 2``), as ruff reports them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from .regions import Function, Region, enclosing_function


@dataclass(frozen=True)
class Handover:
    """What the stubs of one file add so that the file still passes ``ruff check``."""

    outputs: Mapping[Region, tuple[str, ...]]
    """Per stubbed region, the names it binds that the rest of its function reads."""
    pragmas: Mapping[int, str]
    """Per line number (1-based), the ``# noqa`` comment of a name given to a task's code."""


def handover(text: str, stubbed: Sequence[Region]) -> Handover:
    """The outputs and givens of the regions ``stubbed`` (regions of ``text``) once stubbed."""
    if not stubbed:
        return Handover({}, {})
    tree = ast.parse(text)
    tasks_by_line = {line: r.task_id for r in stubbed for line in r.lines}
    functions = {r: _function(tree, r) for r in stubbed}
    outputs = {r: _outputs(functions[r], r, tasks_by_line) for r in stubbed}
    pragmas: dict[int, str] = {}
    for scope in [tree, *dict.fromkeys(functions.values())]:
        pragmas.update(_givens(scope, tasks_by_line))
    return Handover(outputs, pragmas)


def _function(tree: ast.Module, region: Region) -> Function:
    found = enclosing_function(tree, region.begin)
    assert found is not None, "parse_regions only returns regions inside functions"
    return found[1]


def _outputs(function: Function, region: Region, stubbed: Mapping[int, str]) -> tuple[str, ...]:
    """The names ``region`` binds that ``function`` reads outside the stubbed lines and binds
    nowhere else (parameters included), in the order the region first binds them."""
    arguments = function.args
    bound_elsewhere = {
        a.arg
        for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                  arguments.vararg, arguments.kwarg]
        if a is not None
    }
    read_outside: set[str] = set()
    bound_inside: list[str] = []
    for name in sorted(_names(function), key=lambda n: (n.lineno, n.col_offset)):
        if isinstance(name.ctx, ast.Load) and name.lineno not in stubbed:
            read_outside.add(name.id)
        elif isinstance(name.ctx, ast.Store) and name.lineno in region.lines:
            bound_inside.append(name.id)
        elif isinstance(name.ctx, ast.Store) and name.lineno not in stubbed:
            bound_elsewhere.add(name.id)
    wanted = read_outside - bound_elsewhere
    return tuple(dict.fromkeys(n for n in bound_inside if n in wanted))


def _givens(scope: ast.Module | Function, stubbed: Mapping[int, str]) -> dict[int, str]:
    """Line -> ``# noqa`` comment for every binding of ``scope`` outside the stubbed lines whose
    name is read in stubbed lines only."""
    read_outside: set[str] = set()
    reader: dict[str, str] = {}  # name -> the task of the first stubbed line reading it
    for name in _names(scope):
        if isinstance(name.ctx, ast.Load):
            if name.lineno in stubbed:
                reader.setdefault(name.id, stubbed[name.lineno])
            else:
                read_outside.add(name.id)
    pragmas = {}
    in_function = not isinstance(scope, ast.Module)
    for node in _own_nodes(scope):
        for position, name, rule in _bindings(node, in_function):
            if position.lineno not in stubbed and name in reader and name not in read_outside:
                pragmas[position.lineno] = f"# noqa: {rule} (an input of task {reader[name]})"
    return pragmas


def _names(node: ast.AST) -> Iterator[ast.Name]:
    return (n for n in ast.walk(node) if isinstance(n, ast.Name))


def _own_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """The nodes of ``scope``'s own code, not those of the functions and classes it defines."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, Function | ast.ClassDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))


def _bindings(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.AST, str, str]]:
    """The bindings of one statement that ruff reports when nothing reads them: (the node
    whose line ruff reports, the name, the rule)."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            return
        for alias in node.names:
            if alias.name != "*":
                yield alias, alias.asname or alias.name.partition(".")[0], "F401"
    elif in_function and isinstance(node, ast.AnnAssign):
        if node.value is not None and isinstance(node.target, ast.Name):
            yield node.target, node.target.id, "F841"
    elif in_function and isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Name):
                yield target, target.id, "F841"
            elif (
                isinstance(target, ast.Tuple | ast.List)
                and isinstance(node.value, ast.Tuple | ast.List)
                and len(target.elts) == len(node.value.elts)
            ):
                yield from ((e, e.id, "F841") for e in target.elts if isinstance(e, ast.Name))
