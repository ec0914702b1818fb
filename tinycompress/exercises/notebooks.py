"""The two cells the exercise tooling writes into every chapter notebook, and keeping them there.

- **How to run this chapter** (id ``running``, right after the title): what quick mode
  changes, how to turn it on, and how long the committed full run took, read from the
  notebook's own execution metadata (nbclient's ``metadata.execution`` timestamps).
- **Exercises** (id ``exercises``, the last cell): per task of the chapter, the file and
  functions to implement, the commands that check it, and the cells of the chapter that raise
  until it is done, from the cell map of :mod:`.cellmap`.

:func:`content_hash` fingerprints what the cell map depends on (code cells and headings, not
outputs, prose or these two cells), so running a notebook again or syncing it keeps its map.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .regions import Region
from .tasks import tasks_of_chapter

RUNNING, EXERCISES = "running", "exercises"
"""The ids of the two generated cells."""

_OPENINGS = {RUNNING: "## How to run this chapter", EXERCISES: "## Exercises"}


def read_notebook(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A notebook file as the JSON it is."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def generated(cell: Mapping[str, Any]) -> str | None:
    """``"running"`` or ``"exercises"`` if ``cell`` is one of the generated cells, else None."""
    if cell["cell_type"] != "markdown":
        return None
    source = "".join(cell["source"])
    for name, opening in _OPENINGS.items():
        if source.startswith(opening + "\n") or source == opening:
            return name
    return None


def content_hash(notebook: Mapping[str, Any]) -> str:
    """SHA-256 of the notebook's code cells and Markdown headings, in order (outputs, prose and
    the generated cells left out): what decides which cells need a task and their names."""
    parts = []
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code":
            parts.append(["code", source])
        elif cell["cell_type"] == "markdown" and not generated(cell):
            parts.append(["markdown", [ln for ln in source.splitlines() if ln.startswith("#")]])
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()


def _stamp(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def run_seconds(notebook: Mapping[str, Any]) -> float | None:
    """Seconds from the first cell's ``iopub.execute_input`` to the last cell's
    ``shell.execute_reply`` in the notebook's execution metadata; None without any."""
    starts, ends = [], []
    for cell in notebook["cells"]:
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            starts.append(_stamp(timing["iopub.execute_input"]))
            ends.append(_stamp(timing["shell.execute_reply"]))
    if not starts:
        return None
    return (max(ends) - min(starts)).total_seconds()


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} seconds"
    return f"{round(seconds / 60)} minutes"


def running_section(notebook: Mapping[str, Any]) -> str:
    """The Markdown of the "How to run this chapter" cell of ``notebook``."""
    lines = [
        _OPENINGS[RUNNING],
        "",
        "Run top to bottom, this notebook does the *full run*: the prose and the committed "
        "outputs quote it. *Quick mode* runs the same cells on small subsets of the data, for "
        "a few epochs and over shorter sweeps, so that the chapter finishes in a minute or two "
        "(the test suite runs every chapter this way); its numbers are rougher than the ones "
        "the text discusses.",
        "",
        "Quick mode is the environment variable `TINYCOMPRESS_QUICK=1`, read once when the "
        "kernel imports the package (`tinycompress/config.py`). A kernel inherits its "
        "environment from Jupyter, so set it before starting Jupyter, not from a cell:",
        "",
        "```",
        "TINYCOMPRESS_QUICK=1 jupyter lab",
        "```",
    ]
    seconds = run_seconds(notebook)
    if seconds is not None:
        lines += ["", f"The committed full run took about {_duration(seconds)}, from the first "
                  "cell to the last, on the machine that produced these outputs."]
    return "\n".join(lines)


def _places(regions: Sequence[Region], task_id: str) -> str:
    """```f` and `g` in `a.py`; `h` in `b.py```: the functions holding the task's regions."""
    by_file: dict[str, list[str]] = {}
    for r in regions:
        if r.task_id == task_id and r.function not in by_file.setdefault(r.path, []):
            by_file[r.path].append(r.function)
    return "; ".join(_and([f"`{f}`" for f in functions]) + f" in `{path}`"
                     for path, functions in by_file.items())


def _and(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def notebook_section(chapter: str, regions: Sequence[Region],
                     entry: Mapping[str, Any] | None = None) -> str:
    """The Markdown of the Exercises section that ends the chapter's notebook.

    ``regions`` are the package's solution regions (:func:`.regions.scan`), ``entry`` the
    chapter's cell map entry (:mod:`.cellmap`); without one, the cells that need each task are
    not listed.
    """
    lines = [
        _OPENINGS[EXERCISES],
        "",
        "Each task below makes a function this chapter relies on a stub for you to write, "
        "checked by the project's own tests. Make your copy of the project once, in a new "
        "folder `DIR`, then work inside it, one task at a time:",
        "",
        "```",
        "tinycompress exercises init DIR",
        "cd DIR",
        "pytest -m task_<id>    # the task's tests: run them until they pass",
        "```",
        "",
        "`DIR/EXERCISES.md` lists the tasks of every chapter. To run this chapter on your own "
        "code, install the copy (`pip install -e .` inside `DIR`) and open "
        f"`DIR/chapters/{chapter}.ipynb`: the cells listed under a task raise "
        "`NotImplementedError` until it is done.",
    ]
    for t in tasks_of_chapter(chapter):
        lines += ["", f"### `{t.id}`: {t.description}", "",
                  f"- **Implement:** {_places(regions, t.id)}",
                  f"- **Check:** `{t.command}`"]
        if entry is not None:
            cells = _cells_named(entry["cells"][c] for c in entry["tasks"].get(t.id, []))
            needed = cells + "." if cells else "none (no cell of this chapter calls it)."
            lines.append(f"- **Cells of this chapter that need it:** {needed}")
    return "\n".join(lines)


def _cells_named(cells: Iterable[Sequence[Any]]) -> str:
    """``§2 Sensitivity, 1st and 2nd code cells; §4 Histogram, 1st code cell`` from (heading,
    rank) pairs in notebook order (:func:`.cellmap.cell_labels`)."""
    groups: dict[str, list[str]] = {}
    for heading, rank in cells:
        groups.setdefault(heading, []).append(ordinal(rank))
    return "; ".join(f"{heading}, {_and(ranks)} code cell{'s' if len(ranks) > 1 else ''}"
                     for heading, ranks in groups.items())


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ... ``11th``, ``21st``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _cell(name: str, source: str, notebook: Mapping[str, Any]) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": "markdown", "metadata": {},
                            "source": source.splitlines(keepends=True)}
    if (notebook.get("nbformat"), notebook.get("nbformat_minor", 0)) >= (4, 5):
        cell["id"] = name
    return cell


def sync_notebook(path: str | os.PathLike[str], regions: Sequence[Region],
                  entry: Mapping[str, Any] | None = None, chapter: str | None = None) -> bool:
    """Write the two generated cells into the notebook at ``path``.

    The chapter defaults to the file stem (``chapters/03_pruning.ipynb`` -> ``03_pruning``).
    Any generated cells found are taken out, then "How to run this chapter" goes right after
    the title cell and the Exercises section at the end (:func:`notebook_section` of
    ``regions`` and ``entry``); every other cell, outputs included, is kept as it is. The file
    is written the way nbformat writes it (sorted keys, one-space indent), atomically. Returns
    True if the file changed.
    """
    path = Path(path)
    chapter = path.stem if chapter is None else chapter
    text = path.read_text(encoding="utf-8")
    notebook = json.loads(text)
    cells = [c for c in notebook["cells"] if not generated(c)]
    notebook["cells"] = cells
    running = _cell(RUNNING, running_section(notebook), notebook)
    cells.insert(1 if cells else 0, running)
    cells.append(_cell(EXERCISES, notebook_section(chapter, regions, entry), notebook))
    updated = json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    if updated == text:
        return False
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(updated, encoding="utf-8")
    os.replace(staging, path)
    return True
