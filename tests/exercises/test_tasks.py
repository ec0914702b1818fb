"""The task registry: lookups, hints that teach without telling, and the marks' one source."""

from __future__ import annotations

import ast
import re

import pytest

from tinycompress.errors import ExerciseError
from tinycompress.exercises import regions, tasks
from tinycompress.exercises.checkout import project_root
from tinycompress.exercises.tasks import TASKS, Task

ROOT = project_root()


def test_task_marks_and_unknown_task() -> None:
    assert Task("kmeans-assign", "04_quantisation", "d").mark == "task_kmeans_assign"
    with pytest.raises(ExerciseError, match="unknown exercise task 'nope'"):
        tasks.task("nope")
    with pytest.raises(ExerciseError, match="unknown chapter"):
        tasks.tasks_of_chapter("99_x")


def test_every_chapter_but_the_pipeline_has_tasks() -> None:
    chapters = {t.chapter for t in TASKS}
    assert set(tasks.CHAPTERS) - chapters <= {"06_deep_compression"}
    assert len(TASKS) >= 20


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_hints_never_spell_out_a_line_of_the_solution() -> None:
    hints = {t.id: _squeezed(" ".join(line for h in t.hints.values() for line in h))
             for t in TASKS}
    leaks = [
        f"{r.path}:{r.begin}: {line.strip()}"
        for r in regions.scan()
        for line in r.body
        if len(_squeezed(line)) >= 12 and _squeezed(line) in hints[r.task_id]
    ]
    assert leaks == []


def _task_marks_in_tests() -> dict[str, list[str]]:
    """Every ``task_*`` mark the test files apply (``pytest.mark.task_x``, ``mark.task_x``)."""
    used: dict[str, list[str]] = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("task_")):
                continue
            owner = node.value
            if (isinstance(owner, ast.Attribute) and owner.attr == "mark") or (
                isinstance(owner, ast.Name) and owner.id == "mark"
            ):
                where = f"{path.relative_to(ROOT).as_posix()}:{node.lineno}"
                used.setdefault(node.attr, []).append(where)
    return used


def test_the_task_marks_of_the_tests_are_exactly_those_of_the_tasks() -> None:
    used = _task_marks_in_tests()
    marks = {t.mark for t in TASKS}
    unknown = {mark: where for mark, where in used.items() if mark not in marks}
    assert not unknown, f"task marks of no task in tinycompress.exercises.tasks: {unknown}"
    untested = [t.id for t in TASKS if t.mark not in used]
    assert not untested, f"tasks no test is marked with: {untested}"


def test_the_task_marks_are_registered_from_the_tasks_alone(request: pytest.FixtureRequest) -> None:
    registered = request.config.getini("markers")
    assert [m for m in registered if m.startswith("task_")] == [t.marker_line for t in TASKS]
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = config["tool"]["pytest"]["ini_options"]["markers"]
    assert [m for m in listed if m.startswith("task_")] == [], (
        "pyproject.toml lists task marks; the root conftest.py registers them from TASKS"
    )
