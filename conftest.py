"""Root pytest configuration: the whole test run, notebooks included, uses the quick mode, and
the ``task_*`` marks of the exercises are registered from their one source, the task list."""

import os

import pytest

os.environ["TINYCOMPRESS_QUICK"] = "1"


def pytest_configure(config: pytest.Config) -> None:
    # Imported here, once the quick mode is set: no tinycompress module may read it earlier.
    from tinycompress.exercises.tasks import TASKS

    for task in TASKS:
        config.addinivalue_line("markers", task.marker_line)
