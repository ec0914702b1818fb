"""Tests of weight sharing: codebook + indices, pruned zeros, the centroid gradient."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress.errors import ShapeError
from tinycompress.quantization.kmeans import assign_plain
from tinycompress.quantization.sharing import SharedWeights, centroid_grad, share_weights


def _pruned_weights(shape: tuple[int, ...], keep: float = 0.3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 0.1, size=shape).astype(np.float32)
    return W * (rng.random(shape) < keep)


def test_codebook_and_indices_layout() -> None:
    W = _pruned_weights((40, 30), keep=1.0)
    s = share_weights(W, bits=5)
    assert s.codebook.dtype == np.float32 and s.codebook.shape == (32,)
    assert s.indices.dtype == np.uint8 and s.indices.shape == W.shape
    assert np.all(np.diff(s.codebook) >= 0)
    assert share_weights(W, bits=9).indices.dtype == np.uint16
    out = s.decode()
    assert out.dtype == np.float32 and len(np.unique(out)) <= 32


@pytest.mark.task_kmeans_assign_plain
def test_assignments_are_nearest_codebook_entry() -> None:
    W = _pruned_weights((6, 4, 5, 5), keep=1.0, seed=1)
    s = share_weights(W, bits=4, init="density")
    plain = assign_plain(W, s.codebook)
    np.testing.assert_array_equal(s.indices, plain)


def test_pruned_zeros_stay_zero_and_are_not_a_cluster() -> None:
    W = _pruned_weights((50, 20), keep=0.2, seed=2)
    s = share_weights(W, bits=3)
    out = s.decode()
    np.testing.assert_array_equal(out == 0, W == 0)
    np.testing.assert_array_equal(s.mask, W != 0)
    # Zeros took no centroid: all 8 entries serve kept weights, none of them sits at 0.
    assert np.all(s.counts() > 0)
    assert s.counts().sum() == np.count_nonzero(W)
    assert not np.any(s.codebook == 0)


def test_fully_pruned_tensor() -> None:
    s = share_weights(np.zeros((3, 4), np.float32), bits=2)
    np.testing.assert_array_equal(s.decode(), 0)


def test_quantisation_error_shrinks_with_bits() -> None:
    W = _pruned_weights((100, 50), keep=1.0, seed=3)
    errs = [np.mean((share_weights(W, b).decode() - W) ** 2) for b in (2, 4, 6, 8)]
    assert all(a > b for a, b in zip(errs, errs[1:], strict=False))


@pytest.mark.parametrize(
    "init", ["random", pytest.param("kmeans++", marks=pytest.mark.task_kmeans_plus_plus)]
)
def test_share_weights_deterministic(init: str) -> None:
    W = _pruned_weights((30, 30), seed=4)
    a, b = share_weights(W, 4, init, rng=9), share_weights(W, 4, init, rng=9)
    np.testing.assert_array_equal(a.codebook, b.codebook)
    np.testing.assert_array_equal(a.indices, b.indices)


def _loss_and_grad(W: np.ndarray, X: np.ndarray, T: np.ndarray) -> tuple[float, np.ndarray]:
    """L = 1/2 ||tanh(X W) - T||^2 and dL/dW = X^T ((tanh(XW) - T) * (1 - tanh(XW)^2))."""
    h = np.tanh(X @ W)
    r = h - T
    return 0.5 * float(np.sum(r * r)), X.T @ (r * (1 - h * h))


@pytest.mark.task_centroid_grad
def test_centroid_grad_matches_finite_differences() -> None:
    rng = np.random.default_rng(5)
    W0 = _pruned_weights((7, 5), keep=0.6, seed=6).astype(np.float64)
    s = share_weights(W0, bits=2)
    C = s.codebook.astype(np.float64)
    X, T = rng.normal(size=(11, 7)), rng.normal(size=(11, 5))

    def loss_of(c: np.ndarray) -> float:
        shared = SharedWeights(codebook=c, indices=s.indices, mask=s.mask, bits=s.bits)
        return _loss_and_grad(shared.decode(), X, T)[0]

    shared64 = SharedWeights(codebook=C, indices=s.indices, mask=s.mask, bits=s.bits)
    dC = centroid_grad(_loss_and_grad(shared64.decode(), X, T)[1], shared64)
    h = 1e-6
    num = np.array(
        [(loss_of(C + h * e) - loss_of(C - h * e)) / (2 * h) for e in np.eye(C.size)]
    )
    rel = np.abs(dC - num) / np.maximum(np.abs(dC) + np.abs(num), 1e-12)
    assert rel.max() < 1e-7, (dC, num)


@pytest.mark.task_centroid_grad
def test_centroid_grad_is_grouped_sum() -> None:
    # The paper's Fig. 3 grouping on a 4x4 example, by hand.
    idx = np.array([[3, 0, 2, 1], [1, 1, 0, 3], [0, 3, 1, 0], [3, 1, 2, 2]], dtype=np.uint8)
    g = np.arange(16, dtype=np.float64).reshape(4, 4) / 10
    s = SharedWeights(np.zeros(4, np.float32), idx, np.ones((4, 4), bool), bits=2)
    expected = [g[idx == k].sum() for k in range(4)]
    np.testing.assert_allclose(centroid_grad(g, s), expected)
    masked = SharedWeights(s.codebook, idx, g < 1.0, bits=2)  # first 10 weights kept
    np.testing.assert_allclose(
        centroid_grad(g, masked), [g[(idx == k) & (g < 1.0)].sum() for k in range(4)]
    )
    with pytest.raises(ShapeError):
        centroid_grad(g[:2], s)
