"""Sequential: counting by shape inference, whole-model gradients, zoo architectures."""

import numpy as np
import pytest

from tinycompress import zoo
from tinycompress.errors import ShapeError
from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.elementwise import ReLU
from tinycompress.nn.gradcheck import numerical_gradient, rel_error
from tinycompress.nn.losses import softmax_cross_entropy
from tinycompress.nn.model import Sequential, format_summary
from tinycompress.nn.pooling import MaxPool2D


def test_lenet_parameter_counts():
    assert zoo.build("lenet-300-100").num_params() == 266_610
    assert zoo.build("lenet5").num_params() == 431_080


def test_lenet_multadds_by_layer():
    rows = {r.name: r for r in zoo.build("lenet5").rows()}
    # conv1: 5*5*1*20 * 24*24; conv2: 5*5*20*50 * 8*8; fc1 800*500; fc2 500*10
    assert rows["conv1"].multadds == 25 * 20 * 24 * 24
    assert rows["conv2"].multadds == 25 * 20 * 50 * 64
    assert rows["fc1"].multadds == 800 * 500
    assert rows["pool1"].multadds == 0 and rows["relu"].multadds == 0
    assert rows["conv2"].output_shape == (50, 8, 8)
    assert zoo.build("lenet-300-100").multadds() == 784 * 300 + 300 * 100 + 100 * 10


def test_counting_needs_no_forward_pass():
    """Counting a 224x224 network allocates no activations: it works on shapes alone."""
    model = Sequential([Conv2D(3, 32, 3, stride=2, padding=1), BatchNorm2D(32), ReLU(),
                        Conv2D(32, 64, 3, padding=1), Flatten(), Dense(64 * 112 * 112, 10)],
                       (3, 224, 224))
    s = model.summary()
    assert s["layers"][0]["output_shape"] == [32, 112, 112]
    assert s["multadds"] == 9 * 3 * 32 * 112 * 112 + 9 * 32 * 64 * 112 * 112 + 64 * 112 * 112 * 10
    assert s["params"] == sum(r["params"] for r in s["layers"])
    assert s["bytes"] == 4 * s["params"]
    assert "total" in format_summary(s)


def test_mismatched_layers_fail_at_construction():
    with pytest.raises(ShapeError):
        Sequential([Flatten(), Dense(10, 3)], (1, 4, 4))
    with pytest.raises(ValueError, match="unique"):
        Sequential([ReLU(name="a"), ReLU(name="a")], (3,))


def test_forward_rejects_wrong_input_shape():
    model = zoo.build("lenet-300-100")
    with pytest.raises(ShapeError, match=r"\(N, 1, 28, 28\)"):
        model.forward(np.zeros((2, 28, 28), np.float32))


@pytest.mark.task_batchnorm_backward
def test_whole_model_gradient_through_loss():
    """End-to-end backprop of a small conv net in float64 against finite differences."""
    rng = np.random.default_rng(0)
    model = Sequential([Conv2D(1, 3, 3, padding=1, bias=False, rng=rng), BatchNorm2D(3), ReLU(),
                        MaxPool2D(2), Flatten(), Dense(3 * 3 * 3, 4, rng=rng)],
                       (1, 6, 7)).astype(np.float64)
    model.layer("bn1").momentum = 0.0
    x = rng.standard_normal((3, 1, 6, 7))
    y = np.array([0, 3, 1])

    def loss():
        return softmax_cross_entropy(model.forward(x, train=True), y)[0]

    _, dlogits = softmax_cross_entropy(model.forward(x, train=True), y)
    model.backward(dlogits)
    for layer, key, value in model.parameters():
        numeric = numerical_gradient(loss, value)
        assert rel_error(layer.grads[key], numeric) < 1e-6, (layer.name, key)


def test_softmax_cross_entropy_gradient_and_validation():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4, 5)) * 10
    y = np.array([0, 4, 2, 2])
    loss, dz = softmax_cross_entropy(z, y)
    assert rel_error(dz, numerical_gradient(lambda: softmax_cross_entropy(z, y)[0], z)) < 1e-7
    big = softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))[0]
    assert np.isfinite(big) and big == pytest.approx(1000.0)
    with pytest.raises(ShapeError):
        softmax_cross_entropy(z, np.array([0, 1, 2, 5]))


def test_backward_stops_at_the_first_layer_with_parameters():
    model = zoo.build("lenet5")
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    model.forward(x, train=True)
    assert model.layers[0].backward(np.ones((2, 20, 24, 24), np.float32)) is None
    mlp = zoo.build("lenet-300-100")  # Flatten first: fc1 is the first layer that learns
    assert mlp.first_trainable == 1 and not mlp.layer("fc1").needs_input_grad
    out = mlp.forward(x, train=True)
    mlp.backward(np.ones_like(out))
    assert mlp.layer("flatten")._cache is not None and "W" in mlp.layer("fc1").grads
