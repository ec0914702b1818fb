"""Sequential: counting by shape inference, whole-model gradients, where backprop stops."""

import numpy as np
import pytest

from tinycompress.errors import ShapeError, UsageError
from tinycompress.nn import model as model_module
from tinycompress.nn.base import SHAPE_ONLY
from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.elementwise import ReLU
from tinycompress.nn.gradcheck import numerical_gradient, rel_error
from tinycompress.nn.losses import softmax_cross_entropy
from tinycompress.nn.model import Sequential, distinct_nonzero, format_summary
from tinycompress.nn.pooling import MaxPool2D


def test_counting_needs_no_forward_pass():
    """Counting a 224x224 network allocates no activations: it works on shapes alone."""
    model = Sequential([Conv2D(3, 32, 3, stride=2, padding=1), BatchNorm2D(32), ReLU(),
                        Conv2D(32, 64, 3, padding=1), Flatten(), Dense(64 * 112 * 112, 10)],
                       (3, 224, 224))
    s = model.summary()
    assert s["layers"][0]["output_shape"] == [32, 112, 112]
    assert s["multadds"] == 9 * 3 * 32 * 112 * 112 + 9 * 32 * 64 * 112 * 112 + 64 * 112 * 112 * 10
    assert s["params"] == sum(r["params"] for r in s["layers"])
    assert s["weights"] == 9 * 3 * 32 + 9 * 32 * 64 + 64 * 112 * 112 * 10  # no bias, no BN
    assert s["bytes"] == 4 * s["params"]


def test_unnamed_layers_are_numbered_by_kind():
    model = Sequential([Conv2D(1, 2, 3), ReLU(), Conv2D(2, 2, 3), ReLU(), Flatten(),
                        Dense(8, 3, name="head")], (1, 6, 6))
    assert [layer.name for layer in model.layers] == ["conv1", "relu1", "conv2", "relu2",
                                                      "flatten1", "head"]
    with pytest.raises(UsageError, match="no layer 'fc1'; layers: conv1, relu1, conv2"):
        model.layer("fc1")


def test_summary_table_and_distinct_weights(tiny_net):
    model = tiny_net()
    model.layer("fc2").params["W"][:] = np.array([0.5, -0.5, 0.0], np.float32)  # 2 values, 0
    rows = {r.name: r for r in model.rows()}
    assert rows["fc2"].distinct_weights == 2 and rows["r1"].distinct_weights == 0
    assert rows["fc1"].nonzero_params < rows["fc1"].params  # the pruned fc1
    table = format_summary(model.summary()).splitlines()
    assert table[0] == "tiny  input 1x6x6" and table[3].split()[:3] == ["conv1", "Conv2D", "3x4x4"]
    assert table[-1].split()[:2] == ["total", f"{model.num_params():,}"]
    assert distinct_nonzero(Conv2D(3, 4, 3, rng=SHAPE_ONLY).params["W"]) == 0  # a placeholder


def test_mismatched_layers_fail_at_construction():
    with pytest.raises(ShapeError):
        Sequential([Flatten(), Dense(10, 3)], (1, 4, 4))
    with pytest.raises(UsageError, match="unique: 'a' names layers 0 and 2"):
        Sequential([ReLU(name="a"), ReLU(name="b"), ReLU(name="a")], (3,))


def test_evaluation_batches_fit_the_working_budget(tiny_net, tiny_batch, monkeypatch):
    model = tiny_net()
    # conv1 holds input 36 + output 48 + padded copy 36 + patches 9 * 16 per example
    assert model.working_values() == 36 + 48 + 36 + 144 and model.batch_for(1000) == 1000
    x, y = tiny_batch(32)
    whole = model.predict(x)
    monkeypatch.setattr(model_module, "EVAL_BUDGET", 3 * 264)
    assert model.batch_for(1000) == 3 and model.batch_for(2) == 2
    np.testing.assert_array_equal(model.predict(x), whole)
    monkeypatch.setattr(model_module, "EVAL_BUDGET", 1)
    assert model.batch_for(1000) == 1  # at least one example
    np.testing.assert_array_equal(model.predict(x), whole)


def test_forward_rejects_wrong_input_shape(tiny_net):
    with pytest.raises(ShapeError, match=r"\(N, 1, 6, 6\)"):
        tiny_net().forward(np.zeros((2, 6, 6), np.float32))


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


def test_backward_stops_at_the_first_layer_with_parameters(tiny_net, tiny_batch):
    model = tiny_net()
    x, _ = tiny_batch(2)
    model.forward(x, train=True)
    assert model.first_trainable == 0 and not model.layer("conv1").needs_input_grad
    assert model.layer("conv1").backward(np.ones((2, 3, 4, 4), np.float32)) is None
    mlp = Sequential([Flatten(name="flatten"), Dense(36, 5, name="fc1"), ReLU(),
                      Dense(5, 3, name="fc2")], (1, 6, 6))
    assert mlp.first_trainable == 1 and not mlp.layer("fc1").needs_input_grad
    assert mlp.layer("fc2").needs_input_grad
    out = mlp.forward(x, train=True)
    mlp.layer("flatten").backward = lambda dout: pytest.fail("backward ran below fc1")
    mlp.backward(np.ones_like(out))
    assert "W" in mlp.layer("fc1").grads
