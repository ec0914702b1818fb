"""Every weight layer as one matrix product over columns, and BatchNorm folded into a conv."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress.errors import UsageError
from tinycompress.inference.gemm import as_gemm, fold_batchnorm
from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.elementwise import ReLU
from tinycompress.nn.model import Sequential
from tinycompress.nn.pooling import MaxPool2D


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), (1, 2)])
def test_columns_and_fold_reproduce_the_conv_layer(stride: int, padding: int) -> None:
    rng = np.random.default_rng(0)
    conv = Conv2D(2, 3, 3, stride, padding, rng=rng, dtype=np.float64)
    x = rng.standard_normal((4, 2, 7, 6))
    A, b, geometry = as_gemm(conv)
    assert A.shape == (3, 18) and geometry.kernel == 3
    y = geometry.fold(A @ geometry.columns(x) + b[:, None], x.shape)
    np.testing.assert_allclose(y, conv.forward(x), rtol=1e-12, atol=1e-12)
    assert geometry.positions(conv.output_shape((2, 7, 6))) == y.shape[2] * y.shape[3]


def test_columns_and_fold_reproduce_the_dense_layer_and_a_biasless_conv() -> None:
    rng = np.random.default_rng(1)
    dense = Dense(5, 4, rng=rng, dtype=np.float64)
    x = rng.standard_normal((3, 5))
    A, b, geometry = as_gemm(dense)
    assert A.shape == (4, 5) and geometry.positions((4,)) == 1
    np.testing.assert_allclose(geometry.fold(A @ geometry.columns(x) + b[:, None], x.shape),
                               dense.forward(x), rtol=1e-12)
    _, b, _ = as_gemm(Conv2D(1, 2, 3, bias=False, rng=rng))
    assert b.tolist() == [0.0, 0.0]
    with pytest.raises(UsageError, match="not a Dense or Conv2D"):
        as_gemm(ReLU(name="r"))


def test_fold_batchnorm_merges_each_conv_and_its_batchnorm() -> None:
    rng = np.random.default_rng(2)
    layers = [Conv2D(1, 3, 3, rng=rng, bias=False), BatchNorm2D(3), ReLU(),
              Conv2D(3, 2, 3, rng=rng), BatchNorm2D(2), MaxPool2D(2), BatchNorm2D(2),
              Flatten(), Dense(2, 2, rng=rng)]
    model = Sequential(layers, (1, 7, 7)).astype(np.float64)
    for bn in (layers[1], layers[4], layers[6]):
        c = bn.num_features
        bn.params["gamma"][:] = rng.uniform(0.5, 2, c)
        bn.params["beta"][:] = rng.standard_normal(c)
        bn.buffers["running_mean"][:] = rng.standard_normal(c)
        bn.buffers["running_var"][:] = rng.uniform(0.1, 3, c)
    folded = fold_batchnorm(model)
    kinds = [type(layer).__name__ for layer in folded.layers]
    assert kinds == ["Conv2D", "ReLU", "Conv2D", "MaxPool2D", "BatchNorm2D", "Flatten", "Dense"]
    assert folded.layers[0].bias and folded.layers[0].name == "conv1"
    x = rng.standard_normal((5, 1, 7, 7))
    np.testing.assert_allclose(folded.forward(x), model.forward(x), rtol=1e-10, atol=1e-12)
    assert folded.layers[4] is not layers[6]  # copies: the original model is untouched
