"""Codebook inference: one multiply per centroid, the same product as the dense one."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress.errors import UsageError
from tinycompress.inference.codebook import (
    CodebookMatrix,
    CodebookModel,
    codebook_counts,
    codebook_matvec_naive,
)
from tinycompress.inference.gemm import as_gemm


def _shared(out: int = 12, inp: int = 30, k: int = 5, keep: float = 0.3, seed: int = 0):
    """Codebook (k,), indices and mask (out, in), with an empty row, and the dense matrix."""
    rng = np.random.default_rng(seed)
    codebook = rng.standard_normal(k).astype(np.float32)
    indices = rng.integers(0, k, (out, inp)).astype(np.uint8)
    mask = rng.random((out, inp)) < keep
    mask[3] = False  # a fully pruned output
    return codebook, indices, mask, np.where(mask, codebook[indices], np.float32(0))


@pytest.mark.task_codebook_dot
def test_naive_codebook_product_equals_the_dense_product() -> None:
    codebook, indices, mask, A = _shared()
    x = np.random.default_rng(1).standard_normal(30).astype(np.float32)
    y = codebook_matvec_naive(indices, mask, codebook, x)
    assert y.shape == (12,) and y[3] == 0
    np.testing.assert_allclose(y, A.astype(np.float64) @ x, rtol=1e-5, atol=1e-6)


def test_grouped_matrix_counts_one_multiply_per_row_and_centroid() -> None:
    codebook, indices, mask, A = _shared()
    m = CodebookMatrix.from_shared(codebook, indices, mask)
    pairs = {(f, int(indices[f, d])) for f, d in zip(*np.nonzero(mask), strict=True)}
    assert m.nnz == mask.sum() and m.groups == len(pairs) < m.nnz
    assert 3 not in m.rows.tolist() and m.shape == (12, 30)
    assert np.array_equal(m.decode(), A)  # the indices reproduce every weight bit for bit


@pytest.mark.task_codebook_dot
@pytest.mark.parametrize("chunk", [1 << 20, 7])
def test_grouped_product_equals_naive_and_dense(chunk: int) -> None:
    codebook, indices, mask, A = _shared(seed=2)
    X = np.random.default_rng(3).standard_normal((30, 9)).astype(np.float32)
    m = CodebookMatrix.from_shared(codebook, indices, mask)
    Y = m.matmat(X, chunk=chunk)
    np.testing.assert_allclose(Y, A.astype(np.float64) @ X, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(Y[:, 4], codebook_matvec_naive(indices, mask, codebook, X[:, 4]),
                               rtol=1e-5, atol=1e-6)


def test_from_dense_reads_the_codebook_back_and_refuses_unshared_weights() -> None:
    _, _, _, A = _shared(seed=4)
    m = CodebookMatrix.from_dense(A)
    assert np.array_equal(m.decode(), A) and np.array_equal(m.matmat(np.zeros((30, 0))),
                                                            np.zeros((12, 0)))
    empty = CodebookMatrix.from_dense(np.zeros((4, 6), np.float32))
    assert empty.nnz == 0 and not empty.matmat(np.ones((6, 2), np.float32)).any()
    with pytest.raises(UsageError, match="columns"):
        m.matmat(np.zeros((29, 2)))
    many = np.arange(1, 70_001, dtype=np.float32).reshape(100, 700)
    with pytest.raises(UsageError, match="fc9 has 70,000 distinct"):
        CodebookMatrix.from_dense(many, "fc9")


@pytest.mark.task_magnitude_prune
def test_codebook_model_runs_conv_and_dense_layers_like_the_model(pruned_quantised) -> None:
    model = pruned_quantised("lenet5", 0.9, 3)
    cm = CodebookModel(model)
    x = np.random.default_rng(5).standard_normal((3, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(cm.forward(x), model.forward(x), rtol=1e-4, atol=1e-4)
    rows = cm.counts()
    assert [r["name"] for r in rows] == ["conv1", "conv2", "fc1", "fc2"]
    conv2 = rows[1]
    W = model.layer("conv2").params["W"]
    assert conv2["dense"] == W.size * 8 * 8 and conv2["sparse"] == np.count_nonzero(W) * 64
    assert conv2["outputs"] == 50 * 64
    assert rows[2]["outputs"] == model.layer("fc1").params["W"].shape[1]
    groups = cm.matrices["conv2"].groups
    assert conv2["codebook_mults"] == groups * 64 <= 50 * 8 * 64  # at most 8 centroids a row
    totals = codebook_counts(model)
    assert totals == {"adds": sum(r["codebook_adds"] for r in rows),
                      "multiplies": sum(r["codebook_mults"] for r in rows)}
    A = as_gemm(model.layer("fc1"))[0]
    assert np.array_equal(cm.matrices["fc1"].decode(), A)


def test_shipped_lenets_codebook_predictions_equal_dense(shipped) -> None:
    for name in ("lenet-300-100", "lenet5"):
        net = shipped(name)
        X = net["X"][:100]
        scores = CodebookModel(net["model"]).forward(X)
        np.testing.assert_allclose(scores, net["model"].forward(X), rtol=1e-4, atol=1e-4)
