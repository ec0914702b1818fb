"""Valid input at the edges of every range still works, and an overwrite keeps the file's mode.

The counterpart of ``test_bad_input.py``: the smallest and largest values each flag allows (and
``auto`` for the gap width) are accepted, in the workspace ``ws`` of ``conftest.py``.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest

from tinycompress.cli import main
from tinycompress.coding import tcz
from tinycompress.nn.checkpoint import load_model

EDGES = [
    ["summary", "mobilenet-v1", "--alpha", "4", "--resolution", "1", "--json"],
    ["summary", "mobilenet-mnist", "--alpha", "1e-3", "--resolution", "4096", "--json"],
    ["summary", "{npz}", "--max-params", "520", "--json"],  # exactly the tiny model's size
    ["inspect", "{tcz}", "--max-params", str(2**40), "--json"],
    ["evaluate", "lenet-300-100", "--data", "{data}", "--limit", "1", "--json"],
    ["encode", "{npz}", "--out", "{ws}/a.tcz", "--index-bits", "1", "--json"],
    ["encode", "{npz}", "--out", "{ws}/a.tcz", "--index-bits", "16", "--json"],
    ["encode", "{npz}", "--out", "{ws}/a.tcz", "--index-bits", "auto", "--json"],
    ["decode", "{tcz}", "--out", "{new}", "--json"],
    pytest.param(["prune", "lenet-300-100", "--data", "{data}", "--out", "{new}", "--per-layer",
                  "fc1=0,fc2=0.999", "--rounds", "1", "--retrain-epochs", "0", "--batch-size",
                  "1", "--limit", "1", "--seed", "0", "--shift", "16", "--lr", "10",
                  "--max-error-increase", "1", "--json"], marks=pytest.mark.task_magnitude_prune),
    pytest.param(["prune", "lenet-300-100", "--data", "{data}", "--out", "{new}", "--quality",
                  "0", "--retrain-epochs", "0", "--json"], marks=pytest.mark.task_magnitude_prune),
    ["quantize", "lenet-300-100", "--data", "{data}", "--out", "{new}", "--bits", "1",
     "--seed", "4294967295", "--json"],
    ["train", "lenet-300-100", "--data", "{data}", "--out", "{new}", "--epochs", "1",
     "--batch-size", "1024", "--limit", "1", "--shift", "0", "--momentum", "0",
     "--weight-decay", "1", "--lr", "0.01", "--json"],
]


@pytest.mark.parametrize("argv", EDGES, ids=lambda argv: "-".join(argv[:2]))
def test_the_edges_of_every_range_are_accepted(capsys, ws, argv) -> None:
    argv = [arg.format(**ws) for arg in argv]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    if "--out" in argv:
        written = Path(argv[argv.index("--out") + 1])
        model = tcz.load(written)[0] if written.suffix == ".tcz" else load_model(written)[0]
        assert model.num_params() > 0 and doc["out"] == str(written)


def test_an_overwritten_output_keeps_its_mode_and_decodes_to_the_model(capsys, ws) -> None:
    target = Path(ws["tcz"])
    old = target.read_bytes()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert main(["encode", ws["npz"], "--out", str(target)]) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_bytes() != old
    decoded, meta = tcz.load(target)
    model, _ = load_model(ws["npz"])
    assert meta["source"] == ws["npz"]
    for a, b in zip(model.layers, decoded.layers, strict=True):
        for key in a.params:
            np.testing.assert_array_equal(a.params[key], b.params[key])
    assert "wrote" in capsys.readouterr().out


def test_a_big_endian_checkpoint_is_encoded_as_the_numbers_it_holds(capsys, ws) -> None:
    out = Path(ws["ws"]) / "big.tcz"
    assert main(["encode", ws["big"], "--out", str(out)]) == 0
    decoded, _ = tcz.load(out)
    native, _ = load_model(ws["npz"])  # the same model, stored native
    for a, b in zip(native.layers, decoded.layers, strict=True):
        for key in a.params:
            assert b.params[key].dtype == np.float32
            np.testing.assert_array_equal(a.params[key], b.params[key])
