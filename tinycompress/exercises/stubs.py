"""Writing stubs: a source file with its solution regions replaced by hints and a ``raise``.

A stub stands where its region was, at the indentation of the markers::

    # TODO task avgpool-backward: implement the average-pooling backward pass, ...
    #   A window's output is the mean of its K*K inputs (K = kernel), so each of them gets
    #   ... (the task's hints for this function, from :data:`.tasks.TASKS`)
    # Replace the raise and the placeholder line(s) after it with code that sets: dwin.
    raise NotImplementedError(
        "task avgpool-backward: implement the average-pooling backward pass, 1/K^2 of each "
        "window's gradient; check with: pytest -m task_avgpool_backward"
    )
    dwin = ...

The placeholders bind what the code after the region reads, and the lines that set up names
only the solution reads get a targeted ``# noqa`` (see :mod:`.names`, which argues the choice),
so the copy passes ``ruff check``. Every line a stub writes fits in the project's 100 columns
(ruff does not count a ``# noqa`` comment appended to a given line).
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from collections.abc import Iterable, Sequence

from tinycompress.errors import ExerciseError

from .names import handover
from .regions import Region, parse_python, parse_regions
from .tasks import TASKS, Task, task

LINE_LENGTH = 100
"""The longest line a stub writes (``[tool.ruff] line-length``)."""

_MESSAGE = re.compile(r"task (?P<id>[a-z0-9-]+): ")


def stub_source(
    text: str, path: str = "<string>", keep: Iterable[str] = (), tasks: Sequence[Task] = TASKS
) -> str:
    """Return ``text`` with every solution region replaced by its stub.

    Regions of the tasks in ``keep`` keep their solution lines (only their markers go), which is
    the file a student has once they solved those tasks.
    """
    regions = parse_regions(text, path)
    keep = set(keep)
    given = handover(text, [r for r in regions if r.task_id not in keep])
    lines = text.splitlines(keepends=True)
    _add_pragmas(lines, given.pragmas, path)
    out: list[str] = []
    start = 0
    for region in regions:
        out.extend(lines[start : region.begin - 1])
        if region.task_id in keep:
            out.extend(region.body)
        else:
            newline = "\r\n" if lines[region.begin - 1].endswith("\r\n") else "\n"
            stub = _stub(region, task(region.task_id, tasks), given.outputs[region])
            out.extend(line + newline for line in stub)
        start = region.end
    out.extend(lines[start:])
    return "".join(out)


def find_stubs(text: str, path: str = "<string>") -> list[tuple[str, int]]:
    """The stubs of a file as (task id, line number), in file order.

    A stub is a ``raise NotImplementedError("task <id>: ...")`` statement (text that only looks
    like one, in a docstring, is not); its line is that of the ``# TODO task <id>:`` comment
    heading the comment lines right above it, or the ``raise`` if there is none.
    """
    lines = text.splitlines()
    found = []
    for node in ast.walk(parse_python(text, path)):
        message = _stub_message(node)
        if message is None:
            continue
        first = line = node.lineno
        while line > 1 and lines[line - 2].lstrip().startswith("#"):
            line -= 1
            if lines[line - 1].lstrip().startswith(f"# TODO task {message['id']}:"):
                first = line
        found.append((message["id"], first))
    return sorted(found, key=lambda stub: stub[1])


def _stub_message(node: ast.AST) -> re.Match[str] | None:
    """The match of :data:`_MESSAGE` if ``node`` raises a stub's ``NotImplementedError``."""
    if not (
        isinstance(node, ast.Raise)
        and isinstance(node.exc, ast.Call)
        and isinstance(node.exc.func, ast.Name)
        and node.exc.func.id == "NotImplementedError"
        and node.exc.args
        and isinstance(node.exc.args[0], ast.Constant)
        and isinstance(node.exc.args[0].value, str)
    ):
        return None
    return _MESSAGE.match(node.exc.args[0].value)


def _stub(region: Region, exercise: Task, outputs: Sequence[str]) -> list[str]:
    """The lines (without line endings) that replace ``region``."""
    indent = region.indent
    lines = _comment(indent, f"TODO task {exercise.id}: implement {exercise.description}")
    for hint in exercise.hints[region.function]:
        lines += _comment(indent, hint, level=1)
    if outputs:
        lines += _comment(indent, "Replace the raise and the placeholder line(s) after it with "
                          f"code that sets: {', '.join(outputs)}.")
    lines.append(f"{indent}raise NotImplementedError(")
    pieces = _wrap(exercise.message, LINE_LENGTH - len(indent) - len('    ""'))
    lines += [f"{indent}    {json.dumps(piece)}" for piece in pieces]
    lines.append(f"{indent})")
    lines += [f"{indent}{name} = ..." for name in outputs]
    return lines


def _comment(indent: str, text: str, level: int = 0) -> list[str]:
    """``text`` as comment lines, indented by ``level`` steps of two spaces after the ``#``,
    wrapped to the line length."""
    lead = f"{indent}# " + "  " * level
    return [lead + piece.rstrip() for piece in _wrap(text, LINE_LENGTH - len(lead))]


def _wrap(text: str, width: int) -> list[str]:
    """``text`` cut after spaces into pieces of at most ``width`` characters (a longer word
    stands alone); the pieces keep their trailing spaces, so they join back into ``text``."""
    pieces = [""]
    for word in re.findall(r"\S+\s*", text):
        if pieces[-1] and len(pieces[-1] + word) > width:
            pieces.append("")
        pieces[-1] += word
    return pieces


def _add_pragmas(lines: list[str], pragmas: dict[int, str], path: str) -> None:
    """Append each ``# noqa`` comment of ``pragmas`` (by line number) to its line, in place."""
    if not pragmas:
        return
    open_ends = _lines_ending_outside_strings("".join(lines))
    for number, pragma in pragmas.items():
        if number not in open_ends:
            raise ExerciseError(
                f"{path}:{number}: a comment cannot end this line (it continues in a string or "
                f"after a backslash), so the stub cannot mark it with {pragma!r}; split the line"
            )
        line = lines[number - 1]
        body = line.rstrip("\r\n")
        lines[number - 1] = f"{body}  {pragma}{line[len(body):]}"


def _lines_ending_outside_strings(text: str) -> set[int]:
    """The numbers of the lines whose end a comment may precede."""
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    ends = {tokenize.NEWLINE, tokenize.NL}
    return {t.start[0] for t in tokens if t.type in ends}
