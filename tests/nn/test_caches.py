"""Evaluation keeps no backward caches: only ``forward(train=True)`` stores what backward needs.

A forged file of 578,386 ReLU layers once grew past 6.4 GB in ``evaluate``: every layer kept its
mask although nothing would ever backpropagate through it.
"""

import numpy as np
import pytest

from tinycompress.nn.architecture import LAYER_TYPES, MAX_LAYERS
from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.depthwise import DepthwiseConv2D, PointwiseConv2D
from tinycompress.nn.elementwise import Dropout, ReLU
from tinycompress.nn.model import Sequential
from tinycompress.nn.pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D

LAYERS = {  # every layer type, with an input batch it takes
    "Dense": (lambda: Dense(6, 3), (2, 6)),
    "Flatten": (Flatten, (2, 3, 4, 4)),
    "Conv2D": (lambda: Conv2D(3, 2, 3, padding=1), (2, 3, 5, 5)),
    "DepthwiseConv2D": (lambda: DepthwiseConv2D(3, 3, 2, 1), (2, 3, 5, 5)),
    "PointwiseConv2D": (lambda: PointwiseConv2D(3, 4), (2, 3, 5, 5)),
    "MaxPool2D": (lambda: MaxPool2D(2), (2, 3, 4, 4)),
    "AvgPool2D": (lambda: AvgPool2D(2, 1), (2, 3, 4, 4)),
    "GlobalAvgPool2D": (GlobalAvgPool2D, (2, 3, 4, 4)),
    "BatchNorm2D": (lambda: BatchNorm2D(3), (2, 3, 4, 4)),
    "ReLU": (ReLU, (2, 3, 4, 4)),
    "Dropout": (lambda: Dropout(0.5, seed=1), (2, 3, 4, 4)),
}


def test_every_layer_type_is_covered():
    assert set(LAYERS) == set(LAYER_TYPES)


BACKWARD_TASKS = {"AvgPool2D": pytest.mark.task_avgpool_backward,
                  "BatchNorm2D": pytest.mark.task_batchnorm_backward}  # their backward is a task


@pytest.mark.parametrize("name", [pytest.param(n, marks=BACKWARD_TASKS.get(n, ()))
                                  for n in sorted(LAYERS)])
def test_evaluation_keeps_no_cache_and_training_still_backpropagates(name):
    make, shape = LAYERS[name]
    layer = make()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    layer.forward(x)
    assert layer._cache is None
    out = layer.forward(x, train=True)
    assert layer._cache is not None
    dx = layer.backward(np.ones_like(out))
    assert dx.shape == x.shape
    layer.forward(x, train=False)  # an evaluation drops the training cache too
    assert layer._cache is None


def test_a_deep_model_evaluates_in_constant_memory(peak_of):
    """1,024 ReLUs over a 400 KB batch: a mask kept per layer would hold 100 MB."""
    model = Sequential([ReLU() for _ in range(MAX_LAYERS)], (1000,))
    x = np.random.default_rng(0).standard_normal((100, 1000)).astype(np.float32)
    assert peak_of(lambda: model.predict(x)) < 4 * x.nbytes
    assert all(layer._cache is None for layer in model.layers)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_working_values_bound_what_an_evaluation_allocates(name, peak_of):
    """The estimate evaluation sizes its batches by (input, output and scratch) holds within
    a factor of 1.5 for every layer type, on a batch large enough to hide fixed overheads."""
    make, shape = LAYERS[name]
    layer = make()
    x = np.random.default_rng(0).standard_normal((512, *shape[1:])).astype(np.float32)
    bound = 1.5 * 4 * len(x) * layer.working_values(shape[1:]) - x.nbytes
    assert peak_of(lambda: layer.forward(x)) <= bound + 65536
