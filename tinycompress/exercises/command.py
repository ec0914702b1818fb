"""The ``tinycompress exercises`` command: ``init``, ``list`` and ``sync-notebooks``.

:func:`add_command` adds it to the command line's subcommands (:mod:`tinycompress.cli`); it
shares none of the model commands' flags, so it lives beside the tooling it drives.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from tinycompress.errors import ExerciseError

from . import cellmap, checkout, listing, notebooks, regions, student_copy, tasks


def run(args: argparse.Namespace) -> None:
    """Carry out ``tinycompress exercises ACTION`` with the parsed ``args``."""
    if args.action == "init":
        path = student_copy.init(args.dir, root=args.source)
        print(f"wrote a student copy with {len(tasks.TASKS)} tasks to {path}; "
              f"start with {path / 'EXERCISES.md'}")
    elif args.action == "sync-notebooks":
        sync_notebooks(args.cells, args.timeout)
    else:
        rows = listing.task_rows(args.source)
        print(json.dumps({"tasks": rows}, indent=2) if args.json
              else listing.format_task_table(rows))


def sync_notebooks(cells: bool = False, timeout: int = 600) -> None:
    """Write the generated cells of every chapter notebook, the cells that need each task read
    from the stored cell map; with ``cells``, that map is first recomputed (slow: it runs every
    chapter in a student copy) and stored. Refuses a map older than its notebooks."""
    root = checkout.project_root()
    paths = {c: root / "chapters" / f"{c}.ipynb" for c in tasks.CHAPTERS}
    paths = {c: p for c, p in paths.items() if p.exists()}
    if cells:
        started = time.monotonic()
        cellmap.write_cell_map(cellmap.compute_cell_map(root, list(paths), timeout), root)
        print(f"wrote {cellmap.CELL_MAP} in {time.monotonic() - started:.0f} s")
    stored = cellmap.load_cell_map(root)
    stale = cellmap.stale_chapters(stored, {c: notebooks.read_notebook(p)
                                            for c, p in paths.items()})
    if stale:
        raise ExerciseError(f"{cellmap.CELL_MAP} is missing or out of date for "
                            f"{', '.join(stale)}: run `tinycompress exercises sync-notebooks "
                            "--cells` (it runs the chapters in a student copy)")
    found = regions.scan(root)
    for chapter, path in paths.items():
        changed = notebooks.sync_notebook(path, found, stored[chapter])
        print(f"{path.name}: {'updated' if changed else 'up to date'}")


def add_command(sub: Any) -> None:
    """Add ``exercises`` and its actions to ``sub`` (what ``add_subparsers`` returned)."""
    about = ("exercises: a student copy of the project with the key functions as stubs, checked "
             "by their tests")
    p = sub.add_parser("exercises", help=about, description=about)
    p.set_defaults(func=run)
    actions = p.add_subparsers(dest="action", required=True)
    q = actions.add_parser("init", help="write a student copy of the project into DIR")
    q.add_argument("dir", metavar="DIR", type=Path, help="a new or empty folder")
    q.add_argument("--source", metavar="DIR", default=None,
                   help="the source checkout to copy (default: the one installed)")
    q = actions.add_parser("list", help="the tasks with their chapter, test mark and location")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.add_argument("--source", metavar="DIR", default=None,
                   help="the checkout or student copy to list (default: the one installed)")
    q = actions.add_parser("sync-notebooks", help="write every chapter notebook's "
                           "'How to run' cell and closing Exercises section (outputs kept)")
    q.add_argument("--cells", action="store_true",
                   help=f"first recompute {cellmap.CELL_MAP}, the cells that need each task, "
                   "by running every chapter in quick mode in a student copy (slow)")
    q.add_argument("--timeout", type=int, default=600, metavar="S",
                   help="with --cells: the longest a cell may run, in seconds (default 600)")
