"""Unit-test-driven exercises generated from the reference implementation itself.

No paper here: this is the course tooling. The key lines of the library are wrapped in solution
regions, a comment line ``BEGIN SOLUTION <task-id>`` above them and ``END SOLUTION`` below
(each written as a ``#`` comment on its own line). ``tinycompress exercises init DIR`` writes a
student copy of the project in which every region is replaced by a stub at the same indentation:
comment lines of hints (the equation, the shapes, the helpers; written in :mod:`.tasks`), then::

    raise NotImplementedError("task kmeans-assign: implement ...; check with: pytest -m ...")

and the tests that exercise a task carry the pytest mark ``task_<id>`` (dashes become
underscores), so a student runs ``pytest -m task_kmeans_assign`` until it passes. Because the
stubs are cut out of the reference code, the exercises never drift from it; the test suite
checks both sides (``tests/exercises/``): the reference passes everything, the student copy
imports, passes ``ruff check``, leaks no solution line, fails exactly the tests of each task with
``NotImplementedError``, and restoring one task's solution makes exactly that task's tests pass.

A region holds the few lines of the idea, inside a function; the signature, docstring, argument
checks and ``return`` stay outside it, so a stub keeps the function's shape. Regions cannot
nest, every ``BEGIN`` needs its ``END`` (and the other way round), the lines inside a region are
indented at least as deep as its markers, every region's task is listed in
:data:`.tasks.TASKS` with hints for the region's function, and every task has a region.

Modules: :mod:`.tasks` (the task registry, the one source of the ``task_*`` pytest marks),
:mod:`.regions` (finding and checking the regions), :mod:`.names` (what a stub must bind and
which given names only the solution reads), :mod:`.stubs` (writing a stub), :mod:`.checkout`
(the source checkout and the files a copy is made of), :mod:`.student_copy` (writing and
restoring a copy), :mod:`.listing` (where each task lives, as a table), :mod:`.notebooks` (the
"How to run this chapter" cell and the Exercises section it writes into each chapter notebook)
and :mod:`.cellmap` (which cells of a chapter need which task, found by running the chapter in a
student copy).
"""
