"""Where each task lives, as rows, a plain-text table and the ``EXERCISES.md`` of a copy."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .checkout import package_sources, source_root
from .regions import parse_regions
from .stubs import find_stubs
from .tasks import TASKS


def locations(root: str | os.PathLike[str] | None = None) -> dict[str, list[str]]:
    """Where each task lives, ``"path:line"``: its regions, or in a student copy its stubs."""
    base = source_root(root)
    found: dict[str, list[str]] = {}
    for source in package_sources(base):
        rel = source.relative_to(base).as_posix()
        text = source.read_text(encoding="utf-8")
        regions = [(r.task_id, r.begin) for r in parse_regions(text, rel)]
        for task_id, line in regions + find_stubs(text, rel):
            found.setdefault(task_id, []).append(f"{rel}:{line}")
    return found


def task_rows(root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """One JSON-able row per task: id, chapter, mark, command, description, locations."""
    where = locations(root)
    return [
        {
            "id": t.id,
            "chapter": t.chapter,
            "mark": t.mark,
            "command": t.command,
            "description": t.description,
            "locations": where.get(t.id, []),
        }
        for t in TASKS
    ]


def format_task_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows of :func:`task_rows` as an aligned plain-text table."""
    header = ("task", "chapter", "mark", "location", "description")
    body = [
        (
            str(r["id"]),
            str(r["chapter"]),
            str(r["mark"]),
            ", ".join(r["locations"]) or "-",
            str(r["description"]),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in [header, *body]
    )


def exercises_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The ``EXERCISES.md`` of a student copy: every task, where it is, how to check it."""
    parts = [
        "# Exercises",
        "",
        "Every task below is a stub raising `NotImplementedError` in the package, under comment",
        "lines of hints (the equation, the shapes, the helpers to call). Implement it, then",
        "check it from this folder (no install needed, or `pip install -e .` first):",
        "",
        "    pytest -m task_<id>",
        "",
        "| Task | Chapter | Where | Implement | Check with |",
        "|---|---|---|---|---|",
    ]
    parts += [
        f"| `{r['id']}` | {r['chapter']} | {', '.join(r['locations'])} | {r['description']} "
        f"| `{r['command']}` |"
        for r in rows
    ]
    return "\n".join(parts) + "\n"
