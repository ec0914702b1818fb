"""Tests of 1-D k-means: nearest-centroid assignment (fast == plain), Lloyd, inits, seeds."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress.errors import ShapeError
from tinycompress.quantization.kmeans import (
    INITS,
    assign_plain,
    assign_sorted,
    init_centroids,
    kmeans_1d,
)


def _weights(n: int = 5000, seed: int = 0) -> np.ndarray:
    """Bell-shaped weights with heavy tails, like a trained layer's."""
    rng = np.random.default_rng(seed)
    return (rng.standard_t(df=4, size=n) * 0.05).astype(np.float32)


@pytest.mark.task_kmeans_assign_plain
def test_assign_sorted_equals_plain_and_is_nearest() -> None:
    w = _weights()
    c = np.sort(np.random.default_rng(1).normal(0, 0.1, size=17))
    fast, plain = assign_sorted(w, c), assign_plain(w, c)
    np.testing.assert_array_equal(fast, plain)
    d = np.abs(w[:, None].astype(np.float64) - c)
    np.testing.assert_array_equal(d[np.arange(w.size), fast], d.min(axis=1))


@pytest.mark.task_kmeans_assign_plain
def test_assign_ties_go_to_lower_centroid() -> None:
    c = np.array([0.0, 1.0, 3.0])
    w = np.array([0.5, 2.0, -1.0, 9.0])
    np.testing.assert_array_equal(assign_sorted(w, c), [0, 1, 0, 2])
    np.testing.assert_array_equal(assign_plain(w, c), [0, 1, 0, 2])


def test_assign_sorted_rejects_unsorted_centroids() -> None:
    with pytest.raises(ShapeError, match="sorted"):
        assign_sorted(np.zeros(3), np.array([1.0, 0.0]))


@pytest.mark.task_kmeans_assign_plain
@pytest.mark.parametrize(
    "init", [pytest.param(i, marks=pytest.mark.task_kmeans_plus_plus) if i == "kmeans++" else i
             for i in INITS]
)
def test_fast_and_plain_lloyd_agree(init: str) -> None:
    w = _weights(3000, seed=2)
    fast = kmeans_1d(w, 16, init=init, rng=3, fast=True)
    plain = kmeans_1d(w, 16, init=init, rng=3, fast=False)
    np.testing.assert_allclose(fast.centroids, plain.centroids, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(fast.labels, plain.labels)
    assert fast.converged and plain.converged
    assert fast.n_iter == plain.n_iter


@pytest.mark.task_kmeans_assign_plain
def test_lloyd_result_is_a_fixed_point() -> None:
    w = _weights(4000, seed=4).astype(np.float64)
    res = kmeans_1d(w, 8, init="density")
    np.testing.assert_array_equal(res.labels, assign_plain(w, res.centroids))
    for j in range(8):
        members = w[res.labels == j]
        assert members.size > 0
        assert abs(members.mean() - res.centroids[j]) < 1e-12
    assert res.inertia == pytest.approx(np.sum((w - res.centroids[res.labels]) ** 2))


@pytest.mark.task_kmeans_plus_plus
def test_lloyd_improves_on_its_init() -> None:
    w = _weights(4000, seed=5).astype(np.float64)
    for init in INITS:
        c0 = init_centroids(w, 8, init, rng=0)
        start = np.sum((w - c0[assign_sorted(w, c0)]) ** 2)
        assert kmeans_1d(w, 8, init=init, rng=0).inertia <= start


@pytest.mark.task_kmeans_plus_plus
def test_inits_shapes_and_definitions() -> None:
    w = _weights(1001, seed=6)
    w64 = w.astype(np.float64)
    lin = init_centroids(w, 5, "linear")
    np.testing.assert_allclose(lin, np.linspace(w64.min(), w64.max(), 5))
    dens = init_centroids(w, 4, "density")
    np.testing.assert_allclose(dens, np.quantile(w64, [1 / 8, 3 / 8, 5 / 8, 7 / 8]))
    for init in ("random", "kmeans++"):
        c = init_centroids(w, 7, init, rng=0)
        assert c.shape == (7,) and np.all(np.diff(c) >= 0)
        assert np.isin(c, w64).all()  # both pick actual weights
    with pytest.raises(ValueError, match="unknown init"):
        init_centroids(w, 4, "uniform")


@pytest.mark.task_kmeans_plus_plus
def test_kmeans_plus_plus_spreads_out() -> None:
    # Three tight, far-apart groups: D^2 sampling puts one seed in each (with overwhelming odds).
    w = np.concatenate([np.full(100, -5.0), np.full(100, 0.0), np.full(100, 7.0)])
    w += np.random.default_rng(0).normal(0, 1e-3, size=w.size)
    c = init_centroids(w, 3, "kmeans++", rng=11)
    np.testing.assert_allclose(c, [-5, 0, 7], atol=0.01)


@pytest.mark.parametrize(
    "init", ["random", pytest.param("kmeans++", marks=pytest.mark.task_kmeans_plus_plus)]
)
def test_seeded_inits_are_deterministic(init: str) -> None:
    w = _weights(2000, seed=7)
    a = kmeans_1d(w, 16, init=init, rng=42)
    b = kmeans_1d(w, 16, init=init, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a.centroids, b.centroids)
    np.testing.assert_array_equal(a.labels, b.labels)
    c = kmeans_1d(w, 16, init=init, rng=43)
    assert not np.array_equal(a.centroids, c.centroids)


@pytest.mark.task_kmeans_assign_plain
def test_empty_clusters_are_relocated() -> None:
    # Linear init on two far groups leaves the middle centroids empty at first.
    rng = np.random.default_rng(0)
    w = np.concatenate([rng.uniform(-1.0, -0.9, 50), rng.uniform(0.8, 1.0, 70)])
    res = kmeans_1d(w, 6, init="linear")
    assert res.n_relocated > 0
    assert np.all(np.bincount(res.labels.ravel(), minlength=6) > 0)
    plain = kmeans_1d(w, 6, init="linear", fast=False)
    np.testing.assert_allclose(res.centroids, plain.centroids, atol=1e-12)


def test_fewer_distinct_values_than_clusters_is_exact() -> None:
    w = np.repeat([-0.5, 0.25, 2.0], 10)
    res = kmeans_1d(w, 8, init="linear")
    assert res.inertia == 0.0
    np.testing.assert_array_equal(res.centroids[res.labels], w)
    assert res.n_unused == 5  # no split can lower a zero objective: the codes stay unused


def test_an_empty_cluster_takes_the_best_split() -> None:
    """The centroid at 100 wins nothing; splitting the wide group {8, 9, 11, 12} lowers the
    objective by 2*2/4 * 3^2 = 9 per copy, splitting the tight group at 0 by almost nothing.
    (The first version moved it onto the worst-served weight, 8: centroids 0, 8, 10.67.)"""
    rng = np.random.default_rng(0)
    tight = rng.normal(0.0, 1e-3, 100)
    w = np.concatenate([tight, np.repeat([8.0, 9.0, 11.0, 12.0], 5)])
    one = kmeans_1d(w, 3, init=np.array([0.0, 10.0, 100.0]), max_iter=1)
    assert one.n_relocated == 1
    np.testing.assert_allclose(one.centroids, [tight.mean(), 8.5, 11.5], rtol=0, atol=1e-12)
    full = kmeans_1d(w, 3, init=np.array([0.0, 10.0, 100.0]))
    assert full.converged and full.n_unused == 0
    np.testing.assert_allclose(full.centroids, one.centroids, rtol=0, atol=1e-12)


def test_a_stolen_cluster_does_not_stay_empty() -> None:
    """Linear init on 6 distinct values for k = 6: three centroids start empty. Moved onto the
    worst-served weights one by one (the first version), they took every weight of the cluster
    whose mean is 0.1, which then won nothing: two of six codes unused after one iteration.
    Splitting clusters instead gives each distinct value its own code at once."""
    w = np.array([-0.6, -0.6, 0.5, -1.3, 6.9, -0.3, -1.1])
    res = kmeans_1d(w, 6, init="linear", max_iter=1)
    assert res.n_relocated == 3 and res.n_unused == 0
    assert np.all(np.bincount(res.labels, minlength=6) > 0)
    np.testing.assert_allclose(res.centroids, np.unique(w), rtol=0, atol=1e-15)
    assert res.inertia == pytest.approx(0.0, abs=1e-24)


def test_inertia_never_increases_over_iterations() -> None:
    """Lloyd with relocation is monotone: the result after t + 1 iterations is never worse than
    after t, from the first iteration on (heavy tails + linear init: several splits)."""
    w = _weights(20_000, seed=10).astype(np.float64)
    c0 = init_centroids(w, 32, "linear")
    previous = float(np.sum((w - c0[assign_sorted(w, c0)]) ** 2))
    relocated = 0
    for t in range(1, 41):
        res = kmeans_1d(w, 32, init=c0, max_iter=t)
        assert res.inertia <= previous * (1 + 1e-12)
        assert res.n_unused == 0
        previous, relocated = res.inertia, res.n_relocated
    assert relocated > 5


@pytest.mark.parametrize("seed", range(5))
def test_relocation_does_not_depend_on_the_order_of_the_weights(seed: int) -> None:
    w = _weights(3000, seed=seed).astype(np.float64)
    perm = np.random.default_rng(seed + 100).permutation(w.size)
    a, b = kmeans_1d(w, 16, init="linear"), kmeans_1d(w[perm], 16, init="linear")
    assert a.n_relocated > 0
    np.testing.assert_array_equal(a.centroids, b.centroids)
    np.testing.assert_array_equal(a.labels[perm], b.labels)


def test_labels_keep_the_input_shape() -> None:
    w = _weights(2 * 3 * 5 * 5).reshape(2, 3, 5, 5)
    assert kmeans_1d(w, 4).labels.shape == (2, 3, 5, 5)


def test_explicit_init_is_sorted_and_checked() -> None:
    w = _weights(500, seed=8)
    given = np.array([0.1, -0.1, 0.0])
    res = kmeans_1d(w, 3, init=given)
    np.testing.assert_array_equal(res.centroids, kmeans_1d(w, 3, init=np.sort(given)).centroids)
    assert np.all(np.diff(res.centroids) >= 0) and res.converged
    with pytest.raises(ShapeError, match="k=4"):
        kmeans_1d(w, 4, init=given)


def test_max_iter_stops_lloyd_early() -> None:
    w = _weights(3000, seed=9)
    full = kmeans_1d(w, 16)
    assert full.n_iter > 1
    short = kmeans_1d(w, 16, max_iter=1)
    assert short.n_iter == 1 and not short.converged
    assert short.inertia >= full.inertia


def test_bad_input_raises() -> None:
    with pytest.raises(ShapeError, match="empty"):
        kmeans_1d(np.array([]), 4)
    with pytest.raises(ShapeError, match="NaN"):
        kmeans_1d(np.array([0.0, np.nan]), 2)
    with pytest.raises(ShapeError, match="positive"):
        kmeans_1d(np.ones(3), 0)
