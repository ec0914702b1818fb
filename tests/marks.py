"""Task marks shared by several tests (the tasks are ``tinycompress.exercises.tasks``)."""

from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T", bound=Callable[..., object])

WHOLE_PIPELINE = (
    pytest.mark.task_magnitude_prune,
    pytest.mark.task_lower_hull,
    pytest.mark.task_fold_dead_units,
    pytest.mark.task_centroid_grad,
    pytest.mark.task_inference_energy,
    pytest.mark.task_requantize,
)
"""The stubs a run of the whole Deep Compression pipeline reaches."""


def whole_pipeline(test: T) -> T:
    """Mark ``test``, which runs the whole pipeline, with every task in :data:`WHOLE_PIPELINE`."""
    for mark in WHOLE_PIPELINE:
        test = mark(test)
    return test
