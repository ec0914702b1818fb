"""Tests for tinycompress.coding.arith: one binary symbol, the readable range coder, carries,
the adaptive estimate and the end check."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinycompress.coding import arith
from tinycompress.coding.arith import AdaptiveBit, RangeDecoder, RangeEncoder
from tinycompress.errors import FormatError


def _code(bits: list[int], contexts: list[int], n_contexts: int) -> bytes:
    enc, models = RangeEncoder(), [AdaptiveBit() for _ in range(n_contexts)]
    for bit, ctx in zip(bits, contexts, strict=True):
        enc.encode(bit, models[ctx])
    return enc.finish()


def _decode(data: bytes, contexts: list[int], n_contexts: int) -> list[int]:
    dec, models = RangeDecoder(data), [AdaptiveBit() for _ in range(n_contexts)]
    out = [dec.decode(models[ctx]) for ctx in contexts]
    dec.finish()
    return out


@pytest.mark.task_arith_binary_symbol
def test_one_symbol_narrows_the_interval_by_its_probability() -> None:
    width = arith.MASK32
    for p0 in (1, 1024, 2048, 4095):
        bound = (width >> 12) * p0
        assert arith.encode_symbol(7, width, 0, p0) == (7, bound)  # the lower part
        assert arith.encode_symbol(7, width, 1, p0) == (7 + bound, width - bound)
        for code, bit in ((0, 0), (bound - 1, 0), (bound, 1), (width - 1, 1)):
            got = arith.decode_symbol(code, width, p0)
            assert got == ((0, code, bound) if bit == 0 else (1, code - bound, width - bound))
    # the widths of a 0 and a 1 are in the ratio p0 : (4096 - p0), up to the truncation
    low, w = arith.encode_symbol(0, 1 << 32, 0, 1000)
    assert w / (1 << 32) == pytest.approx(1000 / 4096, abs=2**-20)


@pytest.mark.task_arith_binary_symbol
@pytest.mark.parametrize("p1", [0.5, 0.1, 0.01])
def test_readable_coder_round_trip_and_length_near_the_ideal(p1: float) -> None:
    rng = np.random.default_rng(0)
    bits = (rng.random(5000) < p1).astype(int).tolist()
    contexts = rng.integers(0, 3, len(bits)).tolist()
    data = _code(bits, contexts, 3)
    assert _decode(data, contexts, 3) == bits
    ideal = arith.ideal_bits(zip(contexts, bits, strict=True), 3)
    assert 8 * len(data) <= 1.01 * ideal + 8 * 4
    assert 8 * len(data) >= ideal - 8 * 5  # no code beats its model by more than the flush
    entropy = -(p1 * math.log2(p1) + (1 - p1) * math.log2(1 - p1)) * len(bits)
    assert ideal < 1.05 * entropy + 64  # the adaptive estimate learns p within a few bits


@pytest.mark.task_arith_binary_symbol
def test_carries_ripple_back_through_ff_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    carried = []
    real = arith.carry

    def counting(out: bytearray, low: int) -> int:
        carried.append(bytes(out[-2:]))
        return real(out, low)

    monkeypatch.setattr(arith, "carry", counting)
    rng = np.random.default_rng(0)
    bits = (rng.random(100_000) < 0.97).astype(int).tolist()  # mostly 1s: low climbs, carries
    contexts = [0] * len(bits)
    data = _code(bits, contexts, 1)
    assert len(carried) > 10 and any(c.endswith(b"\xff") for c in carried)
    assert _decode(data, contexts, 1) == bits
    out = bytearray(b"\x12\xff\xff")
    assert real(out, (1 << 32) + 5) == 5 and out == bytearray(b"\x13\x00\x00")


def test_kt_estimate_and_halving() -> None:
    assert arith.kt_probability(0, 0) == 2048  # no evidence: one half
    assert arith.kt_probability(3, 1) == (7 << 12) // 10  # (3 + 1/2) / (4 + 1)
    assert arith.kt_probability(254, 0) < 4096 and arith.kt_probability(0, 254) >= 1
    assert arith.kt_update(2, 5, 0) == (3, 5)
    assert arith.kt_update(200, arith.COUNT_LIMIT - 201, 1) == (100, 28)  # halved, rounded up
    model = AdaptiveBit()
    for _ in range(1000):
        model.update(0)
    assert model.n0 + model.n1 < arith.COUNT_LIMIT and model.p0 > 4000


def test_flush_writes_the_shortest_number_in_the_interval() -> None:
    assert arith.flush(bytearray(), 0, arith.MASK32) == b""  # nothing coded: no bytes
    assert arith.flush(bytearray(b"\x01"), 0x12345678, 0x100) == b"\x01\x12\x34\x57"
    assert arith.flush(bytearray(b"\x01"), 0x12345678, 1 << 24) == b"\x01\x13"
    assert arith.flush(bytearray(b"\x01\xff"), 0xFFFFFFF0, 0x20) == b"\x02"  # 2^32: a carry


@pytest.mark.task_arith_binary_symbol
def test_the_decoder_refuses_streams_no_encoder_writes() -> None:
    rng = np.random.default_rng(2)
    bits = (rng.random(400) < 0.3).astype(int).tolist()
    contexts = [0] * len(bits)
    data = _code(bits, contexts, 1)
    with pytest.raises(FormatError, match="starts outside its interval"):
        RangeDecoder(b"\xff\xff\xff\xff" + data)
    # (a stream cut short may still end as an encoder ends one, of other bits: the entry count
    # check of .contexts catches that)
    for forged in (data + b"\x01", data + b"\x00", data[:-1] + bytes([data[-1] ^ 1])):
        with pytest.raises(FormatError, match="arithmetic-coded stream"):
            dec, model = RangeDecoder(forged), AdaptiveBit()
            for _ in bits:
                dec.decode(model)
            dec.finish()


def test_ideal_bits_by_hand() -> None:
    # a fresh context predicts 1/2; after a 0 it predicts p0 = 1.5 / 2 = 3/4
    assert arith.ideal_bits([(0, 0), (0, 0)], 1) == pytest.approx(
        -math.log2(0.5) - math.log2(3072 / 4096))


@pytest.mark.task_arith_binary_symbol
@pytest.mark.parametrize("depth", [1, 2, 4])
def test_symbols_of_an_alphabet_round_trip_near_their_entropy(depth: int) -> None:
    rng = np.random.default_rng(3)
    p = 0.6 ** np.arange(1 << depth)
    symbols = rng.choice(1 << depth, size=4000, p=p / p.sum()).tolist()
    data = arith.encode_symbols(symbols, depth)
    assert arith.decode_symbols(data, len(symbols), depth) == symbols
    ideal = arith.ideal_bits(arith.tree_decisions(symbols, depth), 1 << depth)
    assert ideal - 8 * 5 <= 8 * len(data) <= 1.01 * ideal + 8 * 4
    counts = np.bincount(symbols, minlength=1 << depth)
    q = counts[counts > 0] / len(symbols)
    entropy = -(q * np.log2(q)).sum() * len(symbols)
    assert 8 * len(data) < 1.03 * entropy + 200  # the tree learns the order-0 model
    with pytest.raises(FormatError):
        arith.decode_symbols(data + b"\x01", len(symbols), depth)


def test_tree_decisions_by_hand() -> None:
    assert list(arith.tree_decisions([5, 0], 3)) == [(1, 1), (3, 0), (6, 1),
                                                     (1, 0), (2, 0), (4, 0)]
    assert list(arith.tree_decisions([1, 0], 1)) == [(1, 1), (1, 0)]  # binary: one context
    with pytest.raises(ValueError, match="outside 0..3"):
        list(arith.tree_decisions([4], 2))


@pytest.mark.task_arith_binary_symbol
def test_a_binary_source_codes_as_the_range_coder_with_one_model() -> None:
    bits = [0, 1, 1, 0, 0, 0, 1]
    assert arith.encode_symbols(bits, 1) == _code(bits, [0] * len(bits), 1)
