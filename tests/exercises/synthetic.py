"""A small source file with two solution regions, and the tasks it belongs to."""

from __future__ import annotations

from typing import Any

from tinycompress.exercises.tasks import Task

SYNTHETIC = [
    Task("add-one", "01_convolutions", "adding one", {"add_one": ("one more than x",)}),
    Task("double", "03_pruning", "x2", {"K.double": ("twice x, made positive",)}),
]

SOURCE = '''\
def add_one(x):
    """Docstring stays."""
    if x is None:
        raise ValueError("x")
    # BEGIN SOLUTION add-one
    y = x + 1
    # END SOLUTION
    return y


class K:
    def double(self, x):
        for _ in range(1):
            # BEGIN SOLUTION double
            y = 2 * x
            if y < 0:
                y = -y
            # END SOLUTION
        return y
'''


def load(text: str) -> dict[str, Any]:
    """The namespace of running ``text`` as a module."""
    namespace: dict[str, Any] = {}
    exec(compile(text, "<synthetic>", "exec"), namespace)
    return namespace
