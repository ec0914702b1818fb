"""VGG-16 (Simonyan & Zisserman 2015), the largest network Deep Compression compresses.

Configuration D: 13 3x3 convolutions in five blocks, then three fully-connected layers;
138,357,544 parameters (weights and biases) and 15,470,264,320 MultAdds at 224x224 (the
convention of :mod:`tinycompress.nn.base`). Built here for counting (``shape_only=True``,
weightless placeholders), never trained (see chapter 6).
"""

from __future__ import annotations

import numpy as np

from ..nn.base import SHAPE_ONLY, Layer, Shape, ShapeOnly
from ..nn.conv import Conv2D
from ..nn.dense import Dense, Flatten
from ..nn.elementwise import Dropout, ReLU
from ..nn.model import Sequential
from ..nn.pooling import MaxPool2D

VGG16_BLOCKS: tuple[tuple[int, int], ...] = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
"""VGG-16's five blocks: (channels, number of 3x3 convolutions), each followed by max-pool 2."""


def vgg16(num_classes: int = 1000, input_shape: Shape = (3, 224, 224), seed: int = 0,
          shape_only: bool = False) -> Sequential:
    """VGG-16: 13 convolutions 3x3 (padding 1, ReLU) in five blocks with max-pooling, then
    fc6 4096, fc7 4096 (ReLU, dropout 0.5) and fc8 ``num_classes``.

    Layer names follow Caffe (``conv1_1 .. conv5_3, fc6, fc7, fc8``), as in Deep Compression's
    Table 5. ``shape_only=True`` builds weightless placeholders
    (:class:`~tinycompress.nn.base.ShapeOnly`): the 138 M weights (553 MB as float32) are then
    counted without being allocated.
    """
    rng: np.random.Generator | ShapeOnly = (
        SHAPE_ONLY if shape_only else np.random.default_rng(seed)
    )
    layers: list[Layer] = []
    channels = input_shape[0]
    for block, (width, convs) in enumerate(VGG16_BLOCKS, start=1):
        for k in range(1, convs + 1):
            layers += [Conv2D(channels, width, 3, 1, 1, name=f"conv{block}_{k}", rng=rng),
                       ReLU(name=f"relu{block}_{k}")]
            channels = width
        layers.append(MaxPool2D(2, name=f"pool{block}"))
    layers.append(Flatten(name="flatten"))
    (flat,) = Sequential(layers, input_shape).shapes()[-1]
    for name, d_in, d_out in (("6", flat, 4096), ("7", 4096, 4096)):
        layers += [Dense(d_in, d_out, name=f"fc{name}", rng=rng), ReLU(name=f"relu{name}"),
                   Dropout(0.5, seed=seed, name=f"drop{name}")]
    layers.append(Dense(4096, num_classes, name="fc8", rng=rng))
    return Sequential(layers, input_shape, "vgg16")
