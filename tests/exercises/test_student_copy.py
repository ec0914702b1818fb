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


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout with a two-file package and no solution regions (the task list unchecked)."""
    root = tmp_path / "src"
    (root / "tinycompress").mkdir(parents=True)
    (root / "tinycompress" / "__init__.py").write_text('"""A package."""\n')
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    monkeypatch.setattr(student_copy, "check_registry", lambda regions: None)
    return root


@pytest.mark.parametrize("inside", [".", "copy", "tinycompress/copy", "tinycompress/../x"])
def test_init_refuses_a_destination_inside_the_source(source: Path, inside: str) -> None:
    before = sorted(source.rglob("*"))
    with pytest.raises(ExerciseError, match="is inside the source checkout"):
        student_copy.init(source / inside, root=source)
    assert sorted(source.rglob("*")) == before


def test_init_into_the_current_empty_folder_keeps_that_folder(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    inode = here.stat().st_ino
    monkeypatch.chdir(here)
    assert student_copy.init(".", root=source) == Path(".")
    assert here.stat().st_ino == inode
    assert sorted(p.name for p in here.iterdir()) == ["EXERCISES.md", "pyproject.toml",
                                                      "tinycompress"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here", "src"]


def test_init_removes_the_staging_folder_a_killed_run_left(source: Path, tmp_path: Path) -> None:
    stale = tmp_path / ".copy.k1ll3d_9.tmp"  # where a killed `init copy` was building
    (stale / "tinycompress").mkdir(parents=True)
    (tmp_path / ".copy.keep").mkdir()  # not a name the project makes
    student_copy.init(tmp_path / "copy", root=source)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".copy.keep", "copy", "src"]
    assert (tmp_path / "copy" / "tinycompress" / "__init__.py").is_file()


def test_an_interrupted_init_leaves_nothing(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(student_copy.shutil, "copy2", fail)
    with pytest.raises(KeyboardInterrupt):
        student_copy.init(tmp_path / "copy", root=source)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]
