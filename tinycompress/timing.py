"""A best-of-N wall-clock timer, the one the pipeline, sparse inference and the experiments use.

A single call of a fast function is shorter than the clock's resolution and the noise of a
shared machine, so :func:`best_time` repeats the call in batches long enough to measure and
reports the best batch: the run least disturbed by other processes. :func:`batch_times` keeps
every batch, so that a figure can show how far the others fell from the best.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def batch_times(fn: Callable[[], object], repeat: int = 7, min_seconds: float = 0.02,
                clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Seconds per call of ``fn`` in each of ``repeat`` batches of calls: the batch is doubled
    until it lasts ``min_seconds``, and that batch is the first of the ``repeat``.

    Parameters
    ----------
    fn : the function to time, called without arguments.
    repeat : number of batches measured (the first, which fixes the batch size, included).
    min_seconds : shortest batch; 0 times single calls.
    clock : the clock read before and after each batch, in seconds.

    Returns
    -------
    list of ``repeat`` floats (at least one), in the order measured: their spread is how much
    the other processes of the machine moved the timing.
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
    times = [elapsed / number]
    for _ in range(repeat - 1):
        start = clock()
        for _ in range(number):
            fn()
        times.append((clock() - start) / number)
    return times


def best_time(fn: Callable[[], object], repeat: int = 7, min_seconds: float = 0.02,
              clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds per call of ``fn``: the best of :func:`batch_times` (the batch least disturbed
    by other processes); the parameters are its own."""
    return min(batch_times(fn, repeat, min_seconds, clock))
