"""Which cells of each chapter need which task: found by running the chapters on a student copy.

A chapter cell that calls a stubbed function raises in the student copy until its task is done.
:func:`chapter_cells` finds those cells by running the chapter, in quick mode, in a student
copy (:func:`.student_copy.init`) with nbclient, errors allowed, and reading each failing cell's
error:

- a cell whose error (or standard error, for a command it runs) carries a stub's message
  ``task <id>: implement ...`` raised that task's stub. A stub hides every stub after it, so
  the run is repeated with the tasks found so far solved (their solutions put back into the
  copy) until no new stub raises: that gives the tasks the chapter needs;
- then, for each of them, the chapter runs with that task alone left a stub: every cell that
  fails needs it, by calling it or because an earlier cell that did failed (a ``NameError``
  for a name that cell would have bound, say). Cells that fail with every task solved are
  reported as ``unexplained``.

The result, per chapter, is stored in :data:`CELL_MAP` with :func:`.notebooks.content_hash` of
the notebook it was computed from, so a test can tell when a chapter changed since: ``tinycompress
exercises sync-notebooks --cells`` recomputes it (slow: it runs every chapter, several times).
Cells are named as a student sees them (:func:`cell_labels`): the heading they sit under and
their rank among the code cells after it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tinycompress.errors import ExerciseError

from .checkout import source_root
from .notebooks import content_hash, generated, read_notebook
from .regions import scan
from .stubs import stub_source
from .student_copy import init
from .tasks import CHAPTERS, TASKS

CELL_MAP = Path("chapters") / "exercise_cells.json"
"""Where the map is stored, relative to the checkout."""

_STUB = re.compile(r"task ([a-z0-9-]+): implement")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_HEADING = re.compile(r"^(#{2,3})\s+(.*?)\s*$")
_NUMBERED = re.compile(r"(\d+)\.\s+(.*)")
_PROBE = "import tinycompress\nprint(list(tinycompress.__path__)[0])"


def _heading_name(section: str | None, sub: str | None) -> str:
    if section is None:
        return "the opening (before the first section)"
    numbered = _NUMBERED.fullmatch(section)
    name = f"§{numbered[1]} {numbered[2]}" if numbered else f"“{section}”"
    return f"{name}, “{sub}”" if sub else name


def cell_labels(notebook: dict[str, Any]) -> dict[int, tuple[str, int]]:
    """Per code cell index, where a student finds it: (heading, rank), e.g.
    ``("§2 Sensitivity analysis", 1)`` for the first code cell under that heading.

    The heading is the last ``##`` heading above the cell (``§N Title`` when it is numbered
    ``N. Title``), with the last ``###`` heading after it if any; the rank counts the code cells
    since the nearest of those headings. The generated cells (:func:`.notebooks.generated`)
    are skipped, so syncing a notebook renames no cell.
    """
    labels: dict[int, tuple[str, int]] = {}
    section = sub = None
    rank = 0
    for index, cell in enumerate(notebook["cells"]):
        if generated(cell):
            continue
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                heading = _HEADING.match(line)
                if heading and heading[1] == "##":
                    section, sub, rank = heading[2], None, 0
                elif heading:
                    sub, rank = heading[2], 0
        elif cell["cell_type"] == "code":
            rank += 1
            labels[index] = (_heading_name(section, sub), rank)
    return labels


def _error_text(cell: dict[str, Any]) -> str | None:
    """A failed code cell's error, traceback and standard error as plain text; None if it ran."""
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if not errors:
        return None
    parts = [f"{o.get('ename')}: {o.get('evalue')}\n" + "\n".join(o.get("traceback", []))
             for o in errors]
    parts += ["".join(o.get("text", "")) for o in cell["outputs"]
              if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    return _ANSI.sub("", "\n".join(parts))


def failing_cells(notebook: dict[str, Any], known: Iterable[str]) -> tuple[
        dict[int, set[str]], set[int], dict[int, str]]:
    """Read an executed notebook: ``(raised, after, unexplained)``.

    ``raised``: per cell that failed with a stub's message, the tasks (of ``known``) whose
    stub it raised; ``after``: the other failed cells below one of those; ``unexplained``: the
    errors of failed cells with neither.
    """
    known = set(known)
    raised: dict[int, set[str]] = {}
    after: set[int] = set()
    unexplained: dict[int, str] = {}
    for index, cell in enumerate(notebook["cells"]):
        text = _error_text(cell) if cell["cell_type"] == "code" else None
        if text is None:
            continue
        stubs = set(_STUB.findall(text)) & known
        if stubs:
            raised[index] = stubs
        elif raised:
            after.add(index)
        else:
            unexplained[index] = text[-1500:]
    return raised, after, unexplained


def _execute(path: Path, copy: Path, timeout: int) -> dict[str, Any]:
    """Run the notebook at ``path`` (inside the student copy ``copy``) in quick mode, errors
    allowed, and return it with its outputs; refuse a run that imported another package."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(_PROBE))
    env = {**os.environ, "TINYCOMPRESS_QUICK": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": os.pathsep.join([str(copy), os.environ.get("PYTHONPATH", "")])}
    client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)
    probe = "".join(o.get("text", "") for o in nb.cells[0].outputs).strip()
    if not probe or not Path(probe).resolve().is_relative_to(copy.resolve()):
        raise ExerciseError(f"{path.name} ran against the package at {probe or '?'}, not the "
                            f"student copy {copy}")
    nb.cells.pop(0)
    return json.loads(nbformat.writes(nb))


class _Copy:
    """A student copy whose files can be rewritten with a set of tasks solved."""

    def __init__(self, copy: Path, root: Path, timeout: int) -> None:
        self.copy, self.root, self.timeout = copy, root, timeout
        self.files: dict[str, set[str]] = {}
        for region in scan(root):
            self.files.setdefault(region.task_id, set()).add(region.path)
        self.touched: set[str] = set()

    def solve(self, solved: set[str]) -> None:
        """Rewrite the files touched so far, and those of ``solved``, with ``solved`` kept."""
        self.touched |= {path for t in solved for path in self.files[t]}
        for rel in sorted(self.touched):
            text = (self.root / rel).read_text(encoding="utf-8")
            (self.copy / rel).write_text(stub_source(text, rel, solved), encoding="utf-8")

    def run(self, chapter: str) -> dict[str, Any]:
        return _execute(self.copy / "chapters" / f"{chapter}.ipynb", self.copy, self.timeout)


def _needed_tasks(work: _Copy, chapter: str, log: Any) -> tuple[
        set[str], dict[str, Any], dict[str, Any]]:
    """The tasks whose stubs the chapter reaches, found by solving what raises until nothing
    new does; the first run (every task a stub) and the last (every one of those solved)."""
    solved: set[str] = set()
    first = None
    while True:
        run = work.run(chapter)
        first = first or run
        raised = failing_cells(run, work.files)[0]
        fresh = {t for tasks in raised.values() for t in tasks} - solved
        log(f"{chapter}: {len(raised)} cells raise a stub; next solved: "
            f"{', '.join(sorted(fresh)) or 'none'}")
        if not fresh:
            return solved, first, run
        solved |= fresh
        work.solve(solved)


def chapter_cells(copy: Path, chapter: str, root: Path, timeout: int = 600,
                  log: Any = print) -> dict[str, Any]:
    """The cell map entry of one chapter, computed in the student copy ``copy`` of ``root``:
    ``{"hash", "tasks": {task: [cell ids]}, "cells": {cell id: [heading, rank]},
    "unexplained": {cell id: error}}`` (:func:`cell_labels` gives heading and rank).

    The copy's files are left as they were (every task stubbed) when it returns.
    """
    notebook = read_notebook(copy / "chapters" / f"{chapter}.ipynb")
    ids = [cell.get("id", str(i)) for i, cell in enumerate(notebook["cells"])]
    work = _Copy(copy, root, timeout)
    needs: dict[str, list[int]] = {}
    try:
        needed, first, last = _needed_tasks(work, chapter, log)
        unexplained = failing_cells(last, work.files)[2]
        for t in sorted(needed):
            if len(needed) > 1:
                work.solve(needed - {t})
                log(f"{chapter}: running with only {t} a stub")
            raised, after, _ = failing_cells(work.run(chapter) if len(needed) > 1 else first,
                                             work.files)
            needs[t] = sorted(set(raised) | after)
    finally:
        work.solve(set())
    labels = cell_labels(notebook)
    cells = sorted({i for found in needs.values() for i in found})
    return {
        "hash": content_hash(notebook),
        "tasks": {t: [ids[i] for i in found] for t, found in needs.items()},
        "cells": {ids[i]: list(labels[i]) for i in cells},
        "unexplained": {ids[i]: text for i, text in sorted(unexplained.items())},
    }


def compute_cell_map(root: str | os.PathLike[str] | None = None,
                     chapters: Sequence[str] = CHAPTERS, timeout: int = 600,
                     log: Any = print) -> dict[str, Any]:
    """The cell map entries of ``chapters``, from one student copy of ``root`` in a temporary
    folder."""
    base = source_root(root)
    with tempfile.TemporaryDirectory(prefix="tinycompress-cells-") as folder:
        copy = init(Path(folder) / "copy", root=base)
        return {c: chapter_cells(copy, c, base, timeout, log) for c in chapters
                if (copy / "chapters" / f"{c}.ipynb").is_file()}


def load_cell_map(root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The stored map, ``{}`` if there is none yet."""
    path = source_root(root) / CELL_MAP
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))["chapters"]


def write_cell_map(entries: dict[str, Any], root: str | os.PathLike[str] | None = None) -> Path:
    """Store ``entries`` (merged over the stored ones, chapters in order) at :data:`CELL_MAP`."""
    path = source_root(root) / CELL_MAP
    merged = {**load_cell_map(root), **entries}
    document = {
        "about": "Per chapter, the cells that raise in a student copy until a task is done; "
                 "written by `tinycompress exercises sync-notebooks --cells`.",
        "tasks": [t.id for t in TASKS],
        "chapters": {c: merged[c] for c in CHAPTERS if c in merged},
    }
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False, sort_keys=True) + "\n",
                    encoding="utf-8")
    return path


def stale_chapters(cell_map: dict[str, Any], notebooks: dict[str, dict[str, Any]]) -> list[str]:
    """The chapters of ``notebooks`` (chapter -> notebook) with no entry in ``cell_map`` or an
    entry computed from different contents (:func:`.notebooks.content_hash`)."""
    return [c for c, nb in notebooks.items()
            if cell_map.get(c, {}).get("hash") != content_hash(nb)]

