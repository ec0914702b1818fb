"""Writing a student copy: what it is made of, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinycompress.errors import ExerciseError
from tinycompress.exercises import checkout, student_copy


def test_init_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("keep me")
    with pytest.raises(ExerciseError, match="not an empty folder"):
        student_copy.init(tmp_path)
    assert (tmp_path / "x").read_text() == "keep me"


def test_init_refuses_a_folder_that_is_not_a_checkout(tmp_path: Path) -> None:
    with pytest.raises(ExerciseError, match="not a tinycompress source checkout"):
        student_copy.init(tmp_path / "copy", root=tmp_path)


def test_a_copy_holds_the_whole_package_and_every_test_folder_but_the_generators() -> None:
    root = checkout.project_root()
    files = {p.as_posix() for p in checkout.project_files()}
    wanted = {
        p.relative_to(root).as_posix()
        for folder in ("tinycompress", "tests")
        for p in (root / folder).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    generators = {f for f in wanted if f.startswith("tests/exercises/")}
    assert generators and not files & generators
    assert wanted - generators <= files
    assert {"pyproject.toml", "conftest.py", "tinycompress/exercises/tasks.py"} <= files
