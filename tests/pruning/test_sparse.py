"""CSR storage and products against dense NumPy."""

import numpy as np
import pytest

from tinycompress.errors import ShapeError
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.elementwise import ReLU
from tinycompress.nn.model import Sequential
from tinycompress.pruning import magnitude, sparse


def sparse_matrix(rows, cols, density, seed=0, empty_rows=()):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((rows, cols)) * (rng.random((rows, cols)) < density)
    a[list(empty_rows)] = 0
    return a


@pytest.mark.parametrize("density", [0.0, 0.05, 0.3, 1.0])
def test_round_trip_and_counts(density):
    a = sparse_matrix(7, 11, density, empty_rows=(0, 3, 6))
    csr = sparse.CSR.from_dense(a)
    np.testing.assert_array_equal(csr.to_dense(), a)
    assert csr.nnz == np.count_nonzero(a)
    assert csr.indptr[0] == 0 and csr.indptr[-1] == csr.nnz and csr.indptr.size == 8
    assert csr.nbytes == csr.nnz * (8 + 4) + 8 * 8


@pytest.mark.task_csr_matvec_naive
@pytest.mark.parametrize("density", [0.0, 0.1, 0.5])
def test_products_equal_dense(density):
    a = sparse_matrix(9, 13, density, empty_rows=(2, 8))  # empty first/last-ish rows included
    csr = sparse.CSR.from_dense(a)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(13)
    X = rng.standard_normal((13, 5))
    np.testing.assert_allclose(sparse.csr_matvec(csr, x), a @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sparse.csr_matvec_naive(csr, x), a @ x, rtol=1e-12, atol=1e-12)
    for chunk in (1, 10, 1 << 20):  # row blocks of every size give the same product
        np.testing.assert_allclose(sparse.csr_matmat(csr, X, chunk), a @ X, rtol=1e-12,
                                   atol=1e-12)


def test_bad_shapes():
    csr = sparse.CSR.from_dense(np.eye(3))
    with pytest.raises(ShapeError):
        sparse.csr_matvec(csr, np.ones(4))
    with pytest.raises(ShapeError):
        sparse.csr_matmat(csr, np.ones((4, 2)))
    with pytest.raises(ShapeError):
        sparse.CSR.from_dense(np.ones(3))


@pytest.mark.task_magnitude_prune
@pytest.mark.parametrize("n", [1, 6])
def test_sparse_model_forward_equals_dense(n):
    rng = np.random.default_rng(0)
    model = Sequential([Flatten(), Dense(20, 15, rng=rng), ReLU(), Dense(15, 4, rng=rng)],
                       (1, 4, 5)).astype(np.float64)
    magnitude.prune(model, sparsity=0.8)
    x = rng.standard_normal((n, 1, 4, 5))
    layers = sparse.to_sparse(model)
    assert set(layers) == {"fc1", "fc2"}  # the fully-connected layers, not Flatten or ReLU
    assert layers["fc1"].a.nnz == np.count_nonzero(model.layer("fc1").params["W"])
    np.testing.assert_allclose(sparse.sparse_forward(model, x, layers), model.forward(x),
                               rtol=1e-12, atol=1e-12)

