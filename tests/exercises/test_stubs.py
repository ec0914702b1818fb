"""Writing stubs: the hints and the raise in place of a region, and what keeps ruff quiet."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tinycompress.errors import ExerciseError
from tinycompress.exercises import stubs
from tinycompress.exercises.checkout import project_root
from tinycompress.exercises.tasks import Task

from .synthetic import SOURCE, SYNTHETIC, load

ADD_ONE_STUB = '''\
    # TODO task add-one: implement adding one
    #   one more than x
    # Replace the raise and the placeholder line(s) after it with code that sets: y.
    raise NotImplementedError(
        "task add-one: implement adding one; check with: pytest -m task_add_one"
    )
    y = ...
'''


def test_stub_keeps_shape_and_shows_hints_raise_and_placeholders() -> None:
    stubbed = stubs.stub_source(SOURCE, "m.py", tasks=SYNTHETIC)
    assert "SOLUTION" not in stubbed and "x + 1" not in stubbed and "2 * x" not in stubbed
    assert ADD_ONE_STUB in stubbed
    lines = stubbed.splitlines()
    assert lines[lines.index("class K:") + 3] == " " * 12 + "# TODO task double: implement x2"
    namespace = load(stubbed)
    with pytest.raises(ValueError):  # the argument check outside the region still runs
        namespace["add_one"](None)
    with pytest.raises(NotImplementedError, match="task add-one: .*pytest -m task_add_one"):
        namespace["add_one"](1)
    with pytest.raises(NotImplementedError, match="pytest -m task_double$"):
        namespace["K"]().double(3)
    assert stubs.find_stubs(stubbed) == [("add-one", 5), ("double", 18)]


def test_stub_keep_restores_the_solution_without_markers() -> None:
    restored = stubs.stub_source(SOURCE, "m.py", keep={"double"}, tasks=SYNTHETIC)
    assert "SOLUTION" not in restored and "TODO task double" not in restored
    namespace = load(restored)
    assert namespace["K"]().double(-3) == 6
    with pytest.raises(NotImplementedError, match="task add-one"):
        namespace["add_one"](1)


def test_stub_preserves_crlf_line_endings() -> None:
    stubbed = stubs.stub_source(SOURCE.replace("\n", "\r\n"), "m.py", tasks=SYNTHETIC)
    assert stubbed.count("\r\n") == stubbed.count("\n")
    assert stubbed.replace("\r\n", "\n") == stubs.stub_source(SOURCE, "m.py", tasks=SYNTHETIC)


def test_long_messages_and_hints_wrap_within_the_line_length_and_stay_whole() -> None:
    words = " ".join(f"word{i}" for i in range(60))
    long = [Task("add-one", "01_convolutions", words, {"add_one": (words,)}), SYNTHETIC[1]]
    stubbed = stubs.stub_source(SOURCE, "m.py", tasks=long)
    assert max(len(line) for line in stubbed.splitlines()) <= stubs.LINE_LENGTH
    with pytest.raises(NotImplementedError) as raised:
        load(stubbed)["add_one"](1)
    assert str(raised.value) == long[0].message


HANDOVER = '''\
import math
from os import path, sep


def join(a):
    """Joined."""
    parts = [a, "b"]
    n = len(parts)
    lo, hi = 0, 2
    first, second = parts
    # BEGIN SOLUTION join
    out = sep.join(parts[lo:hi]) + str(math.floor(n)) + first + second
    # END SOLUTION
    return out + path.curdir
'''
JOIN = [Task("join", "01_convolutions", "joining", {"join": ("sep between parts",)})]


def test_names_only_the_solution_reads_keep_their_line_with_a_targeted_noqa() -> None:
    stubbed = stubs.stub_source(HANDOVER, "m.py", tasks=JOIN).splitlines()
    pragma = "# noqa: {} (an input of task join)"
    assert stubbed[0] == "import math  " + pragma.format("F401")
    assert stubbed[1] == "from os import path, sep  " + pragma.format("F401")
    assert stubbed[6] == '    parts = [a, "b"]'  # read outside the region too
    assert stubbed[7] == "    n = len(parts)  " + pragma.format("F841")  # read only inside
    assert stubbed[8] == "    lo, hi = 0, 2  " + pragma.format("F841")  # a literal unpacking
    assert stubbed[9] == "    first, second = parts"  # ruff does not report this unpacking
    assert stubbed[-2:] == ["    out = ...", "    return out + path.curdir"]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed (dev extra)")
def test_stubbed_files_pass_ruff_with_the_project_config() -> None:
    for source, tasks in [(HANDOVER, JOIN), (SOURCE, SYNTHETIC)]:
        stubbed = stubs.stub_source(source, "m.py", tasks=tasks)
        done = subprocess.run(
            ["ruff", "check", "--no-cache", "--stdin-filename", "exercise_stub.py", "-"],
            input=stubbed, cwd=project_root(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr


def test_a_given_line_that_cannot_take_a_comment_is_refused() -> None:
    source = (
        'def f():\n    """D."""\n    text = """x\n    y"""\n'
        "    # BEGIN SOLUTION join\n    out = text\n    # END SOLUTION\n    return out\n"
    )
    with pytest.raises(ExerciseError, match=r"^m\.py:3: a comment cannot end this line"):
        stubs.stub_source(source, "m.py", tasks=[Task("join", "01_convolutions", "j",
                                                      {"f": ("h",)})])


def test_find_stubs_sees_raises_not_text_that_looks_like_one() -> None:
    text = (
        'def f():\n    """A stub looks like:\n\n    # TODO task a: implement it\n'
        '    raise NotImplementedError("task a: x")\n    """\n'
        '    # a comment\n    raise NotImplementedError("task b: y")\n'
    )
    assert stubs.find_stubs(text) == [("b", 8)]
