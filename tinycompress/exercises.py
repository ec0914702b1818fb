"""Unit-test-driven exercises generated from the reference implementation itself.

No paper here: this is the course tooling. The key lines of the library are wrapped in solution
regions, a comment line ``BEGIN SOLUTION <task-id>`` above them and ``END SOLUTION`` below
(each written as a ``#`` comment on its own line). ``tinycompress exercises init DIR`` writes a
student copy of the project in which every region is replaced by a stub, at the same
indentation::

    raise NotImplementedError("task kmeans-assign: implement ...; check with: pytest -m ...")

and the tests that exercise a task carry the pytest mark ``task_<id>`` (dashes become
underscores), so a student runs ``pytest -m task_kmeans_assign`` until it passes. Because the
stubs are cut out of the reference code, the exercises never drift from it; the test suite
checks both sides (``tests/test_exercises.py``): the reference passes everything, the student
copy imports, leaks no solution line, fails exactly the tests of each task with
``NotImplementedError``, and restoring one task's solution makes exactly that task's tests pass.

A region holds the few lines of the idea; the signature, docstring, argument checks and
``return`` stay outside it, so a stub keeps the function's shape. Regions cannot nest, every
``BEGIN`` needs its ``END`` (and the other way round), the lines inside a region are indented at
least as deep as its markers, and every region's task is listed in :data:`TASKS` and every task
has a region.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinycompress.errors import ExerciseError

CHAPTERS: tuple[str, ...] = (
    "01_convolutions",
    "02_mobilenet",
    "03_pruning",
    "04_quantisation",
    "05_huffman",
    "06_deep_compression",
)
"""Chapter names, equal to the notebook file stems under ``chapters/``."""


@dataclass(frozen=True)
class Task:
    """One exercise: an id (lower-case words joined by dashes), its chapter, what to implement."""

    id: str
    chapter: str
    description: str

    @property
    def mark(self) -> str:
        """The pytest mark of the task's tests: ``task_<id>``, dashes turned into underscores."""
        return "task_" + self.id.replace("-", "_")

    @property
    def command(self) -> str:
        """The command that checks the task."""
        return f"pytest -m {self.mark}"

    @property
    def marker_line(self) -> str:
        """The task's entry in ``[tool.pytest.ini_options] markers`` of ``pyproject.toml``."""
        return f"{self.mark}: exercise {self.id} ({self.chapter}): {self.description}"

    @property
    def message(self) -> str:
        """The text of the stub's ``NotImplementedError``."""
        return f"task {self.id}: implement {self.description}; check with: {self.command}"


TASKS: tuple[Task, ...] = (
    Task(
        "conv-forward-naive",
        "01_convolutions",
        "the convolution forward pass as loops over output positions",
    ),
    Task(
        "depthwise-forward-naive",
        "01_convolutions",
        "the depthwise convolution forward pass as loops over output positions",
    ),
    Task(
        "avgpool-backward",
        "01_convolutions",
        "the average-pooling backward pass, 1/K^2 of each window's gradient",
    ),
    Task(
        "conv-multadds",
        "01_convolutions",
        "the MultAdds of a standard convolution, K K M N Ho Wo",
    ),
    Task(
        "batchnorm-backward",
        "02_mobilenet",
        "the BatchNorm input gradient through the batch mean and variance",
    ),
    Task(
        "magnitude-prune",
        "03_pruning",
        "magnitude pruning: threshold q x std, mask |w| > t, mask-preserving update",
    ),
    Task(
        "filter-l1-ranking",
        "03_pruning",
        "L1-norm filter ranking and the choice of filters to keep",
    ),
    Task("csr-matvec-naive", "03_pruning", "the CSR matrix-vector product, one row at a time"),
    Task(
        "kmeans-assign-plain",
        "04_quantisation",
        "nearest-centroid assignment with the n x k distance matrix",
    ),
    Task("kmeans-plus-plus", "04_quantisation", "k-means++ seeding by D^2 sampling"),
    Task(
        "centroid-grad",
        "04_quantisation",
        "the centroid gradient, a grouped sum of the weight gradients",
    ),
    Task(
        "linear-quantize",
        "04_quantisation",
        "uniform quantisation: scale, zero point and rounded integers",
    ),
    Task("huffman-decode-bitwise", "05_huffman", "the readable bit-by-bit Huffman decoder"),
    Task("entropy", "05_huffman", "the Shannon entropy of symbol counts in bits per symbol"),
    Task(
        "inference-energy",
        "06_deep_compression",
        "the energy of one inference from the 45 nm cost model",
    ),
)
"""The task list, in chapter order. Every solution region in the package has an entry here and
every entry has at least one region (checked by :func:`check_registry` and by the tests)."""

_TASK_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# A marker is a comment line mentioning BEGIN/END SOLUTION; near misses are caught and refused.
_MARKER = re.compile(r"^(?P<indent>[ \t]*)#\s*(?P<kind>BEGIN|END)\s+SOLUTION\b(?P<rest>.*)$")
_STUB = re.compile(r'^(?P<indent>[ \t]*)raise NotImplementedError\("task (?P<id>[a-z0-9-]+):')

PACKAGE = "tinycompress"
_COPIED_FILES = ("pyproject.toml", "README.md", "LICENSE", "conftest.py", ".gitignore")
_COPIED_DIRS = (PACKAGE, "tests", "chapters", "bench", "data")
_SKIPPED_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".ruff_cache"}
# The gate that checks student copies is for maintainers; students do not get it.
_NOT_COPIED = {"tests/test_exercises.py", "tests/exercise_gate_plugin.py"}


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


def task(task_id: str, tasks: Sequence[Task] = TASKS) -> Task:
    """Return the task ``task_id`` of ``tasks``; raise :class:`ExerciseError` if there is none."""
    for t in tasks:
        if t.id == task_id:
            return t
    known = ", ".join(t.id for t in tasks) or "none"
    raise ExerciseError(f"unknown exercise task {task_id!r}; known tasks: {known}")


def tasks_of_chapter(chapter: str) -> list[Task]:
    """The tasks of one chapter (a name from :data:`CHAPTERS`), in registry order."""
    if chapter not in CHAPTERS:
        raise ExerciseError(f"unknown chapter {chapter!r}; chapters are: {', '.join(CHAPTERS)}")
    return [t for t in TASKS if t.chapter == chapter]


def parse_regions(text: str, path: str = "<string>") -> list[Region]:
    """Find the solution regions of one source file.

    Parameters
    ----------
    text : str
        The file's text.
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
        closed, or a region line indented less than its markers; the message names file and line.
    """
    regions: list[Region] = []
    open_id, open_line, open_indent = "", 0, ""
    body: list[str] = []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        match = _MARKER.match(line.rstrip("\r\n"))
        where = f"{path}:{number}"
        if match is None:
            if open_line:
                if line.strip() and not line.startswith(open_indent):
                    raise ExerciseError(
                        f"{where}: line is indented less than the BEGIN SOLUTION {open_id} "
                        f"marker on line {open_line}; indent the marker like the code it wraps"
                    )
                body.append(line)
            continue
        rest = match["rest"].strip()
        if match["kind"] == "BEGIN":
            if open_line:
                raise ExerciseError(
                    f"{where}: nested BEGIN SOLUTION inside the region {open_id} opened on line "
                    f"{open_line}; close that region with END SOLUTION first"
                )
            if not _TASK_ID.fullmatch(rest):
                raise ExerciseError(
                    f"{where}: BEGIN SOLUTION needs one task id of lower-case words joined by "
                    f"dashes (for example 'BEGIN SOLUTION kmeans-assign'), got {rest!r}"
                )
            open_id, open_line, open_indent, body = rest, number, match["indent"], []
        else:
            if not open_line:
                raise ExerciseError(f"{where}: END SOLUTION without a BEGIN SOLUTION before it")
            if rest:
                raise ExerciseError(f"{where}: END SOLUTION takes nothing after it, got {rest!r}")
            if match["indent"] != open_indent:
                raise ExerciseError(
                    f"{where}: END SOLUTION is indented differently from its BEGIN SOLUTION "
                    f"{open_id} on line {open_line}"
                )
            if not any(b.strip() for b in body):
                raise ExerciseError(f"{where}: the region {open_id} is empty")
            regions.append(Region(open_id, path, open_line, number, open_indent, tuple(body)))
            open_line = 0
    if open_line:
        raise ExerciseError(
            f"{path}:{open_line}: BEGIN SOLUTION {open_id} is never closed; "
            "add an END SOLUTION line after the solution"
        )
    return regions


def stub_source(
    text: str, path: str = "<string>", keep: Iterable[str] = (), tasks: Sequence[Task] = TASKS
) -> str:
    """Return ``text`` with every solution region replaced by its stub.

    The stub is one ``raise NotImplementedError(...)`` line at the indentation of the markers.
    Regions of the tasks in ``keep`` keep their solution lines (only their markers go), which is
    the file a student has once they solved those tasks.
    """
    regions = parse_regions(text, path)
    keep = set(keep)
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    start = 0
    for region in regions:
        out.extend(lines[start : region.begin - 1])
        if region.task_id in keep:
            out.extend(region.body)
        else:
            newline = "\r\n" if lines[region.begin - 1].endswith("\r\n") else "\n"
            message = json.dumps(task(region.task_id, tasks).message)
            out.append(f"{region.indent}raise NotImplementedError({message}){newline}")
        start = region.end
    out.extend(lines[start:])
    return "".join(out)


def project_root() -> Path:
    """The source checkout this package was imported from (the folder of ``pyproject.toml``)."""
    return Path(__file__).resolve().parent.parent


def _source_root(root: str | os.PathLike[str] | None) -> Path:
    base = project_root() if root is None else Path(root)
    if not (base / PACKAGE).is_dir() or not (base / "pyproject.toml").is_file():
        raise ExerciseError(
            f"{base} is not a tinycompress source checkout (no {PACKAGE}/ and pyproject.toml); "
            "exercises are made from a clone of the repository: pass its folder with --source"
        )
    return base


def package_sources(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The ``.py`` files of the package under ``root`` (default: this checkout), sorted."""
    base = _source_root(root)
    return sorted(p for p in (base / PACKAGE).rglob("*.py") if "__pycache__" not in p.parts)


def scan(root: str | os.PathLike[str] | None = None) -> list[Region]:
    """All solution regions of the package, with paths relative to ``root``."""
    base = _source_root(root)
    regions: list[Region] = []
    for source in package_sources(base):
        rel = source.relative_to(base).as_posix()
        regions.extend(parse_regions(source.read_text(encoding="utf-8"), rel))
    return regions


def check_registry(regions: Sequence[Region], tasks: Sequence[Task] = TASKS) -> None:
    """Raise :class:`ExerciseError` unless regions and tasks match one to one (by task id)."""
    problems = []
    ids = [t.id for t in tasks]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        problems.append(f"tasks listed twice in TASKS: {', '.join(duplicated)}")
    for t in tasks:
        if not _TASK_ID.fullmatch(t.id) or t.chapter not in CHAPTERS or not t.description:
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
    if problems:
        raise ExerciseError("; ".join(problems))


def locations(root: str | os.PathLike[str] | None = None) -> dict[str, list[str]]:
    """Where each task lives, ``"path:line"``: its regions, or in a student copy its stubs."""
    base = _source_root(root)
    found: dict[str, list[str]] = {}
    for source in package_sources(base):
        rel = source.relative_to(base).as_posix()
        text = source.read_text(encoding="utf-8")
        for region in parse_regions(text, rel):
            found.setdefault(region.task_id, []).append(f"{rel}:{region.begin}")
        for number, line in enumerate(text.splitlines(), start=1):
            stub = _STUB.match(line)
            if stub:
                found.setdefault(stub["id"], []).append(f"{rel}:{number}")
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


def exercises_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The ``EXERCISES.md`` of a student copy: every task, where it is, how to check it."""
    parts = [
        "# Exercises",
        "",
        "Every task below is a stub raising `NotImplementedError` in the package. Implement it,",
        "then check it from this folder (no install needed, or `pip install -e .` first):",
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


def project_files(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The files a student copy is made of, relative to ``root``: the package, tests, chapters,
    benchmarks, data and the top-level project files (caches and the exercise gate left out)."""
    base = _source_root(root)
    files = [Path(name) for name in _COPIED_FILES if (base / name).is_file()]
    for folder in _COPIED_DIRS:
        for path in sorted((base / folder).rglob("*")):
            rel = path.relative_to(base)
            if (
                path.is_file()
                and not _SKIPPED_NAMES.intersection(rel.parts)
                and path.suffix != ".pyc"
                and rel.as_posix() not in _NOT_COPIED
            ):
                files.append(rel)
    return files


def init(
    dest: str | os.PathLike[str],
    root: str | os.PathLike[str] | None = None,
    keep: Iterable[str] = (),
) -> Path:
    """Write a student copy of the project at ``root`` (default: this checkout) into ``dest``.

    Every solution region of the package becomes a stub (except the tasks in ``keep``), the
    other files are copied unchanged, and an ``EXERCISES.md`` lists the tasks. ``dest`` must not
    exist or be empty; the copy is built beside it and moved in place at the end, so a failure
    leaves nothing half-written.

    Returns
    -------
    Path
        ``dest``.
    """
    base = _source_root(root)
    target = Path(dest)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExerciseError(f"{target} exists and is not an empty folder; choose a new folder")
    regions = scan(base)
    check_registry(regions)
    keep = set(keep)
    for task_id in keep:
        task(task_id)
    with_regions = {r.path for r in regions}
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for rel in project_files(base):
            out = staging / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            if rel.as_posix() in with_regions:
                text = (base / rel).read_text(encoding="utf-8")
                out.write_text(stub_source(text, rel.as_posix(), keep), encoding="utf-8")
            else:
                shutil.copy2(base / rel, out)
        (staging / "EXERCISES.md").write_text(
            exercises_markdown(task_rows(staging)), encoding="utf-8"
        )
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def restore(
    copy: str | os.PathLike[str], task_id: str, root: str | os.PathLike[str] | None = None
) -> list[str]:
    """Put the reference solution of ``task_id`` back into the student copy at ``copy``.

    The files holding the task's regions are regenerated from the reference at ``root`` with
    that task kept and every other task stubbed (the copy's other edits to those files are
    overwritten). Returns the relative paths rewritten.
    """
    base = _source_root(root)
    task(task_id)
    paths = sorted({r.path for r in scan(base) if r.task_id == task_id})
    for rel in paths:
        text = (base / rel).read_text(encoding="utf-8")
        (Path(copy) / rel).write_text(stub_source(text, rel, {task_id}), encoding="utf-8")
    return paths


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
