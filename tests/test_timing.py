"""The best-of-N timer, on a fake clock: no test here depends on how fast the machine is."""

import pytest

from tinycompress import timing


def test_best_time_returns_the_fastest_batch_per_call():
    clock = iter([0.0, 3.0, 10.0, 11.0, 20.0, 22.0]).__next__  # single calls of 3, 1 and 2 s
    calls = []
    seconds = timing.best_time(lambda: calls.append(1), repeat=3, min_seconds=0.0, clock=clock)
    assert seconds == 1.0
    assert len(calls) == 3


def test_best_time_doubles_the_batch_until_it_lasts_min_seconds():
    # 1 call: 0.1 s, 2 calls: 0.2 s, 4 calls: 0.5 s >= min_seconds; then one more batch of 4
    clock = iter([0.0, 0.1, 1.0, 1.2, 2.0, 2.5, 3.0, 3.4]).__next__
    calls = []
    seconds = timing.best_time(lambda: calls.append(1), repeat=2, min_seconds=0.5, clock=clock)
    assert len(calls) == 1 + 2 + 4 + 4
    assert seconds == pytest.approx(0.4 / 4)


@pytest.mark.parametrize("repeat", [1, 5])
def test_best_time_calls_the_function_at_least_repeat_times(repeat):
    calls = []
    timing.best_time(lambda: calls.append(1), repeat=repeat, min_seconds=0.0)
    assert len(calls) == repeat


def test_batch_times_keeps_every_batch_in_order_and_best_time_is_their_minimum():
    ticks = [0.0, 3.0, 10.0, 11.0, 20.0, 22.0]
    times = timing.batch_times(lambda: None, repeat=3, min_seconds=0.0, clock=iter(ticks).__next__)
    assert times == [3.0, 1.0, 2.0]
    assert timing.best_time(lambda: None, repeat=3, min_seconds=0.0,
                            clock=iter(ticks).__next__) == min(times)
