"""Tests for tinycompress.coding.small_tensors: biases in float16 or 8 bits, the model as the
file will hold it, and the sections of kinds "h" and "q"."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress.coding import small_tensors
from tinycompress.errors import FormatError, UsageError
from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.model import Sequential


def _model() -> Sequential:
    rng = np.random.default_rng(0)
    model = Sequential([Conv2D(1, 2, 3, name="conv", rng=rng), BatchNorm2D(2, name="bn"),
                        Flatten(name="flat"), Dense(8, 4, name="fc", rng=rng)], (1, 4, 4), "m")
    for layer in model.layers:
        for key, value in layer.params.items():
            layer.params[key] = rng.normal(size=value.shape).astype(np.float32)
    return model


def test_int8_is_q_times_a_power_of_two_and_idempotent() -> None:
    x = np.float32([0.3, -1.27, 0.0, -0.0, 1e-3])
    q, e = small_tensors.quantised(x)
    assert e == -6  # the smallest e with max |x| <= 127 2^e: 127 / 64 >= 1.27 > 127 / 128
    assert q.tolist() == [19, -81, 0, 0, 0]  # x * 64, rounded
    stored = small_tensors.stored_value(x, "int8")
    assert np.array_equal(stored, np.rint(x / 2.0**e) * 2.0**e)
    assert stored.view(np.uint32)[3] == 0  # -0.0 is stored as +0.0
    again = small_tensors.stored_value(stored, "int8")
    assert again.tobytes() == stored.tobytes()
    assert small_tensors.exponent(np.float32([127.0])) == 0
    assert small_tensors.exponent(np.float32([127.5])) == 1
    assert small_tensors.exponent(np.zeros(3, np.float32)) == 0


def test_fp16_rounds_and_keeps_float32_where_it_overflows() -> None:
    x = np.float32([1 / 3, -2.5, 70_000.0])
    assert small_tensors.stored_value(x, "fp16").tobytes() == x.tobytes()  # 70,000: too big
    assert small_tensors.encode_small(x, "fp16") is None
    y = x[:2]
    assert np.array_equal(small_tensors.stored_value(y, "fp16"), y.astype(np.float16))
    assert small_tensors.stored_value(y, "fp32").tobytes() == y.tobytes()


def test_as_stored_touches_only_the_small_tensors() -> None:
    model = _model()
    for small in small_tensors.SMALL:
        stored = small_tensors.as_stored(model, small)
        for layer, orig in zip(stored.layers, model.layers, strict=True):
            for key, value in (*layer.params.items(), *layer.buffers.items()):
                before = {**orig.params, **orig.buffers}[key]
                if key == "W" or small == "fp32":
                    assert value.tobytes() == before.tobytes()
                else:
                    want = small_tensors.stored_value(before, small)
                    assert value.tobytes() == want.tobytes() and value.shape == before.shape
    assert model.layers[0].params["b"].tobytes() != small_tensors.as_stored(
        model, "int8").layers[0].params["b"].tobytes()  # a copy changed, not the model
    with pytest.raises(UsageError, match="got 'int4'"):
        small_tensors.as_stored(model, "int4")


@pytest.mark.parametrize("small", ["fp16", "int8"])
def test_sections_round_trip_and_refuse_what_no_encoder_writes(small: str) -> None:
    x = np.random.default_rng(1).normal(size=300).astype(np.float32)
    desc, data = small_tensors.encode_small(x, small)
    assert desc["k"] == {"fp16": "h", "int8": "q"}[small]
    back = small_tensors.decode_small(data, desc, x.size)
    assert back.tobytes() == small_tensors.stored_value(x, small).tobytes()
    assert len(data) == 600 if small == "fp16" else len(data) <= 300
    with pytest.raises(FormatError, match="more bytes|unexplained"):
        small_tensors.decode_small(data + b"\x00", desc, x.size + (small == "fp16"))
    if small == "fp16":
        with pytest.raises(FormatError, match="float16 value is NaN"):
            small_tensors.decode_small(b"\x00\x7e" + data[2:], desc, x.size)
    elif "f" in desc["v"]:
        with pytest.raises(FormatError, match="exceeds the alphabet of 255"):
            small_tensors.decode_small(b"\xff" + data[1:], desc, x.size)
