"""Tests for tinycompress.coding.storage_model: VGG-16's storage by the paper's accounting."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress import zoo
from tinycompress.coding import storage_model as sm
from tinycompress.coding.accounting import _best_relative
from tinycompress.coding.relative_index import encode_relative
from tinycompress.errors import UsageError


@pytest.fixture(scope="module")
def vgg_rows():
    return zoo.build("vgg16", shape_only=True).rows()


def test_expected_fillers_is_the_geometric_tail_sum() -> None:
    # p = 1/2, b = 1 (B = 2): q^2 = 1/4, so E[f] per kept weight = (1/4) / (3/4) = 1/3
    assert sm.expected_fillers(300, 0.5, 1) == pytest.approx(150 / 3)
    assert sm.expected_fillers(1000, 1.0, 3) == 0.0  # nothing pruned, no gaps to fill


@pytest.mark.parametrize(("p", "b"), [(0.04, 5), (0.04, 3), (0.2, 2), (0.5, 1)])
def test_formula_matches_random_masks(p: float, b: int) -> None:
    rng = np.random.default_rng(0)
    n = 400_000
    fillers, kept = sm.simulated_fillers(n, p, b, rng)
    assert kept == pytest.approx(n * p, rel=0.02)
    expect = sm.expected_fillers(n, p, b)
    assert abs(fillers - expect) < 4 * np.sqrt(expect) + 5  # within sampling noise


def test_kept_positions_are_a_bernoulli_mask_and_fillers_match_the_encoder() -> None:
    rng = np.random.default_rng(1)
    positions = sm.kept_positions(5_000, 0.03, rng)
    assert positions[0] >= 0 and positions[-1] < 5_000 and np.all(np.diff(positions) > 0)
    flat = np.zeros(5_000, dtype=np.int64)
    flat[positions] = 1
    fillers, _ = sm.simulated_fillers(5_000, 0.03, 4, np.random.default_rng(1))
    assert encode_relative(flat, 4).num_fillers == fillers


@pytest.mark.parametrize(("p", "w"), [(0.01, 5), (0.02, 5), (0.04, 5), (0.1, 4), (0.23, 5),
                                      (0.5, 8)])
def test_best_width_is_the_one_the_container_accounting_finds(p: float, w: int) -> None:
    positions = sm.kept_positions(200_000, p, np.random.default_rng(2))
    b = sm.best_index_bits(200_000, p, w)
    assert b == sm.simulated_best_index_bits(positions, w) == _best_relative(positions, w)[0]


def test_sparser_layers_want_wider_gaps() -> None:
    widths = [sm.best_index_bits(10**6, p, 5) for p in (0.5, 0.2, 0.05, 0.01)]
    assert widths == sorted(widths) and widths[0] < widths[-1]


def test_table_5_accounting(vgg_rows) -> None:
    layers = sm.storage(sm.plan_layers(vgg_rows))
    assert [s.name for s in layers] == list(sm.VGG16_KEPT)
    assert {s.weight_bits for s in layers if s.kind == "conv"} == {8}
    assert {s.weight_bits for s in layers if s.kind == "fc"} == {5}
    dense = sm.total_bytes(layers, "dense")
    assert dense == 4 * 138_344_128
    # the paper: P+Q 3.2% (31x), P+Q+H 2.05% (49x); fc6 1.6%, fc8 7.1% at P+Q
    assert dense / sm.total_bytes(layers, "P+Q") == pytest.approx(31, rel=0.05)
    assert dense / sm.total_bytes(layers, "P+Q+H") == pytest.approx(49, rel=0.05)
    rate = {s.name: s.bits["P+Q"] / s.bits["dense"] for s in layers}
    assert rate["fc6"] == pytest.approx(0.016, rel=0.1)
    assert rate["fc8"] == pytest.approx(0.071, rel=0.05)


def test_one_layer_by_hand() -> None:
    plan = sm.LayerPlan("fc", "fc", 1000, 1000, 0.5, 4, 1)
    s = sm.layer_storage(plan, huffman_gain=(0.5, 0.5))
    entries = 500 + 500 / 3  # p = 1/2, b = 1: a third of a filler per kept weight
    assert s.fillers == pytest.approx(500 / 3)
    assert s.bits["P"] == pytest.approx(entries * 33)
    assert s.bits["P+Q"] == pytest.approx(entries * 5 + 32 * 16)
    assert s.bits["P+Q+H"] == pytest.approx(entries * 2.5 + 32 * 16)


def test_per_layer_widths_only_shrink_the_file(vgg_rows) -> None:
    fixed = sm.storage(sm.plan_layers(vgg_rows))
    best = sm.storage(sm.plan_layers(vgg_rows, index_bits=None))
    for f, b in zip(fixed, best, strict=True):
        assert b.bits["P+Q"] <= f.bits["P+Q"]
    assert {s.index_bits for s in best if s.name in ("fc6", "fc7")} == {6}


def test_sparse_multadds_scale_each_layer_by_its_density(vgg_rows) -> None:
    plans = sm.plan_layers(vgg_rows)
    assert sm.sparse_multadds(plans) == round(sum(p.multadds * p.kept for p in plans))
    everything = sm.plan_layers(vgg_rows, dict.fromkeys(sm.VGG16_KEPT, 1.0))
    assert sm.sparse_multadds(everything) == sum(p.multadds for p in plans)


def test_bad_input_is_refused(vgg_rows) -> None:
    with pytest.raises(UsageError, match="kept"):
        sm.expected_fillers(100, 0.0, 5)
    with pytest.raises(UsageError, match="index bits"):
        sm.expected_fillers(100, 0.1, 0)
    with pytest.raises(UsageError, match="no kept fraction for layer 'fc8'"):
        sm.plan_layers(vgg_rows, {k: v for k, v in sm.VGG16_KEPT.items() if k != "fc8"})
    with pytest.raises(UsageError, match="unknown stage"):
        sm.total_bytes([], "P+H")
