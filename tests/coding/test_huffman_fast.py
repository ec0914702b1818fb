"""Tests for tinycompress.coding.huffman_fast: the lane decoder equals the bit-by-bit one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinycompress.coding import huffman, huffman_fast
from tinycompress.coding.huffman import HuffmanCode
from tinycompress.coding.huffman_tables import WordReader
from tinycompress.errors import FormatError


def _roundtrip(x: np.ndarray, k: int, table_bits: int = huffman_fast.DEFAULT_TABLE_BITS):
    code = HuffmanCode.from_counts(np.bincount(x, minlength=k))
    data, nbits = huffman.encode(x, code)
    fast = huffman_fast.decode(data, nbits, x.size, code, table_bits=table_bits)
    slow = huffman.decode_bitwise(data, nbits, x.size, code)
    return code, data, nbits, fast, slow


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 300),
    st.integers(0, 400),
    st.floats(0.05, 5.0),
    st.integers(1, 16),
    st.integers(0, 2**32 - 1),
)
@pytest.mark.task_huffman_decode_bitwise
def test_table_decoder_equals_bitwise_decoder(
    k: int, n: int, alpha: float, table_bits: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.choice(k, size=n, p=rng.dirichlet(np.full(k, alpha)))
    code, _, nbits, fast, slow = _roundtrip(x, k, table_bits)
    assert np.array_equal(fast, x) and np.array_equal(slow, x)
    assert nbits == code.encoded_bits(np.bincount(x, minlength=k))


@pytest.mark.task_huffman_decode_bitwise
def test_long_codes_beyond_the_table_width() -> None:
    # Fibonacci counts give a maximally skewed tree: code lengths up to k - 1 = 29 bits
    fib = [1, 1]
    while len(fib) < 30:
        fib.append(fib[-1] + fib[-2])
    counts = np.array(fib[::-1])
    rng = np.random.default_rng(0)
    x = rng.permutation(np.repeat(np.arange(30), counts.clip(max=50)))
    code = HuffmanCode.from_counts(counts)
    assert code.max_length == 29
    data, nbits = huffman.encode(x, code)
    for table_bits in (1, 4, 12, 16):
        assert np.array_equal(huffman_fast.decode(data, nbits, x.size, code, table_bits), x)
    assert np.array_equal(huffman.decode_bitwise(data, nbits, x.size, code), x)


@pytest.mark.task_huffman_decode_bitwise
def test_code_lengths_up_to_64_bits() -> None:
    lengths = np.array(list(range(1, 65)) + [64])  # a complete code with 64-bit words
    code = HuffmanCode.from_lengths(lengths)
    x = np.array([64, 63, 0, 62, 64, 1, 40, 64])
    data, nbits = huffman.encode(x, code)
    assert np.array_equal(huffman_fast.decode(data, nbits, x.size, code, table_bits=8), x)
    assert np.array_equal(huffman.decode_bitwise(data, nbits, x.size, code), x)


@pytest.mark.task_huffman_decode_bitwise
def test_empty_stream_and_single_symbol() -> None:
    code = HuffmanCode.from_counts(np.zeros(5, dtype=np.int64))
    assert code.max_length == 0
    assert huffman.encode(np.array([], dtype=np.int64), code) == (b"", 0)
    assert huffman_fast.decode(b"", 0, 0, code).size == 0
    assert huffman.decode_bitwise(b"", 0, 0, code).size == 0
    x = np.full(13, 3)
    code, data, nbits, fast, slow = _roundtrip(x, 8)
    assert code.lengths[3] == 1 and nbits == 13
    assert np.array_equal(fast, x) and np.array_equal(slow, x)


@pytest.mark.task_huffman_decode_bitwise
def test_65536_symbols_and_a_long_stream() -> None:
    rng = np.random.default_rng(1)
    # every symbol once (so ~17-bit words that hardly resynchronise), plus a skewed bulk
    x = np.concatenate([np.arange(65536), rng.zipf(1.3, size=100_000) % 65536])
    x = x[rng.permutation(x.size)]
    code, _, _, fast, slow = _roundtrip(x, 65536)
    assert code.num_symbols == 65536
    assert np.array_equal(fast, x) and np.array_equal(slow, x)


@pytest.mark.task_huffman_decode_bitwise
def test_stream_spanning_several_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huffman_fast, "_BLOCK_BITS", 4096)
    rng = np.random.default_rng(2)
    x = rng.choice(40, size=20_000, p=rng.dirichlet(np.full(40, 0.3)))
    _, _, _, fast, _ = _roundtrip(x, 40, table_bits=5)
    assert np.array_equal(fast, x)


@pytest.mark.task_huffman_decode_bitwise
@pytest.mark.parametrize("keep_in_step", [True, False])
def test_lanes_that_never_resynchronise(
    monkeypatch: pytest.MonkeyPatch, keep_in_step: bool
) -> None:
    # 8 equally likely symbols: every word has 3 bits. The decoder starts its lanes in step
    # with the word grid (period 3); without that, a lane started off the grid never meets
    # the true walk and the segments must be re-walked round after round, still exactly
    if not keep_in_step:
        init = WordReader.__init__

        def off_grid(self, *args):
            init(self, *args)
            self.period = 1

        monkeypatch.setattr(WordReader, "__init__", off_grid)
    rng = np.random.default_rng(3)
    x = rng.integers(0, 8, size=6000)
    code, _, nbits, fast, _ = _roundtrip(x, 8)
    assert np.all(code.lengths == 3) and nbits == 3 * x.size
    assert np.array_equal(fast, x)


def test_fast_decoder_rejects_bad_streams(bad_huffman_streams: list) -> None:
    for data, nbits, n, code, match in bad_huffman_streams:
        with pytest.raises(FormatError, match=match):
            huffman_fast.decode(data, nbits, n, code)


@settings(max_examples=150, deadline=None)
@given(
    st.binary(min_size=0, max_size=40),
    st.integers(0, 400),
    st.integers(0, 200),
    st.sampled_from([[2, 4, 3, 1, 0, 5, 5], [2, 4, 3, 0, 5]]),  # complete, incomplete
)
@pytest.mark.task_huffman_decode_bitwise
def test_random_bytes_decode_equal_or_raise(
    data: bytes, nbits: int, n: int, lengths: list[int]
) -> None:
    code = HuffmanCode.from_lengths(np.array(lengths))
    outcomes = []
    for dec in (huffman_fast.decode, huffman.decode_bitwise):
        try:
            outcomes.append(dec(data, nbits, n, code))
        except FormatError as err:
            outcomes.append(type(err))
    if isinstance(outcomes[0], np.ndarray) or isinstance(outcomes[1], np.ndarray):
        assert np.array_equal(outcomes[0], outcomes[1])


def test_table_width_follows_the_stream_length() -> None:
    widths = [huffman_fast.table_bits_for(n) for n in (0, 1, 3000, 90_000, 1 << 23, 1 << 40)]
    assert widths == [8, 8, 9, 14, 16, 16]
    x = np.random.default_rng(3).geometric(0.3, size=5000) - 1
    code = huffman.HuffmanCode.from_counts(np.bincount(x))
    data, nbits = huffman.encode(x, code)
    width = huffman_fast.table_bits_for(nbits)
    assert np.array_equal(huffman_fast.decode(data, nbits, x.size, code, width), x)
