"""Student copies: writing one from the reference checkout, and restoring a task's solution."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from tinycompress.errors import ExerciseError

from .checkout import project_files, source_root
from .listing import exercises_markdown, task_rows
from .regions import check_registry, scan
from .stubs import stub_source
from .tasks import task


def init(
    dest: str | os.PathLike[str],
    root: str | os.PathLike[str] | None = None,
    keep: Iterable[str] = (),
) -> Path:
    """Write a student copy of the project at ``root`` (default: this checkout) into ``dest``.

    Every solution region of the package becomes a stub (except the tasks in ``keep``), the
    other files are copied unchanged, and an ``EXERCISES.md`` lists the tasks. ``dest`` must not
    exist or be empty; the copy is built beside it and moved in place at the end, so a failure
    leaves nothing half-written.

    Returns
    -------
    Path
        ``dest``.
    """
    base = source_root(root)
    target = Path(dest)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExerciseError(f"{target} exists and is not an empty folder; choose a new folder")
    regions = scan(base)
    check_registry(regions)
    keep = set(keep)
    for task_id in keep:
        task(task_id)
    with_regions = {r.path for r in regions}
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for rel in project_files(base):
            out = staging / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            if rel.as_posix() in with_regions:
                text = (base / rel).read_text(encoding="utf-8")
                out.write_text(stub_source(text, rel.as_posix(), keep), encoding="utf-8")
            else:
                shutil.copy2(base / rel, out)
        (staging / "EXERCISES.md").write_text(
            exercises_markdown(task_rows(staging)), encoding="utf-8"
        )
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def restore(
    copy: str | os.PathLike[str], task_id: str, root: str | os.PathLike[str] | None = None
) -> list[str]:
    """Put the reference solution of ``task_id`` back into the student copy at ``copy``.

    The files holding the task's regions are regenerated from the reference at ``root`` with
    that task kept and every other task stubbed (the copy's other edits to those files are
    overwritten). Returns the relative paths rewritten.
    """
    base = source_root(root)
    task(task_id)
    paths = sorted({r.path for r in scan(base) if r.task_id == task_id})
    for rel in paths:
        text = (base / rel).read_text(encoding="utf-8")
        (Path(copy) / rel).write_text(stub_source(text, rel, {task_id}), encoding="utf-8")
    return paths
