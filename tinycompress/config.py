"""Run-time settings read from the environment, in one place.

``TINYCOMPRESS_QUICK=1`` asks notebooks and long commands for a quick mode (a small subset, few
epochs) so that CI can run every chapter top to bottom in well under two minutes. The test
suite's root ``conftest.py`` sets it; a reader running a notebook by hand gets the full run.
"""

from __future__ import annotations

import os


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


QUICK: bool = _flag("TINYCOMPRESS_QUICK")
"""True when the quick (CI smoke-test) mode is requested."""
