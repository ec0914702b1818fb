"""Tests for tinycompress.huffman: optimality, canonical codes, both decoders, bad input."""

from __future__ import annotations

import heapq
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinycompress.coding import huffman, huffman_fast
from tinycompress.coding.huffman import HuffmanCode
from tinycompress.errors import FormatError


def _roundtrip(x: np.ndarray, k: int, table_bits: int = huffman_fast.DEFAULT_TABLE_BITS):
    code = HuffmanCode.from_counts(np.bincount(x, minlength=k))
    data, nbits = huffman.encode(x, code)
    fast = huffman_fast.decode(data, nbits, x.size, code, table_bits=table_bits)
    slow = huffman.decode_bitwise(data, nbits, x.size, code)
    return code, data, nbits, fast, slow


def _optimal_cost(counts: list[int]) -> int:
    """Minimum total bits of any prefix code: the sum of all merge weights (Huffman 1952),
    computed independently with a heap of plain weights."""
    heap = [c for c in counts if c > 0]
    if len(heap) == 1:
        return heap[0]
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        cost += a + b
        heapq.heappush(heap, a + b)
    return cost


def _is_prefix_free(code: HuffmanCode) -> bool:
    words = [
        format(int(c), f"0{int(n)}b")
        for c, n in zip(code.codes, code.lengths, strict=True)
        if n > 0
    ]
    return not any(a != b and b.startswith(a) for a, b in itertools.permutations(words, 2))


def test_textbook_example() -> None:
    # counts 45, 13, 12, 16, 9, 5 (CLRS 16.3): optimal lengths 1, 3, 3, 3, 4, 4; cost 224
    counts = np.array([45, 13, 12, 16, 9, 5])
    lengths = huffman.code_lengths(counts)
    assert sorted(lengths.tolist()) == [1, 3, 3, 3, 4, 4]
    assert int(counts @ lengths) == 224
    code = HuffmanCode.from_lengths(lengths)
    assert _is_prefix_free(code)
    # canonical: the 1-bit word is 0, the 3-bit words 100, 101, 110, the 4-bit 1110, 1111
    words = [format(int(c), f"0{int(n)}b") for c, n in zip(code.codes, lengths, strict=True)]
    assert sorted(words) == ["0", "100", "101", "110", "1110", "1111"]


def test_canonical_codes_in_order() -> None:
    lengths = np.array([3, 3, 3, 3, 3, 2, 4, 4])  # RFC 1951 §3.2.2 example
    codes = huffman.canonical_codes(lengths)
    assert codes.tolist() == [0b010, 0b011, 0b100, 0b101, 0b110, 0b00, 0b1110, 0b1111]


@pytest.mark.task_entropy
@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=40))
def test_lengths_optimal_and_within_one_bit_of_entropy(counts: list[int]) -> None:
    c = np.array(counts)
    lengths = huffman.code_lengths(c)
    assert np.all((lengths > 0) == (c > 0))
    assert huffman.kraft_sum_is_valid(lengths)
    if c.sum() == 0:
        return
    assert int(c @ lengths) == _optimal_cost(counts)
    h, avg = huffman.entropy(c), huffman.average_length(c, lengths)
    assert h - 1e-9 <= avg < h + 1 or np.count_nonzero(c) == 1


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
        init = huffman_fast._WordReader.__init__

        def off_grid(self, *args):
            init(self, *args)
            self.period = 1

        monkeypatch.setattr(huffman_fast._WordReader, "__init__", off_grid)
    rng = np.random.default_rng(3)
    x = rng.integers(0, 8, size=6000)
    code, _, nbits, fast, _ = _roundtrip(x, 8)
    assert np.all(code.lengths == 3) and nbits == 3 * x.size
    assert np.array_equal(fast, x)


@pytest.mark.task_entropy
def test_near_entropy_on_a_large_stream() -> None:
    rng = np.random.default_rng(4)
    # cluster indices of a quantised layer: a bell-shaped histogram over 32 centroids;
    # Huffman's redundancy here is well under 1% (in general it is only < 1 bit/symbol)
    p = np.exp(-0.5 * ((np.arange(32) - 15.5) / 5) ** 2)
    x = rng.choice(32, size=200_000, p=p / p.sum())
    counts = np.bincount(x, minlength=32)
    code = HuffmanCode.from_counts(counts)
    bits = code.encoded_bits(counts)
    bound = huffman.entropy(counts) * x.size
    assert bound <= bits <= 1.01 * bound


@pytest.mark.parametrize(
    "decoder", ["fast", pytest.param("bitwise", marks=pytest.mark.task_huffman_decode_bitwise)]
)
def test_bad_streams_raise_format_error(decoder: str) -> None:
    dec = (
        huffman_fast.decode
        if decoder == "fast"
        else lambda d, nb, n, c: huffman.decode_bitwise(d, nb, n, c)
    )
    x = np.array([0, 1, 2, 2, 2, 1, 0, 2])
    code = HuffmanCode.from_counts(np.bincount(x))
    data, nbits = huffman.encode(x, code)
    with pytest.raises(FormatError, match="ends early|announced"):
        dec(data[:1], nbits, x.size, code)  # truncated bytes
    with pytest.raises(FormatError, match="ends early|corrupt"):
        dec(data, nbits - 1, x.size, code)  # last word cut
    with pytest.raises(FormatError, match="ends early|fit"):
        dec(data, nbits, x.size + 5, code)  # more symbols than the bits hold
    with pytest.raises(FormatError, match="trailing"):
        dec(data, nbits, x.size - 2, code)  # bits left over
    # an incomplete code: "0" and "10" only; the bits 11 match no word
    partial = HuffmanCode.from_lengths(np.array([1, 2]))
    with pytest.raises(FormatError, match="no .*code word"):
        dec(bytes([0b01100000]), 4, 3, partial)


def test_invalid_length_tables() -> None:
    with pytest.raises(FormatError, match="Kraft"):
        HuffmanCode.from_lengths(np.array([1, 1, 1]))
    with pytest.raises(FormatError, match="0..64"):
        HuffmanCode.from_lengths(np.array([65, 1]))
    with pytest.raises(FormatError):
        HuffmanCode.from_lengths(np.array([-1, 1]))
    with pytest.raises(FormatError):
        HuffmanCode.from_lengths(np.array([[1, 1]]))


def test_encode_rejects_symbols_without_words() -> None:
    code = HuffmanCode.from_counts(np.array([3, 0, 2]))
    with pytest.raises(ValueError, match="no code word"):
        huffman.encode(np.array([0, 1]), code)
    with pytest.raises(ValueError, match="0..2"):
        huffman.encode(np.array([3]), code)


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


def test_merges_by_hand() -> None:
    used, merges = huffman.huffman_merges(np.array([5, 0, 2, 1, 1]))
    assert used.tolist() == [0, 2, 3, 4]
    # leaves 0..3 weigh 5, 2, 1, 1: join 1+1 -> node 4, then 2+2 -> 5, then 4+5 -> 6
    assert [(m.a, m.wa, m.b, m.wb, m.parent) for m in merges] == [
        (2, 1, 3, 1, 4), (1, 2, 4, 2, 5), (5, 4, 0, 5, 6)]
    assert huffman.code_lengths(np.array([5, 0, 2, 1, 1])).tolist() == [1, 0, 2, 3, 3]
