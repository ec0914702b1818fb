"""Tests for tinycompress.coding.contexts_fast: the state machine of the counts, and the fast
decoder on data no encoder wrote."""

from __future__ import annotations

import time

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinycompress.coding import arith, contexts_fast
from tinycompress.coding.contexts import ContextLayout
from tinycompress.errors import FormatError


def test_state_tables_are_the_counts_of_the_readable_model() -> None:
    prob, nxt0, nxt1 = contexts_fast.state_tables()
    rng = np.random.default_rng(0)
    model, state = arith.AdaptiveBit(), 0
    for bit in (rng.random(3000) < 0.2).astype(int).tolist():
        assert prob[state] == model.p0 and state == model.n0 * 256 + model.n1
        model.update(bit)
        state = (nxt1 if bit else nxt0)[state]
    reachable = {0}
    frontier = [0]
    while frontier:  # every state reachable from the start has its counts below the limit
        s = frontier.pop()
        for t in (nxt0[s], nxt1[s]):
            if t not in reachable:
                reachable.add(t)
                frontier.append(t)
    assert all((s >> 8) + (s & 255) < arith.COUNT_LIMIT for s in reachable)
    assert all(1 <= prob[s] <= 4095 for s in reachable)


def test_encoding_every_bit_one_way_keeps_within_its_ideal() -> None:
    """A run of 100,000 zeros in one context: the estimate nears 1 - 1/512 (halving keeps the
    counts below 255), so each zero costs log2(512/511) bits."""
    ctx, bits = np.zeros(100_000, np.int64), np.zeros(100_000, np.int64)
    data = contexts_fast.encode_decisions(ctx, bits, 1)
    ideal = arith.ideal_bits(zip(ctx.tolist(), bits.tolist(), strict=True), 1)
    assert len(data) <= 1.01 * ideal / 8 + 4


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=64), n=st.integers(0, 5000), size=st.integers(1, 400_000),
       codebook=st.integers(0, 64))
def test_random_bytes_stop_after_the_declared_count(data: bytes, n: int, size: int,
                                                    codebook: int) -> None:
    """Garbage is refused or decodes to exactly ``n`` entries inside the tensor, quickly: the
    decoder's loop is bounded by the count it was told, whatever the bytes."""
    n = min(n, size)
    lay = ContextLayout(size, max(codebook - 1, 0).bit_length())
    start = time.perf_counter()
    try:
        positions, indices, order = contexts_fast.decode_entries(data, n, lay, codebook)
    except FormatError as exc:
        assert str(exc).isprintable() and len(str(exc)) < 200
    else:
        assert positions.shape == indices.shape == (n,) and order in (0, 1)
        assert np.all(np.diff(positions) > 0) and (n == 0 or 0 <= positions[0] <= positions[-1]
                                                   < size)
        assert np.all(indices < max(codebook, 1))
    assert time.perf_counter() - start < 1.0
