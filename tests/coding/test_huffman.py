"""Tests for tinycompress.coding.huffman: optimality, canonical codes, the bit-by-bit decoder."""

from __future__ import annotations

import heapq
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinycompress.coding import huffman
from tinycompress.coding.huffman import HuffmanCode
from tinycompress.errors import FormatError


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


def test_merges_by_hand() -> None:
    used, merges = huffman.huffman_merges(np.array([5, 0, 2, 1, 1]))
    assert used.tolist() == [0, 2, 3, 4]
    # leaves 0..3 weigh 5, 2, 1, 1: join 1+1 -> node 4, then 2+2 -> 5, then 4+5 -> 6
    assert [(m.a, m.wa, m.b, m.wb, m.parent) for m in merges] == [
        (2, 1, 3, 1, 4), (1, 2, 4, 2, 5), (5, 4, 0, 5, 6)]
    assert huffman.code_lengths(np.array([5, 0, 2, 1, 1])).tolist() == [1, 0, 2, 3, 3]


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


@pytest.mark.task_huffman_decode_bitwise
def test_bitwise_decoder_by_hand() -> None:
    code = HuffmanCode.from_lengths(np.array([1, 2, 3, 3]))  # words 0, 10, 110, 111
    data, nbits = huffman.encode(np.array([3, 0, 1, 2, 0]), code)
    assert (data, nbits) == (bytes([0b11101011, 0b00000000]), 10)  # 111 0 10 110 0, padded
    assert huffman.decode_bitwise(data, nbits, 5, code).tolist() == [3, 0, 1, 2, 0]


@pytest.mark.task_huffman_decode_bitwise
def test_bitwise_decoder_rejects_bad_streams(bad_huffman_streams: list) -> None:
    for data, nbits, n, code, match in bad_huffman_streams:
        with pytest.raises(FormatError, match=match):
            huffman.decode_bitwise(data, nbits, n, code)


def test_check_stream_refuses_impossible_sizes() -> None:
    code = HuffmanCode.from_lengths(np.array([1, 1]))
    huffman.check_stream(b"\x00", 8, 8, code)  # 8 one-bit words fit in one byte
    for nbits, n, match in ((-1, 0, "negative"), (9, 1, "ends early"), (3, 4, "cannot fit")):
        with pytest.raises(FormatError, match=match):
            huffman.check_stream(b"\x00", nbits, n, code)
    with pytest.raises(FormatError, match="no code words"):
        huffman.check_stream(b"\x00", 8, 1, HuffmanCode.from_lengths(np.zeros(2, np.int64)))
