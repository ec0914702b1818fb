"""The generated cells of every chapter notebook, and the cell map they are rendered from."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tinycompress.exercises import cellmap, notebooks, regions
from tinycompress.exercises.checkout import project_root
from tinycompress.exercises.tasks import CHAPTERS, TASKS, tasks_of_chapter

ROOT = project_root()
REGIONS = regions.scan()
FIX = ("run `tinycompress exercises sync-notebooks --cells` (it keeps outputs; without --cells "
       "it renders from the stored cell map)")


def _markdown(source: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": source.splitlines(True)}


def _code(source: str, outputs: list[dict[str, Any]] | None = None,
          timing: tuple[str, str] | None = None) -> dict[str, Any]:
    metadata = {} if timing is None else {
        "execution": {"iopub.execute_input": timing[0], "shell.execute_reply": timing[1]}}
    return {"cell_type": "code", "metadata": metadata, "source": source.splitlines(True),
            "outputs": outputs or [], "execution_count": None}


def _error(ename: str, evalue: str) -> dict[str, Any]:
    return {"output_type": "error", "ename": ename, "evalue": evalue,
            "traceback": [f"\x1b[0;31m{ename}\x1b[0m: {evalue}"]}


def _notebook(cells: list[dict[str, Any]]) -> dict[str, Any]:
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


CHAPTER = _notebook([
    _markdown("# Chapter 3"),
    _code("import numpy as np", timing=("2026-01-01T10:00:00.5Z", "2026-01-01T10:00:01Z")),
    _markdown("## 1. Masks that survive\n\nText."),
    _code("mask = prune()", timing=("2026-01-01T10:00:02Z", "2026-01-01T10:03:00Z")),
    _code("print(mask)"),
    _markdown("### Retraining settings"),
    _code("x = 1"),
    _markdown("## Closing note"),
    _code("hull()", timing=("2026-01-01T10:03:01Z", "2026-01-01T10:04:30.5Z")),
])


def test_cells_are_named_by_heading_and_rank_among_code_cells() -> None:
    assert cellmap.cell_labels(CHAPTER) == {
        1: ("the opening (before the first section)", 1),
        3: ("§1 Masks that survive", 1),
        4: ("§1 Masks that survive", 2),
        6: ("§1 Masks that survive, “Retraining settings”", 1),
        8: ("“Closing note”", 1),
    }
    assert [notebooks.ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"]


def test_failing_cells_go_to_the_stub_they_raised_or_the_failure_they_follow() -> None:
    stub = "task magnitude-prune: implement magnitude pruning; check with: pytest -m x"
    run = json.loads(json.dumps(CHAPTER))
    run["cells"][3]["outputs"] = [_error("NotImplementedError", stub)]
    run["cells"][4]["outputs"] = [_error("NameError", "name 'mask' is not defined")]
    run["cells"][8]["outputs"] = [_error("KeyError", "'x'")]
    raised, after, unexplained = cellmap.failing_cells(run, ["magnitude-prune", "lower-hull"])
    assert raised == {3: {"magnitude-prune"}} and after == {4, 8} and unexplained == {}
    assert cellmap.failing_cells(run, ["lower-hull"])[0] == {}  # not a task of the list
    run["cells"][3]["outputs"] = []
    assert cellmap.failing_cells(run, ["magnitude-prune"])[2].keys() == {4, 8}


def test_the_run_time_comes_from_the_execution_metadata_or_is_not_stated() -> None:
    assert notebooks.run_seconds(CHAPTER) == pytest.approx(270.0)
    text = notebooks.running_section(CHAPTER)
    assert text.startswith("## How to run this chapter\n")
    assert "TINYCOMPRESS_QUICK=1 jupyter lab" in text and "about 4 minutes" in text
    bare = _notebook([_markdown("# T"), _code("1")])
    assert notebooks.run_seconds(bare) is None
    assert "took" not in notebooks.running_section(bare)


ENTRY = {"hash": "h", "tasks": {"magnitude-prune": ["a", "b", "c"], "lower-hull": ["c"]},
         "cells": {"a": ["§1 Masks", 1], "b": ["§1 Masks", 3], "c": ["§2 Sensitivity", 2]}}


def test_the_exercises_section_says_where_how_and_which_cells() -> None:
    section = notebooks.notebook_section("03_pruning", REGIONS, ENTRY)
    listed = re.findall(r"^### `([a-z0-9-]+)`", section, flags=re.MULTILINE)
    assert listed == [t.id for t in tasks_of_chapter("03_pruning")]
    assert "tinycompress exercises init DIR" in section
    assert ("- **Implement:** `masked`, `magnitude_mask` and `quality_threshold` in "
            "`tinycompress/pruning/magnitude.py`\n") in section
    assert ("- **Cells of this chapter that need it:** §1 Masks, 1st and 3rd code cells; "
            "§2 Sensitivity, 2nd code cell.\n") in section
    assert "it:** §2 Sensitivity, 2nd code cell.\n" in section
    assert "`_fold` and `_clean` in `tinycompress/pruning/structured.py`" in section
    assert section.count("none (no cell of this chapter calls it)") == len(listed) - 2
    assert "Cells of this chapter" not in notebooks.notebook_section("03_pruning", REGIONS)


def test_sync_puts_both_cells_in_place_keeps_outputs_and_is_idempotent(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.from_dict(json.loads(json.dumps(CHAPTER)))
    nb.cells[1]["outputs"] = [nbformat.v4.new_output("stream", text="1\n")]
    nb.cells.append(nbformat.v4.new_markdown_cell("## Exercises\n\nstale"))
    path = tmp_path / "03_pruning.ipynb"
    nbformat.write(nb, path)
    before = notebooks.content_hash(notebooks.read_notebook(path))
    assert notebooks.sync_notebook(path, REGIONS, ENTRY)
    again = nbformat.read(path, as_version=4)
    nbformat.validate(again)
    assert [c.get("id") for c in again.cells][1] == "running"
    assert again.cells[-1].id == "exercises" and len(again.cells) == len(CHAPTER["cells"]) + 2
    assert again.cells[2].outputs == nb.cells[1]["outputs"]
    assert again.cells[1].source == notebooks.running_section(CHAPTER)
    assert again.cells[-1].source == notebooks.notebook_section("03_pruning", REGIONS, ENTRY)
    assert notebooks.content_hash(notebooks.read_notebook(path)) == before
    assert cellmap.cell_labels(notebooks.read_notebook(path))[5] == (
        "§1 Masks that survive", 2)  # the generated cells change no name
    assert not notebooks.sync_notebook(path, REGIONS, ENTRY)  # up to date: file untouched


def test_the_hash_ignores_outputs_and_prose_but_not_code_or_headings() -> None:
    base = notebooks.content_hash(CHAPTER)
    changed = json.loads(json.dumps(CHAPTER))
    changed["cells"][2]["source"] = ["## 1. Masks that survive\n", "\n", "Other text."]
    changed["cells"][3]["outputs"] = [_error("E", "v")]
    assert notebooks.content_hash(changed) == base
    changed["cells"][3]["source"] = ["mask = prune(0.5)"]
    assert notebooks.content_hash(changed) != base
    renamed = json.loads(json.dumps(CHAPTER))
    renamed["cells"][5]["source"] = ["### Retraining"]
    assert notebooks.content_hash(renamed) != base


def test_the_map_is_stored_merged_and_stale_once_a_chapter_changes(tmp_path: Path) -> None:
    (tmp_path / "tinycompress").mkdir()
    (tmp_path / "chapters").mkdir()
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert cellmap.load_cell_map(tmp_path) == {}
    entry = {**ENTRY, "hash": notebooks.content_hash(CHAPTER)}
    cellmap.write_cell_map({"03_pruning": entry}, tmp_path)
    cellmap.write_cell_map({"01_convolutions": ENTRY}, tmp_path)
    stored = cellmap.load_cell_map(tmp_path)
    assert list(stored) == ["01_convolutions", "03_pruning"] and stored["03_pruning"] == entry
    edited = json.loads(json.dumps(CHAPTER))
    edited["cells"][4]["source"] = ["print(mask.sum())"]
    chapters = {"01_convolutions": CHAPTER, "03_pruning": CHAPTER, "05_huffman": CHAPTER}
    assert cellmap.stale_chapters(stored, chapters) == ["01_convolutions", "05_huffman"]
    assert cellmap.stale_chapters(stored, {"03_pruning": edited}) == ["03_pruning"]


# The committed notebooks and cell map. Until `sync-notebooks --cells` runs after the last edit
# of a chapter, these fail: that is the staleness check.

def _committed(chapter: str) -> dict[str, Any]:
    path = ROOT / "chapters" / f"{chapter}.ipynb"
    assert path.is_file(), f"{path.name} is missing: every chapter of CHAPTERS has a notebook"
    return notebooks.read_notebook(path)


def test_the_cell_map_is_up_to_date_with_every_notebook_and_task() -> None:
    stored = cellmap.load_cell_map()
    assert stored, f"{cellmap.CELL_MAP} is missing: {FIX}"
    stale = cellmap.stale_chapters(stored, {c: _committed(c) for c in CHAPTERS})
    assert not stale, f"{cellmap.CELL_MAP} is stale for {stale}: {FIX}"
    document = json.loads((ROOT / cellmap.CELL_MAP).read_text(encoding="utf-8"))
    assert document["tasks"] == [t.id for t in TASKS], f"the tasks changed: {FIX}"
    for chapter, entry in stored.items():
        assert not entry["unexplained"], f"{chapter} fails in quick mode for no task"
        labels = cellmap.cell_labels(_committed(chapter))
        ids = {c.get("id"): i for i, c in enumerate(_committed(chapter)["cells"])}
        assert {k: list(labels[ids[k]]) for k in entry["cells"]} == entry["cells"], FIX


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_notebook_carries_its_generated_cells(chapter: str) -> None:
    nb = _committed(chapter)
    cells = nb["cells"]
    assert "".join(cells[0]["source"]).startswith("# "), "the first cell is the title"
    assert notebooks.generated(cells[1]) == "running", f"no 'How to run' cell: {FIX}"
    assert "".join(cells[1]["source"]) == notebooks.running_section(nb), FIX
    entry = cellmap.load_cell_map().get(chapter)
    wanted = notebooks.notebook_section(chapter, REGIONS, entry)
    assert "".join(cells[-1]["source"]) == wanted, f"stale Exercises section: {FIX}"
    assert [notebooks.generated(c) for c in cells].count(None) == len(cells) - 2
