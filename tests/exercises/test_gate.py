"""The two-sided gate on the student copy the exercise generator writes.

The gate (tests marked ``exercises_gate``) writes a student copy into a temporary folder and runs
pytest inside it in subprocesses: the copy imports, passes ``ruff check``, shows no solution
line, every test not tied to a task passes, every task's tests fail with the task's
``NotImplementedError``, and putting one task's solution back makes exactly that task's tests
pass. Environment variable ``TINYCOMPRESS_GATE_TASKS=N`` restricts the last check to a sample of
N tasks rotating by day, and ``TINYCOMPRESS_GATE_UNTIED=marked-files`` the all-stubs run to the
files holding task marks.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tinycompress.exercises import checkout, listing, regions, stubs, student_copy
from tinycompress.exercises.tasks import TASKS, task

ROOT = checkout.project_root()
TASK_IDS = [t.id for t in TASKS]
MARK_TO_ID = {t.mark: t.id for t in TASKS}

pytestmark = pytest.mark.exercises_gate


def _env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy), str(Path(__file__).parent)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _pytest_in(copy: Path, report: Path, *args: str) -> dict[str, Any]:
    """Run pytest in the student copy and return the gate plugin's report."""
    # Plugin autoloading (nbmake, anyio, ...) costs seconds per run; load only what tests use.
    plugins = ["gate_plugin"]
    if importlib.util.find_spec("_hypothesis_pytestplugin"):
        plugins.append("_hypothesis_pytestplugin")
    command = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
        *(arg for plugin in plugins for arg in ("-p", plugin)),
        "-o", "addopts=", "--strict-markers", "-q", "--no-header",
        "--gate-report", str(report), *args,
    ]  # fmt: skip
    env = {**_env(copy), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=900)
    tail = (done.stdout + done.stderr)[-3000:]
    assert done.returncode in (0, 1, 5), f"pytest in the student copy crashed:\n{tail}"
    result = json.loads(report.read_text(encoding="utf-8"))
    assert not result["collection_errors"], f"collection errors in the student copy:\n{tail}"
    assert result["tinycompress"] is not None
    assert Path(result["tinycompress"]).resolve().is_relative_to(copy.resolve())
    return result


@pytest.fixture(scope="module")
def student_copy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A student copy of this checkout, every task stubbed."""
    return student_copy.init(tmp_path_factory.mktemp("exercises") / "student")


def _student_test_paths(copy: Path) -> list[str]:
    """Test files the all-stubs run covers: every one, or with ``TINYCOMPRESS_GATE_UNTIED=
    marked-files`` (a quicker, weaker check) only the files that hold task-marked tests."""
    if os.environ.get("TINYCOMPRESS_GATE_UNTIED", "all") == "all":
        return ["tests"]
    return sorted(
        p.relative_to(copy).as_posix()
        for p in (copy / "tests").rglob("test_*.py")
        if "pytest.mark.task_" in p.read_text(encoding="utf-8")
    )


@pytest.fixture(scope="module")
def student_run(student_copy_dir: Path) -> dict[str, dict[str, Any]]:
    """The non-slow tests of the student copy (notebooks aside), run once with every stub."""
    report = student_copy_dir.parent / "all.json"
    paths = _student_test_paths(student_copy_dir)
    return _pytest_in(student_copy_dir, report, "-m", "not slow", *paths)["tests"]


def _tasks_of(entry: dict[str, Any]) -> set[str]:
    """The task ids a test is tied to (a test reaching several stubs carries several marks)."""
    return {MARK_TO_ID[m] for m in entry["tasks"]}


def _fails_with_stub(entry: dict[str, Any], task_ids: set[str]) -> bool:
    """True if the test failed with the NotImplementedError stub of one of ``task_ids``."""
    if entry["outcome"] != "failed" or entry["error"] != "NotImplementedError":
        return False
    match = re.match(r"task ([a-z0-9-]+):", entry["message"] or "")
    return match is not None and match[1] in task_ids


def _show(entries: dict[str, dict[str, Any]]) -> str:
    return json.dumps(
        {k: f"{v['outcome']} {v['error']}: {v['message']}" for k, v in entries.items()}, indent=1
    )


def test_student_copy_imports_every_module(student_copy_dir: Path) -> None:
    modules = [  # packages are imported with their modules; __main__ would run the CLI
        ".".join(p.relative_to(student_copy_dir).with_suffix("").parts)
        for p in checkout.package_sources(student_copy_dir)
        if p.name not in {"__init__.py", "__main__.py"}
    ]
    code = "import tinycompress; print(list(tinycompress.__path__)[0])\n" + "".join(
        f"import {m}\n" for m in modules
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=student_copy_dir, env=_env(student_copy_dir),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).resolve().is_relative_to(student_copy_dir.resolve())


def _ruff_findings(folder: Path, ruff: str) -> Counter[tuple[str, str, str]]:
    """``ruff check`` of ``folder`` with its own configuration: (file, rule, message) counts."""
    done = subprocess.run(
        [ruff, "check", "--no-cache", "--output-format", "json", "--exit-zero", "."],
        cwd=folder, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return Counter(
        (Path(f["filename"]).resolve().relative_to(folder.resolve()).as_posix(), f["code"],
         f["message"])
        for f in json.loads(done.stdout)
    )


def test_student_copy_passes_ruff_check(student_copy_dir: Path) -> None:
    """The stubs add no ruff finding: none the reference checkout does not have too (the
    reference's own findings are the lint run's to report, not the generator's)."""
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]'): cannot lint the copy")
    added = _ruff_findings(student_copy_dir, ruff) - _ruff_findings(ROOT, ruff)
    assert not added, "ruff findings the stubs add to the student copy:\n" + "\n".join(
        f"{path}: {code} {message}" for path, code, message in sorted(added)
    )


def test_student_copy_has_no_solution_text(student_copy_dir: Path) -> None:
    assert regions.scan(student_copy_dir) == []
    for rel in sorted({r.path for r in regions.scan(ROOT)}):
        reference = (ROOT / rel).read_text(encoding="utf-8")
        found = regions.parse_regions(reference, rel)
        inside = {i for r in found for i in r.lines}
        outside = Counter(
            line.strip()
            for i, line in enumerate(reference.splitlines(), start=1)
            if i not in inside
        )
        copied = (student_copy_dir / rel).read_text(encoding="utf-8")
        student = Counter(line.strip() for line in copied.splitlines())
        for region in found:
            for line in region.body:
                text = line.strip()
                if re.search(r"\w", text):  # a lone bracket is no solution (stubs write them)
                    assert student[text] <= outside[text], f"{rel}: solution line left: {text!r}"
    rows = listing.task_rows(student_copy_dir)
    assert all(row["locations"] for row in rows), "a task has no stub in the student copy"
    guide = (student_copy_dir / "EXERCISES.md").read_text(encoding="utf-8")
    assert all(f"`pytest -m {t.mark}`" in guide for t in TASKS)
    assert not (student_copy_dir / "tests" / "exercises").exists()


def test_tests_not_tied_to_a_task_pass_in_student_copy(student_run: dict[str, Any]) -> None:
    untied = {k: v for k, v in student_run.items() if not v["tasks"]}
    assert untied, "no test ran in the student copy"
    broken = {k: v for k, v in untied.items() if v["outcome"] == "failed"}
    assert not broken, (
        "tests without a task mark fail in the student copy; mark each with the task(s) whose "
        f"stub it reaches, or keep it off the stubbed code:\n{_show(broken)}"
    )


def test_task_tests_fail_with_their_stub_in_student_copy(student_run: dict[str, Any]) -> None:
    tied = {k: v for k, v in student_run.items() if v["tasks"]}
    wrong = {k: v for k, v in tied.items() if not _fails_with_stub(v, _tasks_of(v))}
    assert not wrong, f"task tests that do not fail with a stub of their task(s):\n{_show(wrong)}"
    own = {i for v in tied.values() if len(v["tasks"]) == 1 for i in _tasks_of(v)}
    untested = [t.id for t in TASKS if t.id not in own]
    assert not untested, f"tasks without a (non-slow) test of their own: {untested}"


def _sample(task_ids: list[str]) -> list[str]:
    wanted = os.environ.get("TINYCOMPRESS_GATE_TASKS", "all")
    if wanted == "all" or int(wanted) >= len(task_ids):
        return task_ids
    start = datetime.date.today().toordinal() * int(wanted) % len(task_ids)
    return (task_ids + task_ids)[start : start + int(wanted)]


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_restoring_a_task_passes_exactly_its_tests(
    task_id: str, student_copy_dir: Path, student_run: dict[str, Any]
) -> None:
    """With one task's solution back, the tests tied to that task alone pass, and the tests tied
    to it and other tasks still fail, with a stub of one of those others.

    Only the tests marked with the task run: restoring it changes nothing but its regions, and a
    test reaching them without the mark is caught when its own task is restored (its stub is
    then the next one it hits) or by the all-stubs run."""
    if task_id not in _sample(TASK_IDS):
        pytest.skip("not in today's sample (TINYCOMPRESS_GATE_TASKS)")
    mark = task(task_id).mark
    mine = {k: v for k, v in student_run.items() if task_id in _tasks_of(v)}
    assert mine, f"no test is marked with {mark}"
    files = sorted({k.split("::")[0] for k in mine})
    rewritten = student_copy.restore(student_copy_dir, task_id)
    try:
        report = student_copy_dir.parent / f"restore-{task_id}.json"
        result = _pytest_in(student_copy_dir, report, "-m", f"{mark} and not slow", *files)
    finally:
        for rel in rewritten:
            text = (ROOT / rel).read_text(encoding="utf-8")
            (student_copy_dir / rel).write_text(stubs.stub_source(text, rel), encoding="utf-8")
    tests = result["tests"]
    assert set(tests) == set(mine)
    own = {k: v for k, v in tests.items() if _tasks_of(v) == {task_id}}
    failing = {k: v for k, v in own.items() if v["outcome"] == "failed"}
    assert own and not failing, f"with {task_id} restored its tests still fail:\n{_show(failing)}"
    shared = {k: v for k, v in tests.items() if _tasks_of(v) != {task_id}}
    wrong = {k: v for k, v in shared.items() if not _fails_with_stub(v, _tasks_of(v) - {task_id})}
    assert not wrong, f"tests tied to {task_id} and other tasks:\n{_show(wrong)}"
