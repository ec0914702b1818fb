"""The ``tinycompress exercises`` command: ``init``, ``list`` and ``sync-notebooks``.

:func:`add_command` adds it to the command line's subcommands (:mod:`tinycompress.cli`); it
shares none of the model commands' flags, so it lives beside the tooling it drives.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from . import checkout, listing, notebooks, student_copy, tasks


def run(args: argparse.Namespace) -> None:
    """Carry out ``tinycompress exercises ACTION`` with the parsed ``args``."""
    if args.action == "init":
        path = student_copy.init(args.dir, root=args.source)
        print(f"wrote a student copy with {len(tasks.TASKS)} tasks to {path}; "
              f"start with {path / 'EXERCISES.md'}")
    elif args.action == "sync-notebooks":
        folder = checkout.project_root() / "chapters"
        for chapter in tasks.CHAPTERS:
            path = folder / f"{chapter}.ipynb"
            if path.exists():
                changed = notebooks.sync_notebook(path)
                print(f"{path.name}: {'updated' if changed else 'up to date'}")
    else:
        rows = listing.task_rows(args.source)
        print(json.dumps({"tasks": rows}, indent=2) if args.json
              else listing.format_task_table(rows))


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
    actions.add_parser("sync-notebooks", help="end every chapter notebook with its Exercises "
                       "section (outputs kept)")
