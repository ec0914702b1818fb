"""Solution regions: finding them in a source file or a checkout, and checking them.

A region is the lines between a ``# BEGIN SOLUTION <task-id>`` comment line and the next
``# END SOLUTION`` line, inside a function. :func:`parse_regions` reads one file, refusing
malformed markers with the file and line; :func:`scan` reads the whole package and
:func:`check_registry` matches the regions to :data:`.tasks.TASKS`, hints included.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from tinycompress.errors import ExerciseError

from .checkout import package_sources, source_root
from .tasks import CHAPTERS, TASK_ID, TASKS, Task

# A marker is a comment line mentioning BEGIN/END SOLUTION; near misses are caught and refused.
_MARKER = re.compile(r"^(?P<indent>[ \t]*)#\s*(?P<kind>BEGIN|END)\s+SOLUTION\b(?P<rest>.*)$")

Function = ast.FunctionDef | ast.AsyncFunctionDef
"""The syntax-tree nodes of a function definition."""


@dataclass(frozen=True)
class Region:
    """A solution region: lines ``begin`` and ``end`` (1-based) hold the markers."""

    task_id: str
    path: str
    begin: int
    end: int
    indent: str
    body: tuple[str, ...]
    """The solution lines between the markers, with their line endings."""
    function: str
    """The qualified name of the innermost function holding the region (``Class.method``)."""

    @property
    def lines(self) -> range:
        """The region's line numbers, markers included."""
        return range(self.begin, self.end + 1)


@dataclass
class _Open:
    """A region whose ``BEGIN`` was read and whose ``END`` was not yet."""

    task_id: str
    begin: int
    indent: str
    body: list[str] = field(default_factory=list)


def parse_regions(text: str, path: str = "<string>") -> list[Region]:
    """Find the solution regions of one source file.

    Parameters
    ----------
    text : str
        The file's text, Python source.
    path : str
        The file name used in error messages.

    Returns
    -------
    list of Region
        In file order.

    Raises
    ------
    ExerciseError
        On a malformed marker, a nested region, an ``END`` without ``BEGIN``, a region never
        closed, a region line indented less than its markers, or a region outside a function;
        the message names file and line.
    """
    spans: list[tuple[_Open, int]] = []
    current: _Open | None = None
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        where = f"{path}:{number}"
        marker = _MARKER.match(line.rstrip("\r\n"))
        if marker is None:
            if current is not None:
                _add_body_line(current, line, where)
        elif marker["kind"] == "BEGIN":
            current = _begin(marker, current, number, where)
        else:
            spans.append((_end(marker, current, where), number))
            current = None
    if current is not None:
        raise ExerciseError(
            f"{path}:{current.begin}: BEGIN SOLUTION {current.task_id} is never closed; "
            "add an END SOLUTION line after the solution"
        )
    return _in_functions(spans, text, path)


def _add_body_line(region: _Open, line: str, where: str) -> None:
    """Append a solution line to the open region, refusing one indented less than its marker."""
    if line.strip() and not line.startswith(region.indent):
        raise ExerciseError(
            f"{where}: line is indented less than the BEGIN SOLUTION {region.task_id} "
            f"marker on line {region.begin}; indent the marker like the code it wraps"
        )
    region.body.append(line)


def _begin(marker: re.Match[str], current: _Open | None, number: int, where: str) -> _Open:
    """Open the region of a ``BEGIN`` marker: not inside another, with one valid task id."""
    if current is not None:
        raise ExerciseError(
            f"{where}: nested BEGIN SOLUTION inside the region {current.task_id} opened on line "
            f"{current.begin}; close that region with END SOLUTION first"
        )
    task_id = marker["rest"].strip()
    if not TASK_ID.fullmatch(task_id):
        raise ExerciseError(
            f"{where}: BEGIN SOLUTION needs one task id of lower-case words joined by "
            f"dashes (for example 'BEGIN SOLUTION kmeans-assign'), got {task_id!r}"
        )
    return _Open(task_id, number, marker["indent"])


def _end(marker: re.Match[str], current: _Open | None, where: str) -> _Open:
    """Close the open region at an ``END`` marker: bare, aligned with its ``BEGIN``, not empty."""
    if current is None:
        raise ExerciseError(f"{where}: END SOLUTION without a BEGIN SOLUTION before it")
    rest = marker["rest"].strip()
    if rest:
        raise ExerciseError(f"{where}: END SOLUTION takes nothing after it, got {rest!r}")
    if marker["indent"] != current.indent:
        raise ExerciseError(
            f"{where}: END SOLUTION is indented differently from its BEGIN SOLUTION "
            f"{current.task_id} on line {current.begin}"
        )
    if not any(line.strip() for line in current.body):
        raise ExerciseError(f"{where}: the region {current.task_id} is empty")
    return current


def _in_functions(spans: list[tuple[_Open, int]], text: str, path: str) -> list[Region]:
    """The closed regions as :class:`Region`, each with the function that holds it."""
    if not spans:
        return []
    tree = parse_python(text, path)
    regions = []
    for opened, end in spans:
        found = enclosing_function(tree, opened.begin)
        if found is None:
            raise ExerciseError(
                f"{path}:{opened.begin}: the region {opened.task_id} is not inside a function; "
                "a region holds lines of the function it is an exercise of"
            )
        name, _ = found
        body = tuple(opened.body)
        regions.append(Region(opened.task_id, path, opened.begin, end, opened.indent, body, name))
    return regions


def parse_python(text: str, path: str) -> ast.Module:
    """The syntax tree of a source file; :class:`ExerciseError` naming file and line if the text
    is not valid Python."""
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        raise ExerciseError(f"{path}:{exc.lineno}: not valid Python: {exc.msg}") from exc


def enclosing_function(tree: ast.Module, line: int) -> tuple[str, Function] | None:
    """The qualified name (``Class.method``, ``outer.inner``) and the node of the innermost
    function whose body holds ``line``, or None."""
    found = None
    stack: list[tuple[ast.AST, str]] = [(tree, "")]
    while stack:
        node, prefix = stack.pop()
        for child in ast.iter_child_nodes(node):
            name = prefix
            if isinstance(child, Function | ast.ClassDef):
                name = f"{prefix}{child.name}."
                if isinstance(child, Function) and child.body[0].lineno <= line <= child.end_lineno:
                    found = (name[:-1], child)  # a function inside it is visited later and wins
            stack.append((child, name))
    return found


def scan(root: str | os.PathLike[str] | None = None) -> list[Region]:
    """All solution regions of the package, with paths relative to ``root``."""
    base = source_root(root)
    regions: list[Region] = []
    for source in package_sources(base):
        rel = source.relative_to(base).as_posix()
        regions.extend(parse_regions(source.read_text(encoding="utf-8"), rel))
    return regions


def check_registry(regions: Sequence[Region], tasks: Sequence[Task] = TASKS) -> None:
    """Raise :class:`ExerciseError` unless regions and tasks match one to one (by task id), and
    the hints of every task name exactly the functions holding its regions."""
    problems = []
    ids = [t.id for t in tasks]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        problems.append(f"tasks listed twice in TASKS: {', '.join(duplicated)}")
    for t in tasks:
        if not TASK_ID.fullmatch(t.id) or t.chapter not in CHAPTERS or not t.description:
            problems.append(
                f"task {t.id!r} needs a dashed id, a chapter of CHAPTERS, a description"
            )
    unlisted = sorted(
        {f"{r.task_id} ({r.path}:{r.begin})" for r in regions if r.task_id not in ids}
    )
    if unlisted:
        problems.append("regions whose task is not in TASKS: " + ", ".join(unlisted))
    marked = {r.task_id for r in regions}
    missing = [i for i in ids if i not in marked]
    if missing:
        problems.append("tasks without a solution region: " + ", ".join(missing))
    problems += _hint_problems(regions, tasks)
    if problems:
        raise ExerciseError("; ".join(problems))


def _hint_problems(regions: Sequence[Region], tasks: Sequence[Task]) -> list[str]:
    """One line per task whose hints do not cover exactly the functions of its regions."""
    problems = []
    for t in tasks:
        functions = {r.function for r in regions if r.task_id == t.id}
        unhinted = sorted(functions - {name for name, lines in t.hints.items() if lines})
        if unhinted:
            problems.append(f"task {t.id} has no hints for {', '.join(unhinted)}")
        stale = sorted(set(t.hints) - functions)
        if functions and stale:
            problems.append(f"task {t.id} has hints for functions without its region: "
                            + ", ".join(stale))
    return problems
