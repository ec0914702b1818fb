"""The model zoo: architectures by name, and the trained checkpoints the project ships.

- ``lenet-300-100``: 784-300-100-10 with ReLU (LeCun et al. 1998; the Deep Compression
  baseline): 266,610 parameters.
- ``lenet5``: the Caffe variant used by Deep Compression: conv 20@5x5, max-pool 2,
  conv 50@5x5, max-pool 2, fc 500, ReLU, fc 10 (no ReLU after the convolutions): 431,080
  parameters.
- ``mobilenet-v1``: MobileNetV1 (Howard et al. 2017) with ``alpha``, ``resolution``,
  ``num_classes``, ``in_channels``, ``full_conv`` (see :mod:`tinycompress.mobilenet`).
- ``mobilenet-mnist``: a five-block MobileNet for 28x28 digits, same options.
- ``vgg16``: VGG-16 (Simonyan & Zisserman 2015, configuration D), the largest network Deep
  Compression compresses: 138,357,544 parameters, 15,470,264,320 MultAdds at 224x224. Built
  here for counting (``shape_only=True``), never trained (see chapter 6).

A zoo name given to a command means its shipped checkpoint (``data/checkpoints/<name>.npz``).
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
