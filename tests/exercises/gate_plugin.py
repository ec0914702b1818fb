"""pytest plugin for the exercise gate (``tests/exercises/test_gate.py``), not a test module.

Loaded with ``-p gate_plugin`` into a pytest run inside a student copy, it records for
every test its ``task_*`` marks, its outcome and, when it failed, the type and message of the
exception, and writes them as JSON to the file given by ``--gate-report``, together with the
``tinycompress`` package the run imported and any collection errors.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

_tests: dict[str, dict[str, Any]] = {}
_collection_errors: dict[str, str] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--gate-report", default=None, help="write per-test outcomes as JSON here")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _collection_errors[report.nodeid] = str(report.longrepr)[-2000:]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    entry = _tests.setdefault(
        item.nodeid,
        {
            "tasks": sorted({m.name for m in item.iter_markers() if m.name.startswith("task_")}),
            "outcome": "passed",
            "error": None,
            "message": None,
        },
    )
    if report.failed and entry["outcome"] != "failed":
        entry["outcome"] = "failed"
        if call.excinfo is not None:
            entry["error"] = call.excinfo.typename
            entry["message"] = str(call.excinfo.value)[:500]
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--gate-report")
    if path:
        package = sys.modules.get("tinycompress")
        result = {
            "tinycompress": list(package.__path__)[0] if package else None,
            "tests": _tests,
            "collection_errors": _collection_errors,
        }
        Path(path).write_text(json.dumps(result, indent=1), encoding="utf-8")
