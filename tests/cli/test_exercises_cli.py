"""``tinycompress exercises``: the task list as a table and as JSON, and writing a copy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinycompress.cli import main
from tinycompress.exercises import regions
from tinycompress.exercises.tasks import TASKS

TASK_IDS = [t.id for t in TASKS]


def test_cli_list_json_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exercises", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["tasks"]
    assert [r["id"] for r in rows] == TASK_IDS
    assert all(r["locations"] and r["command"] == f"pytest -m {r['mark']}" for r in rows)
    assert main(["exercises", "list"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["task", "chapter", "mark", "location"]
    assert len(table) == 1 + len(TASK_IDS)


def test_cli_init_refuses_a_non_empty_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["exercises", "init", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an empty folder" in err


def test_cli_init_writes_a_student_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not regions.scan():
        pytest.skip("this is a student copy: it has no solutions to make another copy from")
    copy = tmp_path / "copy"
    assert main(["exercises", "init", str(copy)]) == 0
    assert capsys.readouterr().out == (
        f"wrote a student copy with {len(TASKS)} tasks to {copy}; "
        f"start with {copy / 'EXERCISES.md'}\n"
    )
    assert (copy / "EXERCISES.md").is_file()


def test_cli_init_refuses_a_folder_inside_the_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tinycompress").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    assert main(["exercises", "init", str(tmp_path / "copy"), "--source", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is inside the source checkout" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml", "tinycompress"]
