"""A model as JSON and back: every layer type rebuilt, every field of a forged one refused.

The forged descriptions start from a real one (``every_layer_type``: conv1 bn1 relu1 pool1 dw1
pw1 pool2 dropout1 gap1 flatten1 fc1) and change one field each; the refusal must name that
field, on one line of bounded length, before anything is allocated.
"""

import copy
import inspect
import json
import math
import re

import numpy as np
import pytest

from tinycompress.errors import CheckpointError, FormatError
from tinycompress.nn.architecture import (
    LAYER_CONFIGS,
    LAYER_TYPES,
    MAX_ACTIVATION,
    MAX_DIMENSION,
    MAX_LAYERS,
    MAX_PARAMETERS,
    architecture,
    build_from_architecture,
    state_arrays,
)
from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.depthwise import DepthwiseConv2D, PointwiseConv2D
from tinycompress.nn.elementwise import Dropout, ReLU
from tinycompress.nn.model import Sequential
from tinycompress.nn.pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D


def every_layer_type() -> Sequential:
    rng = np.random.default_rng(0)
    return Sequential([Conv2D(1, 4, 3, padding=1, rng=rng), BatchNorm2D(4, momentum=0.2), ReLU(),
                       MaxPool2D(2), DepthwiseConv2D(4, 3, padding=1, bias=False, rng=rng),
                       PointwiseConv2D(4, 6, rng=rng), AvgPool2D(2, 1), Dropout(0.25, seed=3),
                       GlobalAvgPool2D(), Flatten(), Dense(6, 3, rng=rng)], (1, 8, 8), "all")


def test_the_model_holds_every_known_layer_type():
    assert {type(layer).__name__ for layer in every_layer_type().layers} == set(LAYER_TYPES)


def test_every_layer_type_is_rebuilt_from_json_with_placeholders():
    model = every_layer_type()
    arch = json.loads(json.dumps(architecture(model)))
    rebuilt = build_from_architecture(arch)
    assert architecture(rebuilt) == arch and rebuilt.name == "all"
    assert rebuilt.input_shape == (1, 8, 8) and rebuilt.shapes() == model.shapes()
    shapes = [{k: v.shape for k, v in state_arrays(m).items()} for m in (model, rebuilt)]
    assert shapes[0] == shapes[1]
    for layer, key, value in rebuilt.parameters():
        if key in ("W", "b"):  # drawn weights: zero-stride placeholders, nothing random
            assert not any(value.strides) and not value.flags.writeable, (layer.name, key)


def test_state_arrays_are_the_layers_own_arrays():
    model = every_layer_type()
    arrays = state_arrays(model)
    assert arrays["conv1/W"] is model.layer("conv1").params["W"]
    assert arrays["bn1/running_var"] is model.layer("bn1").buffers["running_var"]
    assert "dw1/b" not in arrays and len(arrays) == 2 + 4 + 1 + 2 + 2


def test_every_constructor_argument_has_a_type_in_the_schema():
    for cls, fields in LAYER_CONFIGS.items():
        params = set(inspect.signature(cls).parameters) - {"rng", "name", "dtype"}
        assert set(fields) == params, cls.__name__
    assert "_Pool" not in LAYER_TYPES and "Layer" not in LAYER_TYPES


def forged(path, value=None, delete=False):
    """The description of ``every_layer_type`` with the field at ``path`` set (or deleted)."""
    arch = copy.deepcopy(architecture(every_layer_type()))
    *parents, last = path
    node = arch
    for key in parents:
        node = node[key]
    if delete:
        del node[last]
    else:
        node[last] = value
    return arch


def conf(i, key):
    return ("layers", i, "config", key)


BIG = 10**6
REFUSED = [  # (field path, value, the message must match); see every_layer_type for indices
    (("layers", 0, "type"), "Conv3D", r"layers\[0\]\.type is 'Conv3D'; expected one of 'Dense'"),
    (("layers", 3, "type"), "_Pool", r"layers\[3\]\.type is '_Pool'"),  # abstract base
    (("layers", 2, "type"), "Layer", r"layers\[2\]\.type is 'Layer'"),
    (("layers", 0, "type"), None, r"layers\[0\]\.type is None"),
    (("extra",), 1, r"^architecture has the unknown key 'extra'"),
    (("layers", 0, "weights"), [], r"layers\[0\] has the unknown key 'weights'"),
    (conf(0, "colour"), "red", r"layers\[0\]\.config has the unknown key 'colour'; allowed: "
                               "in_channels, out_channels"),
    (conf(0, "rng"), 5, r"layers\[0\]\.config has the unknown key 'rng'"),
    (conf(1, "num_features"), 4.0, r"layers\[1\]\.config\.num_features is 4\.0; expected an "
                                   r"integer in 1\.\.16777216"),
    (conf(1, "num_features"), 1e9, r"num_features is 1000000000\.0; expected an integer"),
    (conf(0, "in_channels"), True, r"layers\[0\]\.config\.in_channels is True"),
    (conf(0, "in_channels"), "1", r"in_channels is '1'; expected an integer"),
    (conf(0, "out_channels"), MAX_DIMENSION + 1, r"out_channels is 16777217; expected an "
                                                 r"integer in 1\.\.16777216"),
    (conf(0, "kernel_size"), 0, r"layers\[0\]\.config\.kernel_size is 0"),
    (conf(4, "stride"), 0, r"layers\[4\]\.config\.stride is 0; expected an integer in 1\."),
    (conf(3, "stride"), -2, r"layers\[3\]\.config\.stride is -2; .* or null"),
    (conf(0, "padding"), -1, r"layers\[0\]\.config\.padding is -1; expected an integer in "
                             r"0\.\.16777216"),
    (conf(4, "bias"), 0, r"layers\[4\]\.config\.bias is 0; expected true or false"),
    (conf(5, "bias"), "yes", r"layers\[5\]\.config\.bias is 'yes'"),
    (conf(1, "eps"), 0, r"layers\[1\]\.config\.eps is 0; expected a finite number in \(0, inf\)"),
    (conf(1, "eps"), math.nan, r"eps is nan"),
    (conf(1, "eps"), -math.inf, r"eps is -inf"),
    (conf(1, "momentum"), 1.5, r"momentum is 1\.5; expected a finite number in \[0, 1\]"),
    (conf(7, "p"), 1.0, r"layers\[7\]\.config\.p is 1\.0; expected a finite number in \[0, 1\)"),
    (conf(7, "p"), -0.1, r"\.p is -0\.1"),
    (conf(7, "seed"), -1, r"layers\[7\]\.config\.seed is -1"),
    (conf(7, "seed"), 3.0, r"seed is 3\.0"),
    (conf(0, "kernel_size"), None, r"kernel_size is None; expected an integer"),
    (conf(0, "name"), "a\nb", r"layers\[0\]\.config\.name is 'a\\nb'; expected a printable"),
    (conf(0, "name"), "a/b", r"name is 'a/b'; .* without '/'"),
    (conf(0, "name"), "", r"name is ''"),
    (conf(0, "name"), "x" * 101, r"name is 'xxx.*; expected a printable string of 1\.\.100"),
    (conf(0, "name"), 5, r"name is 5"),
    (conf(2, "name"), "conv1", r"layers\[2\]\.config\.name is 'conv1', already the name of "
                               r"layers\[0\]"),
    (("name",), "", r"^architecture\.name is ''"),
    (("name",), ["lenet"], r"^architecture\.name is \['lenet'\]"),
    (("input_shape",), [1, 8, 8, 1], r"^architecture\.input_shape has 4 items; expected a list "
                                     "of 1..3 items each an integer in 1..16777216"),
    (("input_shape",), [], r"input_shape has 0 items"),
    (("input_shape",), [1, 8.0, 8], r"input_shape\[1\] is 8\.0"),
    (("input_shape",), [1, 0, 8], r"input_shape\[1\] is 0"),
    (("input_shape",), [2, 8, 8], r"layers\[0\] does not fit its input: conv1: expected 3-D "
                                  r"input with 1 channels per example, got shape \(2, 8, 8\)"),
    (("input_shape",), [64], r"layers\[0\] does not fit its input: conv1: expected 3-D"),
    (("input_shape",), [1, 8192, 8193], r"input_shape \(1, 8192, 8193\) holds 67,117,056 "
                                          r"values per example, over the limit of 67,108,864"),
    (conf(1, "num_features"), 5, r"layers\[1\] does not fit its input: bn1: expected 3-D "
                                 "input with 5 channels"),
    (conf(10, "in_features"), 7, r"layers\[10\] does not fit its input: fc1: expects \(7,\)"),
    (conf(0, "padding"), 3000, r"layers\[0\] \(input \(1, 8, 8\), output \(4, 6006, 6006\)\) "
                               r"holds 505,"),
    (conf(0, "kernel_size"), 99, r"layers\[0\] does not fit its input: a 99x99 window"),
    (("layers",), {}, r"^architecture\.layers is \{\}; expected a list of 0\.\.1024 items"),
    (("layers", 1), 5, r"layers\[1\] is 5; expected an object"),
    (("layers", 1, "config"), [], r"layers\[1\]\.config is \[\]; expected an object"),
]


@pytest.mark.parametrize("path,value,message", REFUSED)
def test_every_forged_field_is_refused_by_name(path, value, message):
    arch = json.loads(json.dumps(forged(path, value)))  # what a file can hold (NaN included)
    with pytest.raises(CheckpointError, match=message) as info:
        build_from_architecture(arch)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


@pytest.mark.parametrize("path", [("input_shape",), ("layers",), ("name",), ("layers", 0, "type"),
                                  ("layers", 0, "config"), conf(0, "in_channels"),
                                  conf(0, "kernel_size"), conf(0, "name")])
def test_a_missing_required_field_is_named(path):
    *parent, key = path
    where = "architecture" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in parent)
    with pytest.raises(CheckpointError, match="^" + re.escape(f"{where} lacks the key '{key}'")):
        build_from_architecture(forged(path, delete=True))


@pytest.mark.parametrize("dtype", [">f4", "<f4", "int32", "S128", "object", "bool", "complex64",
                                   "float64", "float16", 5, None])
def test_a_layer_dtype_other_than_float32_is_refused(dtype):
    with pytest.raises(CheckpointError, match=r"layers\[0\]\.config\.dtype is .*; expected one of "
                                              "'float32'"):
        build_from_architecture(forged(conf(0, "dtype"), dtype))


def test_optional_fields_take_the_constructors_defaults():
    arch = forged(conf(0, "dtype"), "float32")
    del arch["layers"][0]["config"]["stride"], arch["layers"][7]["config"]["seed"]
    arch["layers"][3]["config"]["stride"] = None  # pooling: the stride defaults to the kernel
    model = build_from_architecture(arch)
    assert model.layer("conv1").stride == 1 and model.layer("pool1").stride == 2
    assert model.layer("conv1").params["W"].dtype == np.float32


@pytest.mark.parametrize("error", [CheckpointError, FormatError])
def test_refusals_raise_the_readers_own_error_from_where(error):
    with pytest.raises(error, match=r"^x\.tcz: arch\.layers\[0\]\.config\.stride is 0"):
        build_from_architecture(forged(conf(0, "stride"), 0), error, where="x.tcz: arch")


def test_too_many_layers():
    arch = {"name": "deep", "input_shape": [4],
            "layers": [{"type": "ReLU", "config": {"name": f"r{i}"}}
                       for i in range(MAX_LAYERS + 1)]}
    with pytest.raises(CheckpointError, match=r"layers has 1,025 items; expected a list of 0\.\."):
        build_from_architecture(arch)
    arch["layers"].pop()
    assert len(build_from_architecture(arch).layers) == MAX_LAYERS


def dense(n_in, n_out):
    return {"name": "wide", "input_shape": [n_in],
            "layers": [{"type": "Dense", "config": {"in_features": n_in, "out_features": n_out,
                                                    "name": "fc"}}]}


def test_a_huge_model_is_refused_from_shapes_alone_without_allocating(peak_of):
    def read():
        with pytest.raises(CheckpointError, match=r"up to layers\[0\] number 1,000,001,000,000, "
                                                  r"over the limit of 268,435,456"):
            build_from_architecture(dense(BIG, BIG))
    assert peak_of(read) < 1 << 20  # Dense(10^6, 10^6) would be 4 TB


def test_the_parameter_limit_is_opt_in_larger(peak_of):
    n = 1 << 14  # 2^28 + 2^15 + 1 values: just over the default limit, 1 GiB of float32
    with pytest.raises(CheckpointError, match="over the limit"):
        build_from_architecture(dense(n, n + 1))
    model = build_from_architecture(dense(n, n + 1), max_parameters=2 * MAX_PARAMETERS)
    assert model.num_params() == n * (n + 1) + n + 1
    assert peak_of(lambda: build_from_architecture(dense(n, n + 1),
                                                   max_parameters=2 * MAX_PARAMETERS)) < 1 << 20
    with pytest.raises(CheckpointError, match="over the limit of 10 values"):
        build_from_architecture(dense(3, 3), max_parameters=10)


def test_the_activation_limit_counts_one_example_with_its_scratch():
    side = int(math.isqrt(MAX_ACTIVATION))
    arch = {"name": "m", "input_shape": [1, side, side], "layers": []}
    assert build_from_architecture(arch).input_shape == (1, side, side)
    arch["input_shape"] = [1, side, side + 1]
    with pytest.raises(CheckpointError, match="over the limit of 67,108,864"):
        build_from_architecture(arch)
    # a 5x5 convolution of a 2048x2048 image: 4 M values out, but a patch matrix of 105 M
    arch["input_shape"] = [1, 2048, 2048]
    arch["layers"] = [{"type": "Conv2D", "config": {"in_channels": 1, "out_channels": 1,
                                                    "kernel_size": 5, "padding": 2, "name": "c"}}]
    with pytest.raises(CheckpointError, match=r"layers\[0\] \(input \(1, 2048, 2048\), output "
                                              r"\(1, 2048, 2048\)\) holds 117,"):
        build_from_architecture(arch)
    arch["layers"][0]["config"].update(kernel_size=1, padding=0)  # in, out, copy, patches
    assert build_from_architecture(arch).working_values() == 4 * 2048 * 2048


@pytest.mark.parametrize("arch", [
    {"name": "n" * BIG, "input_shape": [1], "layers": []},  # a megabyte name
    {"name": "m", "input_shape": [1], "layers": [], "k" * BIG: 1},  # a megabyte key
    {"name": "m", "input_shape": [1], "layers": [{"type": "ReLU", "config": {"name": "r"}}] * BIG},
    {"name": "m", "input_shape": [10**5000], "layers": []},  # an int too long to print
    [[[[[[[[[[[["deep"]]]]]]]]]]]],
])
def test_messages_stay_one_short_line_whatever_the_input(arch):
    with pytest.raises(CheckpointError) as info:
        build_from_architecture(arch)
    message = str(info.value)
    assert len(message) < 400 and message.isprintable()


def test_clashing_long_names_give_a_short_message():
    """The old message listed every name: 7,986,465 bytes for a forged file."""
    layers = [{"type": "ReLU", "config": {"name": f"r{i % 500}"}} for i in range(MAX_LAYERS)]
    with pytest.raises(CheckpointError, match=r"layers\[500\]\.config\.name is 'r0', already "
                                              r"the name of layers\[0\]") as info:
        build_from_architecture({"name": "m", "input_shape": [3], "layers": layers})
    assert len(str(info.value)) < 200
