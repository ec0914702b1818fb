"""The Exercises section that ends every chapter notebook, and keeping notebooks in step."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .tasks import tasks_of_chapter


def notebook_section(chapter: str) -> str:
    """The Markdown of the Exercises section that ends the chapter's notebook."""
    chapter_tasks = tasks_of_chapter(chapter)
    lines = [
        "## Exercises",
        "",
        "Run `tinycompress exercises init DIR` to get a copy of the project in which the functions "
        "below are stubs raising `NotImplementedError`. Implement each one, then run its tests "
        "from inside `DIR` until they pass (`tinycompress exercises list` shows where each "
        "task lives).",
        "",
        "| Task | Implement | Check with |",
        "|---|---|---|",
    ]
    lines += [f"| `{t.id}` | {t.description} | `{t.command}` |" for t in chapter_tasks]
    return "\n".join(lines)


def sync_notebook(path: str | os.PathLike[str], chapter: str | None = None) -> bool:
    """Make the notebook at ``path`` end with :func:`notebook_section` of its chapter.

    The chapter defaults to the file stem (``chapters/03_pruning.ipynb`` -> ``03_pruning``). A
    last cell that is an Exercises section is replaced, otherwise one is appended; every other
    cell, outputs included, is kept as it is, and the file is written the way nbformat writes
    it (sorted keys, one-space indent), atomically. Returns True if the file changed.
    """
    path = Path(path)
    chapter = path.stem if chapter is None else chapter
    text = path.read_text(encoding="utf-8")
    notebook = json.loads(text)
    source = notebook_section(chapter)
    cell: dict[str, Any] = {
        "cell_type": "markdown",
        "metadata": {},
        "source": source.splitlines(keepends=True),
    }
    if (notebook.get("nbformat"), notebook.get("nbformat_minor", 0)) >= (4, 5):
        cell["id"] = "exercises"
    cells = notebook["cells"]
    last = cells[-1] if cells else None
    if (
        last
        and last["cell_type"] == "markdown"
        and "".join(last["source"]).startswith("## Exercises")
    ):
        cells[-1] = cell
    else:
        cells.append(cell)
    updated = json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    if updated == text:
        return False
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(updated, encoding="utf-8")
    os.replace(staging, path)
    return True
