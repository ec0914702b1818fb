"""Where the experiments keep their results, and the three splits every one of them reads.

**Files.** One JSON file each, ``data/results/<name>.json``. The long runs behind the chapters'
figures (:mod:`~tinycompress.experiments.mobilenet_grid`,
:mod:`~tinycompress.experiments.pruning_results`, :mod:`~tinycompress.experiments.quant_study`)
write there, named after their module, and the notebooks read the same files. The folder is
found through :func:`tinycompress.nn.data.data_dir` (``$TINYCOMPRESS_DATA`` if set), never the
current directory, so a run and a notebook agree wherever they are started.

**Splits.** An experiment trains on ``"train"``, makes every choice (a learning rate, a
sparsity, a number of filters) on ``"validation"``, and reads ``"test"`` only for the figures
of the settings it chose (:func:`tinycompress.nn.data.load_splits`). Each results file
records the validation split it used, ``{"n", "seed"}``
(:meth:`~tinycompress.nn.data.Holdout.to_json`), beside the validation figures of its choices
and the test figures of what it chose.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..files import atomic_write
from ..nn.data import data_dir


def results_path(name: str) -> Path:
    """The results file of experiment ``name``: ``data_dir() / "results" / f"{name}.json"``."""
    return data_dir() / "results" / f"{name}.json"


def write_results(path: str | Path, doc: Any, sort_keys: bool = False) -> None:
    """Write ``doc`` as indented JSON, atomically (an interrupted run leaves the old file)."""
    text = json.dumps(doc, indent=1, sort_keys=sort_keys).encode("utf-8")
    atomic_write(path, lambda f: f.write(text))
