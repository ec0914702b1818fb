"""Fixtures of the engine's tests.

- ``peak_of(call)``: the most bytes ``call()`` held allocated at once, by :mod:`tracemalloc`
  (which NumPy's allocations report to): how the tests prove that a forged file is refused, or
  a deep model evaluated, without allocating what it describes.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import pytest


def _peak_of(call: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
def peak_of() -> Callable[[Callable[[], object]], int]:
    return _peak_of
