"""The Exercises section that ends every chapter notebook."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tinycompress.exercises import notebooks
from tinycompress.exercises.checkout import project_root
from tinycompress.exercises.tasks import CHAPTERS, tasks_of_chapter


def test_notebook_section_lists_the_chapter_tasks() -> None:
    for chapter in CHAPTERS:
        section = notebooks.notebook_section(chapter)
        assert section.startswith("## Exercises\n")
        listed = re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.MULTILINE)
        assert listed == [t.id for t in tasks_of_chapter(chapter)]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_notebook_ends_with_its_exercises_section(chapter: str) -> None:
    path = project_root() / "chapters" / f"{chapter}.ipynb"
    assert path.is_file(), f"{path.name} is missing: every chapter of CHAPTERS has a notebook"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    markdown = [c for c in cells if c["cell_type"] == "markdown"]
    assert markdown, f"{path.name} has no markdown cell"
    last = "".join(markdown[-1]["source"])
    fix = "run `tinycompress exercises sync-notebooks` (keeps outputs) after executing it"
    assert last.startswith("## Exercises"), f"{path.name} does not end with Exercises: {fix}"
    listed = set(re.findall(r"pytest -m (task_\w+)", last))
    assert listed == {t.mark for t in tasks_of_chapter(chapter)}, f"{path.name}: {fix}"


def test_sync_notebook_appends_then_replaces_the_section_and_keeps_outputs(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("print(1)")
    code.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# Chapter"), code]
    path = tmp_path / "03_pruning.ipynb"
    nbformat.write(nb, path)
    assert notebooks.sync_notebook(path)
    again = nbformat.read(path, as_version=4)
    nbformat.validate(again)
    assert len(again.cells) == 3 and again.cells[1].outputs == code.outputs
    assert again.cells[-1].source == notebooks.notebook_section("03_pruning")
    assert not notebooks.sync_notebook(path)  # already up to date: file untouched
    again.cells[-1].source = "## Exercises\n\nstale"
    nbformat.write(again, path)
    assert notebooks.sync_notebook(path)
    assert len(nbformat.read(path, as_version=4).cells) == 3
