"""LeNet-300-100 and LeNet-5 (LeCun et al. 1998), the MNIST networks Deep Compression prunes.

- :func:`lenet_300_100`: 784-300-100-10, fully connected with ReLU (the Deep Compression
  baseline): 266,610 parameters.
- :func:`lenet5`: the Caffe variant Deep Compression uses: conv 20@5x5, max-pool 2, conv 50@5x5,
  max-pool 2, fc 500, ReLU, fc 10 (no ReLU after the convolutions): 431,080 parameters.

Both count biases among their parameters, as the paper does (the MultAdd convention of
:mod:`tinycompress.nn.base` leaves the bias additions out).
"""

from __future__ import annotations

import numpy as np

from ..nn.base import Shape
from ..nn.conv import Conv2D
from ..nn.dense import Dense, Flatten
from ..nn.elementwise import ReLU
from ..nn.model import Sequential
from ..nn.pooling import MaxPool2D


def lenet_300_100(num_classes: int = 10, input_shape: Shape = (1, 28, 28),
                  seed: int = 0) -> Sequential:
    """Two hidden fully-connected layers of 300 and 100 ReLU units."""
    rng = np.random.default_rng(seed)
    d = int(np.prod(input_shape))
    layers = [Flatten(name="flatten"),
              Dense(d, 300, name="fc1", rng=rng), ReLU(name="relu1"),
              Dense(300, 100, name="fc2", rng=rng), ReLU(name="relu2"),
              Dense(100, num_classes, name="fc3", rng=rng)]
    return Sequential(layers, input_shape, "lenet-300-100")


def lenet5(num_classes: int = 10, input_shape: Shape = (1, 28, 28), seed: int = 0) -> Sequential:
    """Caffe's LeNet-5: two 5x5 convolutions with max-pooling, then fc 500 (ReLU) and fc 10."""
    rng = np.random.default_rng(seed)
    features = [Conv2D(input_shape[0], 20, 5, name="conv1", rng=rng), MaxPool2D(2, name="pool1"),
                Conv2D(20, 50, 5, name="conv2", rng=rng), MaxPool2D(2, name="pool2"),
                Flatten(name="flatten")]
    (flat,) = Sequential(features, input_shape).shapes()[-1]
    layers = [*features,
              Dense(flat, 500, name="fc1", rng=rng), ReLU(name="relu"),
              Dense(500, num_classes, name="fc2", rng=rng)]
    return Sequential(layers, input_shape, "lenet5")
