"""Where the experiments keep their results, and the three splits every one of them reads.

**Files.** One JSON file each, ``data/results/<name>.json``. The long runs behind the chapters'
figures (:mod:`~tinycompress.experiments.mobilenet_grid`,
:mod:`~tinycompress.experiments.pruning_results`, :mod:`~tinycompress.experiments.quant_study`)
write there, named after their module, and the notebooks read the same files. The folder is
found through :func:`tinycompress.nn.data.data_dir` (``$TINYCOMPRESS_DATA`` if set), never the
current directory, so a run and a notebook agree wherever they are started.

**Splits.** An experiment trains on ``"train"``, makes every choice (a learning rate, a
sparsity, a number of filters) on ``"validation"``, and reads ``"test"`` only for the figures
of the settings it chose (:func:`load_splits`). Each results file records the validation split
it used, ``{"n", "seed"}`` (:meth:`~tinycompress.nn.data.Holdout.to_json`), beside the
validation figures of its choices and the test figures of what it chose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..files import atomic_write
from ..nn.data import VALIDATION, Normalization, data_dir, load_arrays


def results_path(name: str) -> Path:
    """The results file of experiment ``name``: ``data_dir() / "results" / f"{name}.json"``."""
    return data_dir() / "results" / f"{name}.json"


def write_results(path: str | Path, doc: Any, sort_keys: bool = False) -> None:
    """Write ``doc`` as indented JSON, atomically (an interrupted run leaves the old file)."""
    text = json.dumps(doc, indent=1, sort_keys=sort_keys).encode("utf-8")
    atomic_write(path, lambda f: f.write(text))


@dataclass(frozen=True)
class Splits:
    """A dataset's three splits, normalised: train on ``X, y``, choose on ``X_val, y_val``,
    report on ``X_test, y_test``. ``validation`` is the record of the held-out split,
    ``{"n", "seed"}``, that every results file carries."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    validation: dict[str, int]


def load_splits(norm: Normalization, folder: str | Path | None = None) -> Splits:
    """The ``"train"``, ``"validation"`` and ``"test"`` arrays of ``folder`` (default: the
    shipped MNIST), normalised by ``norm``, with the validation split's record.

    Parameters
    ----------
    norm : the input normalisation of the model the splits are fed to.
    folder : a dataset in MNIST's IDX layout.

    Returns
    -------
    The :class:`Splits`; ``validation`` is
    ``VALIDATION.to_json(total)``, ``total`` the number of images in the training file.
    """
    X, y = load_arrays("train", folder, norm)
    X_val, y_val = load_arrays("validation", folder, norm)
    X_test, y_test = load_arrays("test", folder, norm)
    return Splits(X, y, X_val, y_val, X_test, y_test, VALIDATION.to_json(len(y) + len(y_val)))
