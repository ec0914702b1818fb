"""Bits per layer within a budget: solo errors, the fewest bits, widening."""

import numpy as np

from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.elementwise import ReLU
from tinycompress.nn.model import Sequential
from tinycompress.nn.train import evaluate
from tinycompress.quantization import allocation

ERRORS = {"fc1": {2: 0.30, 3: 0.12, 4: 0.105, 8: 0.10},
          "fc2": {2: 0.11, 3: 0.10, 4: 0.10, 8: 0.10}}


def test_fewest_bits_within_the_share():
    assert allocation.fewest_bits(ERRORS, 0.10, 0.01) == {"fc1": 4, "fc2": 2}
    assert allocation.fewest_bits(ERRORS, 0.10, 0.0) == {"fc1": 8, "fc2": 3}
    assert allocation.fewest_bits(ERRORS, 0.05, 0.0) == {"fc1": 8, "fc2": 8}  # none fits


def test_widen_gives_a_bit_to_the_costliest_layer_until_all_are_widest():
    assert allocation.widen({"fc1": 3, "fc2": 2}, ERRORS) == {"fc1": 4, "fc2": 2}
    assert allocation.widen({"fc1": 8, "fc2": 2}, ERRORS) == {"fc1": 8, "fc2": 3}
    assert allocation.widen({"fc1": 8, "fc2": 8}, ERRORS) is None
    assert allocation.bits_spec({"fc1": 3, "fc2": 4}) == "fc1=3,fc2=4"


def test_solo_errors_quantise_one_layer_and_leave_the_model_unchanged():
    rng = np.random.default_rng(0)
    model = Sequential([Flatten(name="flat"), Dense(8, 16, name="fc1", rng=rng), ReLU(name="r"),
                        Dense(16, 4, name="fc2", rng=rng)], input_shape=(1, 1, 8))
    X = rng.normal(size=(400, 1, 1, 8)).astype(np.float32)
    y = model.forward(X).argmax(axis=1)  # the model is exactly right on its own labels
    before = [lay.params["W"].copy() for lay in model.layers if "W" in lay.params]
    errors = allocation.solo_errors(model, X, y, bits=(1, 2, 6))
    assert sorted(errors) == ["fc1", "fc2"]
    for by_bits in errors.values():
        assert by_bits[1] > by_bits[6] >= 0.0  # one bit hurts more than six
    after = [lay.params["W"] for lay in model.layers if "W" in lay.params]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert evaluate(model, X, y)["error"] == 0.0


def test_a_bit_fewer_is_tried_first_where_the_most_weights_are_kept():
    rng = np.random.default_rng(1)
    model = Sequential([Flatten(name="flat"), Dense(8, 16, name="fc1", rng=rng), ReLU(name="r"),
                        Dense(16, 4, name="fc2", rng=rng), ReLU(name="r2"),
                        Dense(4, 4, name="fc3", rng=rng)], input_shape=(1, 1, 8))
    model.layer("fc1").params["W"][:, 2:] = 0.0  # 16 of 128 kept, fewer than fc2's 64
    assert allocation.by_weights_kept(model, {"fc1": 3, "fc2": 4, "fc3": 3}) == ["fc2", "fc1",
                                                                                "fc3"]
    assert allocation.by_weights_kept(model, {"fc1": 3, "fc2": 2, "fc3": 2}) == ["fc1"]
