"""PyTorch's names and layouts for the engine's parameters: the conversions both ways."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress.errors import InteropError
from tinycompress.interop.layout import (
    engine_momentum,
    float32,
    load_torch_state,
    onnx_momentum,
    torch_state,
)
from tinycompress.nn.architecture import architecture, build_from_architecture
from tinycompress.nn.base import SHAPE_ONLY
from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.elementwise import ReLU
from tinycompress.nn.model import Sequential


def _model() -> Sequential:
    rng = np.random.default_rng(0)
    bn = BatchNorm2D(3, name="bn")
    bn.buffers["running_var"] = rng.random(3, dtype=np.float32) + 0.5
    return Sequential([Conv2D(1, 3, 3, name="features.0", rng=rng), bn, ReLU(), Flatten(),
                       Dense(12, 2, name="classifier", rng=rng)], (1, 4, 4))


def test_a_state_dict_has_pytorch_names_and_layouts() -> None:
    model = _model()
    state = torch_state(model)
    assert list(state) == ["features.0.weight", "features.0.bias", "bn.weight", "bn.bias",
                           "bn.running_mean", "bn.running_var", "classifier.weight",
                           "classifier.bias"]
    assert state["classifier.weight"].shape == (2, 12)  # nn.Linear: (out, in)
    np.testing.assert_array_equal(state["classifier.weight"], model.layers[-1].params["W"].T)
    np.testing.assert_array_equal(state["features.0.weight"], model.layers[0].params["W"])


def test_loading_a_state_dict_converts_back_and_ignores_num_batches_tracked() -> None:
    model = _model()
    state = {**torch_state(model), "bn.num_batches_tracked": np.array(12, np.int64)}
    empty = build_from_architecture(architecture(model))
    back = load_torch_state(empty, state, "m.safetensors")
    x = np.random.default_rng(1).random((3, 1, 4, 4), dtype=np.float32)
    np.testing.assert_array_equal(back.forward(x), model.forward(x))
    assert back.layers[-1].params["W"].flags.writeable  # training updates it in place


@pytest.mark.parametrize(("change", "match"), [
    (lambda s: s.pop("bn.bias"), r"missing \['bn.bias'\]"),
    (lambda s: s.update({"fc.weight": np.zeros(1, np.float32)}), r"unexpected \['fc.weight'\]"),
    (lambda s: s.update({"classifier.weight": np.zeros((12, 2), np.float32)}),
     r"'classifier.weight' has shape \(12, 2\); the layer needs \(2, 12\)"),
    (lambda s: s.update({"bn.bias": np.zeros(3, np.float64)}), "float32"),
    (lambda s: s.update({"bn.bias": np.array([0, np.nan, 0], np.float32)}), "NaN"),
    (lambda s: s.update({"bn.num_batches_tracked": np.zeros(2, np.int64)}),
     "expected an integer scalar"),
])
def test_a_state_dict_that_does_not_fit_is_refused(change, match: str) -> None:
    state = torch_state(_model())
    change(state)
    empty = build_from_architecture(architecture(_model()))
    with pytest.raises(InteropError, match=match):
        load_torch_state(empty, state, "m.safetensors")


def test_the_batchnorm_and_float32_conventions() -> None:
    assert onnx_momentum(0.1) == pytest.approx(0.9)
    assert engine_momentum(float(np.float32(0.9))) == 0.1  # not 0.09999999999999998
    assert float32(float(np.float32(1e-5))) == 1e-5
    assert BatchNorm2D(2, rng=SHAPE_ONLY).momentum == 0.1  # the engine's is PyTorch's default
