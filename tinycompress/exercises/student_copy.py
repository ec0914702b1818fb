"""Student copies: writing one from the reference checkout, and restoring a task's solution."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from tinycompress.errors import ExerciseError, shown
from tinycompress.files import default_mode, staging

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
    other files are copied unchanged, and an ``EXERCISES.md`` lists the tasks. ``dest`` must be
    a new or empty folder outside the source checkout (a copy inside it would be read as part
    of the source). The copy is built in a staging folder beside ``dest``
    (:func:`tinycompress.files.staging`: one an interrupted run left is removed by the next)
    and moved in place at the end, so a failure leaves nothing half-written; an existing empty
    folder (``init .``) stays the same folder and receives the copy's entries.

    Returns
    -------
    Path
        ``dest``.
    """
    base = source_root(root)
    target = Path(dest).resolve()
    if target == base.resolve() or base.resolve() in target.parents:
        raise ExerciseError(f"{shown(str(dest))} is inside the source checkout {shown(str(base))}; "
                            "write the student copy to a folder outside it")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExerciseError(f"{shown(str(dest))} exists and is not an empty folder; "
                            "choose a new folder")
    regions = scan(base)
    check_registry(regions)
    keep = set(keep)
    for task_id in keep:
        task(task_id)
    with_regions = {r.path for r in regions}
    with staging(target, folder=True) as folder:
        for rel in project_files(base):
            out = folder / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            if rel.as_posix() in with_regions:
                text = (base / rel).read_text(encoding="utf-8")
                out.write_text(stub_source(text, rel.as_posix(), keep), encoding="utf-8")
            else:
                shutil.copy2(base / rel, out)
        (folder / "EXERCISES.md").write_text(
            exercises_markdown(task_rows(folder)), encoding="utf-8"
        )
        _move_in(folder, target)
    return Path(dest)


def _move_in(folder: Path, target: Path) -> None:
    """Put the finished copy ``folder`` at ``target``: renamed there, or if ``target`` is an
    existing (empty) folder, its entries moved into it, so that it stays the same folder."""
    if not target.exists():
        os.chmod(folder, default_mode(folder=True))  # a staging folder is private (0700)
        os.replace(folder, target)
        return
    for entry in folder.iterdir():
        os.replace(entry, target / entry.name)


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
