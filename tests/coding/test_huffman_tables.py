"""Tests for tinycompress.coding.huffman_tables: code words read at many positions at once."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress.coding import huffman
from tinycompress.coding.huffman import HuffmanCode
from tinycompress.coding.huffman_tables import WordReader

CODE = HuffmanCode.from_lengths(np.array([1, 2, 3, 3]))  # words 0, 10, 110, 111
SYMBOLS = [3, 0, 1, 2, 0]  # 111 0 10 110 0
STARTS = np.array([0, 3, 4, 6, 9])  # where each word starts


@pytest.mark.parametrize("table_bits", [1, 2, 3, 4, 16])
def test_next_steps_over_one_word(table_bits: int) -> None:
    data, nbits = huffman.encode(np.array(SYMBOLS), CODE)
    reader = WordReader(data, CODE, table_bits)  # words over table_bits take the 2nd level
    window, after = reader.next(STARTS)
    assert after.tolist() == [3, 4, 6, 9, nbits]
    single = np.ones(STARTS.size, dtype=bool)
    symbols, count, bad = reader.symbols(STARTS, window, single)
    assert symbols.tolist() == SYMBOLS and count.tolist() == [1] * 5 and bad == -1


def test_next_words_reads_every_word_inside_the_window() -> None:
    data, _ = huffman.encode(np.array(SYMBOLS), CODE)
    reader = WordReader(data, CODE, 4)
    pos = np.array([0, 4])
    window, after = reader.next_words(pos)
    assert window.tolist() == [0b1110, 0b1011]
    assert after.tolist() == [4, 6]  # 111 and 0 fill a window; after 10, 110 does not fit
    symbols, count, bad = reader.symbols(pos, window, np.zeros(2, dtype=bool))
    assert symbols.tolist() == [3, 0, 1] and count.tolist() == [2, 1] and bad == -1


def test_bits_that_start_no_word() -> None:
    partial = HuffmanCode.from_lengths(np.array([1, 2]))  # 0 and 10: the bits 11 are no word
    reader = WordReader(bytes([0b01100000]), partial, 4)
    pos = np.array([0, 1, 3])
    window, after = reader.next(pos)
    assert after.tolist() == [1, 2, 4]  # one bit on at bit 1
    symbols, _, bad = reader.symbols(pos, window, np.ones(3, dtype=bool))
    assert bad == 1 and symbols.tolist() == [0]  # the symbols stop before the bad step


@pytest.mark.parametrize(
    ("lengths", "period"), [([1, 2, 3, 3], 1), ([3] * 8, 3), ([2] * 4, 2), ([0, 2, 4, 4, 2, 2], 2)]
)
def test_word_starts_keep_to_the_gcd_of_the_lengths(lengths: list[int], period: int) -> None:
    code = HuffmanCode.from_lengths(np.array(lengths))
    reader = WordReader(b"", code, 3)
    assert reader.period == period
    assert reader.max_step == max(3, code.max_length)
