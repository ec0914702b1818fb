"""The command line's test workspace: every kind of file a command reads or might overwrite."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from tinycompress import zoo
from tinycompress.coding import tcz
from tinycompress.nn.architecture import architecture, state_arrays
from tinycompress.nn.checkpoint import FORMAT, VERSION, save_model
from tinycompress.nn.data import data_dir
from tinycompress.nn.model import Sequential

COMMANDS = ("summary", "evaluate", "train", "prune", "quantize", "encode", "decode", "inspect",
            "deep-compress", "exercises")


def written_by_hand(model: Sequential, path: Path, dtype: str) -> Path:
    """A checkpoint of ``model`` whose arrays are stored as ``dtype`` (not by ``save_model``,
    which stores float32)."""
    doc = {"format": FORMAT, "version": VERSION, "model": architecture(model), "meta": {}}
    np.savez(path, __meta__=np.frombuffer(json.dumps(doc).encode(), np.uint8),
             **{k: v.astype(dtype) for k, v in state_arrays(model).items()})
    return path


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_dataset, tiny_net) -> dict[str, str]:
    """A workspace's paths by name: ``data`` (a 28x28 dataset), ``npz`` and ``tcz`` (a small
    model, modes 0640 and 0600), ``link`` (a link to ``npz``), ``fifo``, ``f64``, ``f16`` and
    ``big`` (checkpoints of float64, float16 and big-endian float32 arrays), ``stage`` (a
    checkpoint where a pipeline run on ``m.tcz`` keeps its first stage), ``cfg`` (the stem of
    ``c.report.json``), ``new`` (no file yet), ``shipped`` (a copy of ``lenet-300-100``'s
    checkpoint, which the zoo name means here)."""
    shipped = tmp_path / "zoo" / zoo.PRETRAINED["lenet-300-100"]
    shipped.parent.mkdir(parents=True)
    shutil.copy(zoo.pretrained_path("lenet-300-100"), shipped)
    monkeypatch.setenv("TINYCOMPRESS_DATA", str(tmp_path / "zoo"))
    assert zoo.pretrained_path("lenet-300-100") == shipped and data_dir() == tmp_path / "zoo"
    paths = {"ws": tmp_path, "shipped": shipped, "new": tmp_path / "new.npz",
             "data": make_dataset(tmp_path / "data", n_train=16, n_test=8, size=(28, 28)),
             "npz": save_model(tiny_net(), tmp_path / "m.npz"),
             "tcz": tcz.save(tiny_net(), tmp_path / "m.tcz"), "link": tmp_path / "link.npz",
             "fifo": tmp_path / "pipe", "cfg": tmp_path / "c",
             "stage": save_model(tiny_net(), tmp_path / "m.stages" / "1-prune.npz"),
             **{name: written_by_hand(tiny_net(), tmp_path / f"{name}.npz", dtype)
                for name, dtype in (("f64", "<f8"), ("f16", "<f2"), ("big", ">f4"))}}
    paths["link"].symlink_to(paths["npz"])
    os.mkfifo(paths["fifo"])
    (tmp_path / "c.report.json").write_text("{}")
    paths["tcz"].chmod(0o600)
    paths["npz"].chmod(0o640)
    return {key: str(path) for key, path in paths.items()}


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes | None]]:
    """Every entry under ``root``: its kind, mode and (for a regular file) bytes."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        data = path.read_bytes() if stat.S_ISREG(st.st_mode) else None
        out[str(path.relative_to(root))] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), data)
    return out
