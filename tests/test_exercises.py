"""Tests of the exercise generator, and the two-sided gate on the student copy it writes.

The gate (tests marked ``exercises_gate``) writes a student copy into a temporary folder and runs
pytest inside it in subprocesses: the copy imports, shows no solution line, every test not tied
to a task passes, every task's tests fail with the task's ``NotImplementedError``, and putting
one task's solution back makes exactly that task's tests pass. Environment variable
``TINYCOMPRESS_GATE_TASKS=N`` restricts the last check to a sample of N tasks rotating by day,
and ``TINYCOMPRESS_GATE_UNTIED=marked-files`` the all-stubs run to the files holding task marks.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tinycompress import cli, exercises
from tinycompress.errors import ExerciseError
from tinycompress.exercises import Task

ROOT = exercises.project_root()
TASK_IDS = [t.id for t in exercises.TASKS]

# --------------------------------------------------------------------------- the marker parser

SYNTHETIC = [Task("add-one", "01_convolutions", "adding one"), Task("double", "03_pruning", "x2")]

SOURCE = '''\
def add_one(x):
    """Docstring stays."""
    if x is None:
        raise ValueError("x")
    # BEGIN SOLUTION add-one
    y = x + 1
    # END SOLUTION
    return y


class K:
    def double(self, x):
        for _ in range(1):
            # BEGIN SOLUTION double
            y = 2 * x
            if y < 0:
                y = -y
            # END SOLUTION
        return y
'''


def _load(text: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(text, "<synthetic>", "exec"), namespace)
    return namespace


def test_parse_regions_finds_ids_lines_indent_and_body() -> None:
    regions = exercises.parse_regions(SOURCE, "m.py")
    assert [(r.task_id, r.begin, r.end, r.indent) for r in regions] == [
        ("add-one", 5, 7, "    "),
        ("double", 14, 18, " " * 12),
    ]
    assert regions[0].body == ("    y = x + 1\n",)
    assert regions[1].body[1] == "            if y < 0:\n"


def test_stub_keeps_shape_indentation_and_raises_naming_task_and_command() -> None:
    stubbed = exercises.stub_source(SOURCE, "m.py", tasks=SYNTHETIC)
    assert "SOLUTION" not in stubbed and "x + 1" not in stubbed and "2 * x" not in stubbed
    lines = stubbed.splitlines()
    assert lines[4] == (
        '    raise NotImplementedError("task add-one: implement adding one; '
        'check with: pytest -m task_add_one")'
    )
    assert lines[11].startswith(" " * 12 + "raise NotImplementedError(")
    assert len(lines) == len(SOURCE.splitlines()) - 2 - 4
    namespace = _load(stubbed)
    with pytest.raises(ValueError):  # the argument check outside the region still runs
        namespace["add_one"](None)
    with pytest.raises(NotImplementedError, match="task add-one: .*pytest -m task_add_one"):
        namespace["add_one"](1)
    with pytest.raises(NotImplementedError, match="pytest -m task_double$"):
        namespace["K"]().double(3)


def test_stub_keep_restores_the_solution_without_markers() -> None:
    restored = exercises.stub_source(SOURCE, "m.py", keep={"double"}, tasks=SYNTHETIC)
    assert "SOLUTION" not in restored
    namespace = _load(restored)
    assert namespace["K"]().double(-3) == 6
    with pytest.raises(NotImplementedError, match="task add-one"):
        namespace["add_one"](1)


def test_stub_preserves_crlf_line_endings() -> None:
    text = SOURCE.replace("\n", "\r\n")
    stubbed = exercises.stub_source(text, "m.py", tasks=SYNTHETIC)
    assert stubbed.count("\r\n") == stubbed.count("\n") == len(SOURCE.splitlines()) - 6


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "# BEGIN SOLUTION a\nx = 1\n# BEGIN SOLUTION b\ny = 2\n"
            "# END SOLUTION\n# END SOLUTION\n",
            r"^m\.py:3: nested BEGIN SOLUTION inside the region a opened on line 1",
        ),
        ("x = 0\n# BEGIN SOLUTION a\nx = 1\n", r"^m\.py:2: BEGIN SOLUTION a is never closed"),
        ("x = 1\n# END SOLUTION\n", r"^m\.py:2: END SOLUTION without a BEGIN SOLUTION"),
        (
            "# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n",
            r"^m\.py:1: BEGIN SOLUTION needs one task id",
        ),
        ("# BEGIN SOLUTION Bad_Id\nx = 1\n# END SOLUTION\n", r"^m\.py:1: .*got 'Bad_Id'"),
        ("# BEGIN SOLUTION a b\nx = 1\n# END SOLUTION\n", r"^m\.py:1: .*got 'a b'"),
        ("# BEGIN SOLUTION a\nx = 1\n# END SOLUTION a\n", r"^m\.py:3: END SOLUTION takes nothing"),
        ("# BEGIN SOLUTION a\n\n# END SOLUTION\n", r"^m\.py:3: the region a is empty"),
        (
            "if 1:\n    # BEGIN SOLUTION a\n    x = 1\ny = 2\n    # END SOLUTION\n",
            r"^m\.py:4: line is indented less than the BEGIN SOLUTION a marker on line 2",
        ),
        (
            "if 1:\n    # BEGIN SOLUTION a\n    x = 1\n# END SOLUTION\n",
            r"^m\.py:4: END SOLUTION is indented differently",
        ),
        ("#BEGIN  SOLUTION a\nx = 1\n", r"^m\.py:1: BEGIN SOLUTION a is never closed"),
    ],
)
def test_parse_regions_refuses_malformed_markers(source: str, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        exercises.parse_regions(source, "m.py")


def test_markers_inside_strings_or_after_code_are_not_regions() -> None:
    source = 'text = "# BEGIN SOLUTION a"\nx = 1  # END SOLUTION\n'
    assert exercises.parse_regions(source) == []


def test_check_registry_reports_both_directions() -> None:
    regions = exercises.parse_regions(SOURCE, "m.py")
    exercises.check_registry(regions, SYNTHETIC)
    with pytest.raises(ExerciseError, match=r"not in TASKS: double \(m\.py:14\)"):
        exercises.check_registry(regions, SYNTHETIC[:1])
    extra = [*SYNTHETIC, Task("unused", "05_huffman", "nothing")]
    with pytest.raises(ExerciseError, match="tasks without a solution region: unused"):
        exercises.check_registry(regions, extra)
    with pytest.raises(ExerciseError, match="listed twice"):
        exercises.check_registry(regions, [*SYNTHETIC, SYNTHETIC[0]])
    with pytest.raises(ExerciseError, match="needs a dashed id, a chapter"):
        exercises.check_registry(regions, [*SYNTHETIC, Task("x", "07_nowhere", "d")])


def test_task_marks_and_unknown_task() -> None:
    assert Task("kmeans-assign", "04_quantisation", "d").mark == "task_kmeans_assign"
    with pytest.raises(ExerciseError, match="unknown exercise task 'nope'"):
        exercises.task("nope")
    with pytest.raises(ExerciseError, match="unknown chapter"):
        exercises.tasks_of_chapter("99_x")


def test_init_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("keep me")
    with pytest.raises(ExerciseError, match="not an empty folder"):
        exercises.init(tmp_path)
    assert (tmp_path / "x").read_text() == "keep me"


def test_init_refuses_a_folder_that_is_not_a_checkout(tmp_path: Path) -> None:
    with pytest.raises(ExerciseError, match="not a tinycompress source checkout"):
        exercises.init(tmp_path / "copy", root=tmp_path)


# --------------------------------------------------------------------------- the registry


def test_every_region_has_a_task_and_every_task_a_region() -> None:
    exercises.check_registry(exercises.scan())


def test_every_chapter_but_the_pipeline_has_tasks() -> None:
    chapters = {t.chapter for t in exercises.TASKS}
    assert set(exercises.CHAPTERS) - chapters <= {"06_deep_compression"}
    assert len(exercises.TASKS) >= 15


def test_task_marks_are_registered_in_pyproject() -> None:
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    markers = config["tool"]["pytest"]["ini_options"]["markers"]
    assert [m for m in markers if m.startswith("task_")] == [
        t.marker_line for t in exercises.TASKS
    ], "pyproject.toml markers must list Task.marker_line of every task, in order"


def test_notebook_section_lists_the_chapter_tasks() -> None:
    for chapter in exercises.CHAPTERS:
        section = exercises.notebook_section(chapter)
        assert section.startswith("## Exercises\n")
        listed = re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.MULTILINE)
        assert listed == [t.id for t in exercises.tasks_of_chapter(chapter)]


@pytest.mark.parametrize("chapter", exercises.CHAPTERS)
def test_each_notebook_ends_with_its_exercises_section(chapter: str) -> None:
    path = ROOT / "chapters" / f"{chapter}.ipynb"
    if not path.exists():
        pytest.skip(f"{path.name} is not written yet")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    markdown = [c for c in cells if c["cell_type"] == "markdown"]
    assert markdown, f"{path.name} has no markdown cell"
    last = "".join(markdown[-1]["source"])
    fix = "run `tinycompress exercises sync-notebooks` (keeps outputs) after executing it"
    assert last.startswith("## Exercises"), f"{path.name} does not end with Exercises: {fix}"
    listed = set(re.findall(r"pytest -m (task_\w+)", last))
    assert listed == {t.mark for t in exercises.tasks_of_chapter(chapter)}, f"{path.name}: {fix}"


def test_sync_notebook_appends_then_replaces_the_section_and_keeps_outputs(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("print(1)")
    code.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# Chapter"), code]
    path = tmp_path / "03_pruning.ipynb"
    nbformat.write(nb, path)
    assert exercises.sync_notebook(path)
    again = nbformat.read(path, as_version=4)
    nbformat.validate(again)
    assert len(again.cells) == 3 and again.cells[1].outputs == code.outputs
    assert again.cells[-1].source == exercises.notebook_section("03_pruning")
    assert not exercises.sync_notebook(path)  # already up to date: file untouched
    again.cells[-1].source = "## Exercises\n\nstale"
    nbformat.write(again, path)
    assert exercises.sync_notebook(path)
    assert len(nbformat.read(path, as_version=4).cells) == 3


def test_cli_list_json_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["exercises", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["tasks"]
    assert [r["id"] for r in rows] == TASK_IDS
    assert all(r["locations"] and r["command"] == f"pytest -m {r['mark']}" for r in rows)
    assert cli.main(["exercises", "list"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["task", "chapter", "mark", "location"]
    assert len(table) == 1 + len(TASK_IDS)


def test_cli_init_refuses_a_non_empty_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert cli.main(["exercises", "init", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an empty folder" in err


# --------------------------------------------------------------------------- the gate

gate = pytest.mark.exercises_gate


def _env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy), str(Path(__file__).parent)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _pytest_in(copy: Path, report: Path, *args: str) -> dict[str, Any]:
    """Run pytest in the student copy and return the gate plugin's report."""
    # Plugin autoloading (nbmake, anyio, ...) costs seconds per run; load only what tests use.
    plugins = ["exercise_gate_plugin"]
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
def student_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A student copy written by ``tinycompress exercises init``."""
    path = tmp_path_factory.mktemp("exercises") / "student"
    assert cli.main(["exercises", "init", str(path)]) == 0
    return path


def _student_test_paths(copy: Path) -> list[str]:
    """Test files the all-stubs run covers: every one, or with ``TINYCOMPRESS_GATE_UNTIED=
    marked-files`` (a quicker, weaker check) only the files that hold task-marked tests."""
    if os.environ.get("TINYCOMPRESS_GATE_UNTIED", "all") == "all":
        return ["tests"]
    return sorted(
        p.relative_to(copy).as_posix()
        for p in (copy / "tests").glob("test_*.py")
        if "pytest.mark.task_" in p.read_text(encoding="utf-8")
    )


@pytest.fixture(scope="module")
def student_run(student_copy: Path) -> dict[str, dict[str, Any]]:
    """The non-slow tests of the student copy (notebooks aside), run once with every stub."""
    report = student_copy.parent / "all.json"
    paths = _student_test_paths(student_copy)
    return _pytest_in(student_copy, report, "-m", "not slow", *paths)["tests"]


MARK_TO_ID = {t.mark: t.id for t in exercises.TASKS}


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


@gate
def test_student_copy_imports_every_module(student_copy: Path) -> None:
    modules = [p.stem for p in exercises.package_sources(student_copy) if p.stem != "__init__"]
    code = "import tinycompress; print(list(tinycompress.__path__)[0])\n" + "".join(
        f"import tinycompress.{m}\n" for m in modules
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=student_copy, env=_env(student_copy),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).resolve().is_relative_to(student_copy.resolve())


@gate
def test_student_copy_has_no_solution_text(student_copy: Path) -> None:
    assert exercises.scan(student_copy) == []
    for rel in sorted({r.path for r in exercises.scan(ROOT)}):
        reference = (ROOT / rel).read_text(encoding="utf-8")
        regions = exercises.parse_regions(reference, rel)
        inside = {i for r in regions for i in range(r.begin, r.end + 1)}
        outside = Counter(
            line.strip()
            for i, line in enumerate(reference.splitlines(), start=1)
            if i not in inside
        )
        student = Counter(line.strip() for line in (student_copy / rel).read_text().splitlines())
        for region in regions:
            for line in region.body:
                text = line.strip()
                assert student[text] <= outside[text], f"{rel}: solution line left: {text!r}"
    rows = exercises.task_rows(student_copy)
    assert all(row["locations"] for row in rows), "a task has no stub in the student copy"
    guide = (student_copy / "EXERCISES.md").read_text(encoding="utf-8")
    assert all(f"`pytest -m {t.mark}`" in guide for t in exercises.TASKS)
    assert not (student_copy / "tests" / "test_exercises.py").exists()


@gate
def test_tests_not_tied_to_a_task_pass_in_student_copy(student_run: dict[str, Any]) -> None:
    untied = {k: v for k, v in student_run.items() if not v["tasks"]}
    assert untied, "no test ran in the student copy"
    broken = {k: v for k, v in untied.items() if v["outcome"] == "failed"}
    assert not broken, (
        "tests without a task mark fail in the student copy; mark each with the task(s) whose "
        f"stub it reaches, or keep it off the stubbed code:\n{_show(broken)}"
    )


@gate
def test_task_tests_fail_with_their_stub_in_student_copy(student_run: dict[str, Any]) -> None:
    tied = {k: v for k, v in student_run.items() if v["tasks"]}
    wrong = {k: v for k, v in tied.items() if not _fails_with_stub(v, _tasks_of(v))}
    assert not wrong, f"task tests that do not fail with a stub of their task(s):\n{_show(wrong)}"
    own = {i for v in tied.values() if len(v["tasks"]) == 1 for i in _tasks_of(v)}
    untested = [t.id for t in exercises.TASKS if t.id not in own]
    assert not untested, f"tasks without a (non-slow) test of their own: {untested}"


def _sample(task_ids: list[str]) -> list[str]:
    wanted = os.environ.get("TINYCOMPRESS_GATE_TASKS", "all")
    if wanted == "all" or int(wanted) >= len(task_ids):
        return task_ids
    start = datetime.date.today().toordinal() * int(wanted) % len(task_ids)
    return (task_ids + task_ids)[start : start + int(wanted)]


@gate
@pytest.mark.parametrize("task_id", TASK_IDS)
def test_restoring_a_task_passes_exactly_its_tests(
    task_id: str, student_copy: Path, student_run: dict[str, Any]
) -> None:
    """With one task's solution back, the tests tied to that task alone pass, and the tests tied
    to it and other tasks still fail, with a stub of one of those others.

    Only the tests marked with the task run: restoring it changes nothing but its regions, and a
    test reaching them without the mark is caught when its own task is restored (its stub is
    then the next one it hits) or by the all-stubs run."""
    if task_id not in _sample(TASK_IDS):
        pytest.skip("not in today's sample (TINYCOMPRESS_GATE_TASKS)")
    mine = {k: v for k, v in student_run.items() if task_id in _tasks_of(v)}
    assert mine, f"no test is marked with {exercises.task(task_id).mark}"
    files = sorted({k.split("::")[0] for k in mine})
    rewritten = exercises.restore(student_copy, task_id)
    try:
        report = student_copy.parent / f"restore-{task_id}.json"
        mark = exercises.task(task_id).mark
        result = _pytest_in(student_copy, report, "-m", f"{mark} and not slow", *files)["tests"]
    finally:
        for rel in rewritten:
            text = (ROOT / rel).read_text(encoding="utf-8")
            (student_copy / rel).write_text(exercises.stub_source(text, rel), encoding="utf-8")
    assert set(result) == set(mine)
    own = {k: v for k, v in result.items() if _tasks_of(v) == {task_id}}
    failing = {k: v for k, v in own.items() if v["outcome"] == "failed"}
    assert own and not failing, f"with {task_id} restored its tests still fail:\n{_show(failing)}"
    shared = {k: v for k, v in result.items() if _tasks_of(v) != {task_id}}
    wrong = {k: v for k, v in shared.items() if not _fails_with_stub(v, _tasks_of(v) - {task_id})}
    assert not wrong, f"tests tied to {task_id} and other tasks:\n{_show(wrong)}"
