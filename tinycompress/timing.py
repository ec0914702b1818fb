"""A best-of-N wall-clock timer, the one the pipeline, sparse inference and the experiments use.

A single call of a fast function is shorter than the clock's resolution and the noise of a
shared machine, so :func:`best_time` repeats the call in batches long enough to measure and
reports the best batch: the run least disturbed by other processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(fn: Callable[[], object], repeat: int = 7, min_seconds: float = 0.02,
              clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds per call of ``fn``: calls are batched until a batch lasts ``min_seconds``, then
    the best of ``repeat`` batches is taken (the least disturbed by other processes).

    Parameters
    ----------
    fn : the function to time, called without arguments.
    repeat : number of batches measured (the first, which fixes the batch size, included).
    min_seconds : shortest batch; 0 times single calls (best of ``repeat`` calls).
    clock : the clock read before and after each batch, in seconds.
    """
    number = 1
    while True:
        start = clock()
        for _ in range(number):
            fn()
        elapsed = clock() - start
        if elapsed >= min_seconds:
            break
        number *= 2
    best = elapsed / number
    for _ in range(repeat - 1):
        start = clock()
        for _ in range(number):
            fn()
        best = min(best, (clock() - start) / number)
    return best
