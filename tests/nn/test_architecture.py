"""A model as JSON and back: every layer type rebuilt, malformed descriptions refused."""

import copy
import json

import numpy as np
import pytest

from tinycompress.errors import CheckpointError, FormatError
from tinycompress.nn.architecture import (
    LAYER_TYPES,
    MAX_DIMENSION,
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


def _unknown_type(arch):
    arch["layers"][0]["type"] = "Conv3D"


def _missing_key(arch):
    del arch["input_shape"]


def _bad_config(arch):
    arch["layers"][0]["config"]["colour"] = "red"


def _absurd_dimension(arch):
    arch["layers"][0]["config"]["out_channels"] = MAX_DIMENSION + 1


def _layers_that_do_not_fit(arch):
    arch["input_shape"] = [2, 8, 8]


@pytest.mark.parametrize("mutate,message", [
    (_unknown_type, "unknown layer type 'Conv3D'"),
    (_missing_key, "invalid architecture description: KeyError"),
    (_bad_config, "invalid architecture description: TypeError"),
    (_absurd_dimension, f"a dimension of {MAX_DIMENSION + 1}"),
    (_layers_that_do_not_fit, "invalid architecture description: ShapeError"),
])
@pytest.mark.parametrize("error", [CheckpointError, FormatError])
def test_malformed_descriptions_raise_the_readers_own_error(mutate, message, error):
    arch = copy.deepcopy(architecture(every_layer_type()))
    mutate(arch)
    with pytest.raises(error, match=message):
        build_from_architecture(arch, error)
