"""The chapters read as a textbook: prose that cannot go stale, questions with answers, a design
challenge, and no function re-typed from the library.

A number written in a Markdown cell must appear somewhere in the notebook's code or outputs, so
that a figure quoted in prose is one the notebook computed (or typed as a parameter). Figures
quoted from a paper, and facts of a number format (float16's largest value), are listed, per
cell, in the cell's metadata ``{"tinycompress": {"quoted": ["40", "1.58"]}}``, which tells the
reader of the source that they are not measurements of this notebook.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import json
import re
from pathlib import Path

import pytest

from tinycompress.exercises.notebooks import generated

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
LIBRARY = ROOT / "tinycompress"

# Written where no figure is meant: math, code, links and images, HTML tags, and the
# numbers that are names (LeNet-300-100, MobileNetV1, int8, fp16, conv1, Table 5, §3, 2016).
_NOT_PROSE = re.compile(
    r"\$\$.*?\$\$|\$[^$\n]+\$|`[^`]*`|\]\([^)]*\)|<[^>]+>",
    re.DOTALL,
)
_NAMES = re.compile(
    r"\b(?:Table|Tables|Figure|Fig\.|Section|Eq\.|chapter|Chapter|cell|cells|part|Lab|"
    r"Labs)\s+\d+(?:\s*(?:[–-]|and|,)\s*\d+)*"  # references
    r"|§\s*\d+(?:[.–-]\d+)*"  # section references
    r"|\b(?:19|20)\d\d[a-z]?\b"  # years
    r"|\b\d+\s*nm\b"  # a process node (45 nm)
    r"|[A-Za-z_][A-Za-z0-9_]*(?:-\d+)*\d*"  # a word with its digits: LeNet-300-100, fc1, int8
)
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _output_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")))
        for kind, value in out.get("data", {}).items():
            if kind.startswith("text/"):
                parts.append("".join(value))
    return "\n".join(parts)


def _numbers(text: str) -> set[str]:
    """The numbers a reader sees in ``text``: thousands separators dropped, trailing zeros of a
    decimal kept (1.60 is not 1.6 on the page), a trailing comma or full stop removed."""
    found = set()
    for match in _NUMBER.findall(text):
        token = match.rstrip(",.").replace(",", "")
        if token:
            found.add(token)
    return found


def prose_numbers(markdown: str) -> set[str]:
    """The figures a Markdown cell states, once math, code, names and references are set aside."""
    return _numbers(_NAMES.sub(" ", _NOT_PROSE.sub(" ", markdown)))


def computed_text(cells: list[dict]) -> str:
    """Everything a notebook typed as code or printed: where a figure in prose may come from."""
    return "\n".join(
        "".join(c["source"]) + "\n" + _output_text(c) for c in cells if c["cell_type"] == "code"
    )


def test_prose_numbers_ignore_math_code_names_and_references() -> None:
    text = ("LeNet-300-100 keeps 8.2% ($2^{b}$, `fc=4`) in Table 5 of §3 (Han 2016); "
            "it stores 16,307 bytes and int8 needs 1.60 bits.")
    assert prose_numbers(text) == {"8.2", "16307", "1.60"}


def test_a_stale_figure_is_caught() -> None:
    cells = [{"cell_type": "code", "source": ["print(16307)"], "outputs": [
        {"output_type": "stream", "text": ["ratio 65.4x\n"]}]}]
    known = _numbers(computed_text(cells))
    assert prose_numbers("the file is 16,307 B, 65.4x") <= known
    assert prose_numbers("the file is 18 KB, 65.4x") - known == {"18"}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_markdown_numbers_come_from_the_notebook(path: Path) -> None:
    cells = _cells(path)
    known = _numbers(computed_text(cells))
    stale = {}
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown" or generated(cell):  # rendered by the library
            continue
        quoted = set(cell.get("metadata", {}).get("tinycompress", {}).get("quoted", []))
        missing = prose_numbers("".join(cell["source"])) - known - quoted
        if missing:
            stale[index] = sorted(missing)
    assert stale == {}, (
        f"{path.name}: Markdown cells quote numbers that no code or output of the notebook "
        f"holds (render them from the values, or list a paper's figure in the cell's "
        f"metadata tinycompress.quoted): {stale}"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_asks_questions_and_sets_a_challenge(path: Path) -> None:
    cells = _cells(path)
    texts = ["".join(c["source"]) + _output_text(c) for c in cells]
    answered = sum(
        1
        for i, cell in enumerate(cells[:-1])
        if cell["cell_type"] == "markdown"
        and "".join(cell["source"]).lstrip().startswith("**Question")
        and "<details>" in texts[i + 1]
    )
    challenges = [i for i, c in enumerate(cells)
                  if c["cell_type"] == "markdown" and "### Design challenge" in texts[i]]
    assert answered >= 2, f"{path.name}: {answered} questions with an answer after them"
    assert challenges, f"{path.name}: no '### Design challenge' cell"
    assert any(c["cell_type"] == "code" for c in cells[challenges[0] + 1:]), (
        f"{path.name}: the challenge has no code cell to check it")


def _library_functions() -> dict[str, set[str]]:
    """Every function of the library by name, and the normalised dumps of their bodies."""
    names: dict[str, set[str]] = {}
    for module in LIBRARY.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                names.setdefault(node.name, set()).add(_body(node))
    return names


def _body(node: ast.FunctionDef) -> str:
    """The function's statements with names, constants and docstring dropped: its shape."""
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    dump = ast.dump(ast.Module(body=body, type_ignores=[]), annotate_fields=False)
    return re.sub(r"'[^']*'|\d+(?:\.\d+)?", "_", dump)


def _similar(a: str, b: str) -> bool:
    """Two function shapes that mostly agree: a copy, perhaps lightly edited."""
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() > 0.8


def test_a_copied_function_is_caught_and_a_namesake_is_not() -> None:
    from tinycompress.pruning import budget

    source = inspect.getsource(budget.lower_hull)
    copy = ast.parse(source).body[0]
    wrapper = ast.parse("def lower_hull(x):\n    return budget.lower_hull(x)\n").body[0]
    shapes = _library_functions()["lower_hull"]
    assert any(_similar(_body(copy), s) for s in shapes)
    assert not any(_similar(_body(wrapper), s) for s in shapes)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_notebook_function_repeats_the_library(path: Path) -> None:
    library = _library_functions()
    bodies = {body for shapes in library.values() for body in shapes}
    repeats = []
    for cell in _cells(path):
        if cell["cell_type"] != "code":
            continue
        code = "\n".join(line for line in "".join(cell["source"]).splitlines()
                         if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(code)):
            if not isinstance(node, ast.FunctionDef):
                continue
            shape = _body(node)
            same_name = any(_similar(shape, other) for other in library.get(node.name, ()))
            if same_name or (len(node.body) > 2 and shape in bodies):
                repeats.append(node.name)
    assert repeats == [], f"{path.name} defines functions the library has: {repeats}"
