"""Finding solution regions: markers, their mistakes, the function of each region, the registry."""

from __future__ import annotations

import ast

import pytest

from tinycompress.errors import ExerciseError
from tinycompress.exercises import regions
from tinycompress.exercises.tasks import Task

from .synthetic import SOURCE, SYNTHETIC


def test_parse_regions_finds_ids_lines_indent_body_and_function() -> None:
    found = regions.parse_regions(SOURCE, "m.py")
    assert [(r.task_id, r.begin, r.end, r.indent, r.function) for r in found] == [
        ("add-one", 5, 7, "    ", "add_one"),
        ("double", 14, 18, " " * 12, "K.double"),
    ]
    assert found[0].body == ("    y = x + 1\n",)
    assert found[1].body[1] == "            if y < 0:\n"


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
        (
            "x = 0\n# BEGIN SOLUTION a\nx = 1\n# END SOLUTION\n",
            r"^m\.py:2: the region a is not inside a function",
        ),
        (
            "def f(:\n    # BEGIN SOLUTION a\n    x = 1\n    # END SOLUTION\n",
            r"^m\.py:1: not valid Python",
        ),
    ],
)
def test_parse_regions_refuses_malformed_markers(source: str, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        regions.parse_regions(source, "m.py")


def test_markers_inside_strings_or_after_code_are_not_regions() -> None:
    source = 'text = "# BEGIN SOLUTION a"\nx = 1  # END SOLUTION\n'
    assert regions.parse_regions(source) == []


def test_enclosing_function_is_the_innermost_one() -> None:
    tree = ast.parse(
        "def outer():\n    if True:\n        def inner():\n            return 1\n    return 2\n"
    )
    assert regions.enclosing_function(tree, 4)[0] == "outer.inner"
    assert regions.enclosing_function(tree, 5)[0] == "outer"
    assert regions.enclosing_function(tree, 1) is None  # the signature is not the body


def test_check_registry_reports_both_directions() -> None:
    found = regions.parse_regions(SOURCE, "m.py")
    regions.check_registry(found, SYNTHETIC)
    with pytest.raises(ExerciseError, match=r"not in TASKS: double \(m\.py:14\)"):
        regions.check_registry(found, SYNTHETIC[:1])
    extra = [*SYNTHETIC, Task("unused", "05_huffman", "nothing")]
    with pytest.raises(ExerciseError, match="tasks without a solution region: unused"):
        regions.check_registry(found, extra)
    with pytest.raises(ExerciseError, match="listed twice"):
        regions.check_registry(found, [*SYNTHETIC, SYNTHETIC[0]])
    with pytest.raises(ExerciseError, match="needs a dashed id, a chapter"):
        regions.check_registry(found, [*SYNTHETIC, Task("x", "07_nowhere", "d")])


def test_check_registry_wants_hints_for_exactly_the_functions_of_a_task() -> None:
    found = regions.parse_regions(SOURCE, "m.py")
    bare = [SYNTHETIC[0], Task("double", "03_pruning", "x2")]
    with pytest.raises(ExerciseError, match="task double has no hints for K.double"):
        regions.check_registry(found, bare)
    stale = [SYNTHETIC[0], Task("double", "03_pruning", "x2", {"K.double": ("h",), "f": ("h",)})]
    with pytest.raises(ExerciseError, match="hints for functions without its region: f$"):
        regions.check_registry(found, stale)


def test_every_region_has_a_task_and_every_task_a_region_with_hints() -> None:
    regions.check_registry(regions.scan())
