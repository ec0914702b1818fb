"""Bad input on the command line: one line on stderr, exit status 2, and nothing lost.

Every case of :data:`CASES` is a command with one thing wrong: a flag's value out of its range,
not finite or of the wrong type; a layer or recipe the model does not have; an output that is
the input itself, a folder or a special file; a ``--config`` value of the wrong type. Each must
end with exit status 2 and one line on stderr naming what is wrong, never a traceback nor the
"internal error" of a bug; and every file that existed before the command (the inputs, and an
output it was asked to replace) must have the same bytes and mode after it, with no file added.

The commands run in the workspace ``ws`` of ``conftest.py``; its paths fill the ``{...}``
placeholders of the argument lists.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tinycompress.cli import main

from .conftest import COMMANDS, snapshot

TRAIN = ["train", "lenet-300-100", "--data", "{data}", "--out", "{new}"]
PRUNE = ["prune", "lenet-300-100", "--data", "{data}", "--out", "{new}"]
QUANT = ["quantize", "lenet-300-100", "--data", "{data}", "--out", "{new}"]
DEEP = ["deep-compress", "lenet-300-100", "--data", "{data}", "--quick", "--out", "{ws}/dc.tcz"]

ARGUMENTS = [  # (argv, what the one line must say)
    (["summary", "mobilenet-v1", "--alpha", "1e6"], "--alpha: expected a finite number in (0, 4]"),
    (["summary", "mobilenet-v1", "--alpha", "nan"], "--alpha: expected"),
    (["summary", "mobilenet-v1", "--alpha", "inf"], "--alpha: expected"),
    (["summary", "mobilenet-v1", "--alpha", "0"], "--alpha: expected"),
    (["summary", "mobilenet-v1", "--resolution", "0"], "--resolution: expected an integer"),
    (["summary", "mobilenet-v1", "--resolution", "1.5"], "--resolution: expected an integer"),
    (["summary", "mobilenet-v1", "--resolution", "100000"], "--resolution: expected"),
    (["summary", "lenet5", "--alpha", "0.5"], "apply to the architectures"),
    (["summary", "vgg16", "--full-conv"], "apply to the architectures"),
    (["evaluate", "lenet-300-100", "--limit", "0"], "--limit: expected an integer in 1.."),
    (["evaluate", "lenet-300-100", "--limit", "-1"], "--limit: expected"),
    (["evaluate", "lenet-300-100", "--limit", "ten"], "got 'ten'"),
    (["evaluate", "no-such-model"], "neither a zoo name"),
    (["evaluate", "vgg16"], "without shipped weights"),
    (["evaluate", "no\nsuch\x1b[31m"], "'no\\nsuch\\x1b[31m' is neither"),
    ([*TRAIN, "--epochs", "0"], "--epochs: expected an integer in 1.."),
    ([*TRAIN, "--epochs", "-3"], "--epochs: expected"),
    ([*TRAIN, "--seed", "-1"], "--seed: expected an integer in 0.."),
    ([*TRAIN, "--seed", "1.5"], "--seed: expected"),
    ([*TRAIN, "--lr", "0"], "--lr: expected a finite number in (0, 10]"),
    ([*TRAIN, "--lr", "nan"], "--lr: expected"),
    ([*TRAIN, "--lr", "-0.1"], "--lr: expected"),
    ([*TRAIN, "--batch-size", "0"], "--batch-size: expected"),
    ([*TRAIN, "--batch-size", "1000000"], "--batch-size: expected an integer in 1..1024"),
    ([*TRAIN, "--momentum", "1"], "--momentum: expected a finite number in [0, 1)"),
    ([*TRAIN, "--weight-decay", "-1"], "--weight-decay: expected"),
    ([*TRAIN, "--shift", "-1"], "--shift: expected"),
    ([*TRAIN, "--shift", "100"], "--shift: expected an integer in 0..16"),
    ([*TRAIN, "--limit", "0"], "--limit: expected"),
    (["train", "vgg16", "--data", "{data}", "--out", "{new}"], "no training recipe for 'vgg16'"),
    ([*PRUNE, "--sparsity", "1.5"], "--sparsity: expected a finite number in [0, 1), got '1.5'"),
    ([*PRUNE, "--sparsity", "1.0"], "--sparsity: expected"),
    ([*PRUNE, "--sparsity", "-1"], "--sparsity: expected"),
    ([*PRUNE, "--sparsity", "nan"], "--sparsity: expected"),
    ([*PRUNE, "--quality", "nan"], "--quality: expected a finite number in [0, 10], got 'nan'"),
    ([*PRUNE, "--quality", "inf"], "--quality: expected"),
    ([*PRUNE, "--quality", "-1"], "--quality: expected"),
    pytest.param([*PRUNE, "--quality", "9"], "would remove every weight of",
                 marks=pytest.mark.task_magnitude_prune),  # the trial prune runs
    ([*PRUNE, "--per-layer", "nosuchlayer=0.5"], "name ['nosuchlayer'], not among the weight"),
    ([*PRUNE, "--per-layer", "relu1=0.5"], "name ['relu1'], not among the weight layers"),
    ([*PRUNE, "--per-layer", "fc1"], "cannot read 'fc1': expected NAME=SPARSITY pairs"),
    ([*PRUNE, "--per-layer", "fc1:0.9"], "expected NAME=SPARSITY pairs"),
    ([*PRUNE, "--per-layer", "fc1=2"], "'fc1': expected a finite number in [0, 1)"),
    ([*PRUNE, "--per-layer", "fc1=0.5,fc1=0.6"], "'fc1' is named twice"),
    ([*PRUNE, "--per-layer", ","], "at least one NAME=SPARSITY pair"),
    ([*PRUNE, "--per-layer", "f\nc1=0.5"], "name ['f\\nc1']"),
    ([*PRUNE, "--recipe", "no-such-recipe"], "invalid choice: 'no-such-recipe' (choose from 'len"),
    ([*PRUNE, "--recipe", "lenet5"], "name ['conv1', 'conv2'], not among the weight layers"),
    ([*PRUNE, "--sparsity", "0.5", "--rounds", "0"], "--rounds: expected an integer in 1..100"),
    ([*PRUNE, "--sparsity", "0.5", "--rounds", "-2"], "--rounds: expected"),
    ([*PRUNE, "--sparsity", "0.5", "--retrain-epochs", "-1"], "--retrain-epochs: expected"),
    ([*PRUNE, "--sparsity", "0.5", "--max-error-increase", "2"], "--max-error-increase: expect"),
    ([*PRUNE, "--sparsity", "0.5", "--sparsity", "0.2", "--quality", "1"], "not allowed with"),
    ([*QUANT, "--bits", "0"], "--bits: expected bits as B or KEY=B"),
    ([*QUANT, "--bits", "17"], "--bits: expected"),
    ([*QUANT, "--bits", "fc=x"], "--bits: expected"),
    ([*QUANT, "--bits", "fc9=3"], "bits given for ['fc9']"),
    ([*QUANT, "--bits", "3", "--finetune-epochs", "-1"], "--finetune-epochs: expected"),
    ([*QUANT, "--bits", "3", "--lr", "0"], "--lr: expected"),
    ([*QUANT, "--bits", "3", "--init", "nosuch"], "--init: invalid choice: 'nosuch'"),
    (["encode", "{npz}", "--out", "{new}", "--index-bits", "0"], "--index-bits: expected an int"),
    (["encode", "{npz}", "--out", "{new}", "--index-bits", "17"], "in 1..16 or auto, got '17'"),
    (["encode", "{npz}", "--out", "{new}", "--index-bits", "-3"], "--index-bits: expected"),
    (["encode", "{npz}", "--out", "{new}", "--index-bits", "x"], "--index-bits: expected"),
    ([*DEEP, "--seed", "-1"], "--seed: expected"),
    (["evaluate", "lenet-300-100", "--max-params", "0"], "--max-params: expected an integer"),
    (["evaluate", "lenet-300-100", "--max-params", "1000"], "over the limit of 1,000 values"),
    (["summary", "{npz}", "--max-params", "10"], "over the limit of 10 values"),
    (["decode", "{tcz}", "--out", "{new}", "--max-params", "10"], "m.tcz: manifest."),
    (["inspect", "{tcz}", "--max-params", "10"], "m.tcz: manifest."),
    (["encode", "{tcz}", "--out", "{new}", "--max-params", "10"], "m.tcz: manifest."),
    ([*DEEP, "--max-params", "10"], "over the limit of 10 values"),
    (["deep-compress"], "the following arguments are required: MODEL_OR_PATH"),
    (["no-such-command"], "invalid choice: 'no-such-command'"),
    (["inspect", "{npz}"], "not a .tcz file"),
]

OUTPUTS = [  # writing these would destroy a file or a special file
    (["encode", "{npz}", "--out", "{npz}"], "an input of this command"),
    (["encode", "{npz}", "--out", "{link}"], "an input of this command"),
    (["decode", "{tcz}", "--out", "{tcz}"], "an input of this command"),
    (["encode", "{tcz}", "--out", "{tcz}"], "an input of this command"),
    (["encode", "{npz}", "--out", "{fifo}"], "it is a FIFO, not a regular file"),
    (["encode", "{npz}", "--out", "/dev/null"], "it is a character device"),
    (["decode", "{tcz}", "--out", "{ws}"], "it is a folder"),
    ([*PRUNE[:-1], "{shipped}", "--sparsity", "0.5"], "an input of this command"),
    ([*TRAIN[:-1], "{data}/train-images-idx3-ubyte.gz"], "an input of this command"),
    (["deep-compress", "{stage}", "--data", "{data}", "--out", "{ws}/m.tcz"], "an input of"),
    ([*DEEP[:-1], "{fifo}"], "it is a FIFO"),
    ([*DEEP[:-1], "{cfg}.tcz", "--config", "{cfg}.report.json"], "an input of this command"),
    (["encode", "{f64}", "--out", "{tcz}"], "'<f8'; expected float32"),  # the good .tcz stays
    (["encode", "{f16}", "--out", "{tcz}"], "'<f2'; expected float32"),
]

CONFIGS = [  # --config FILE holding these: every value of the wrong type or range
    ({"seed": "abc"}, "settings.seed is 'abc'; expected an integer in 0.."),
    ({"seed": -1}, "settings.seed is -1"),
    ({"seed": 1.0}, "settings.seed is 1.0"),
    ({"seed": True}, "settings.seed is True"),
    ({"bits": [5]}, "settings.bits is [5]; expected auto, or bits as B or KEY=B"),
    ({"bits": "fc=99"}, "settings.bits is 'fc=99'"),
    ({"bits": 5}, "settings.bits is 5"),
    ({"prune_recipes": ["nosuch"]}, "settings.prune_recipes[0] is 'nosuch'; expected one of"),
    ({"prune_recipes": "lenet5"}, "settings.prune_recipes is 'lenet5'; expected a list"),
    ({"quick": "no"}, "settings.quick is 'no'; expected true or false"),
    ({"quick": 1}, "settings.quick is 1"),
    ({"index_bits": 0}, "settings.index_bits is 0; expected an integer in 1..16 or null"),
    ({"max_error_increase": -0.1}, "settings.max_error_increase is -0.1"),
    ({"max_error_increase": 101}, "settings.max_error_increase is 101"),
    ({"step": 1.0}, "settings.step is 1.0"),
    ({"bits": "automatic"}, "settings.bits is 'automatic'; expected auto, or bits"),
    ({"finetune_lr": float("nan")}, "settings.finetune_lr is nan"),
    ({"finetune_epochs": -1}, "settings.finetune_epochs is -1"),
    ({"max_rounds": 0}, "settings.max_rounds is 0"),
    ({"init": "nosuch"}, "settings.init is 'nosuch'; expected one of 'linear'"),
    ({"bitz": 3}, "unknown key 'bitz'"),
    ([], "settings is []; expected an object"),
    ('{"seed": 1, "seed": 2}', "the key 'seed' appears twice"),
    ("bits = 4", "not readable JSON"),
]


def run_refused(capsys: pytest.CaptureFixture[str], ws: dict[str, str], argv: list[str],
                message: str) -> None:
    """Run ``argv`` and check the refusal: status 2, one line naming it, nothing changed."""
    argv = [arg.format(**ws) for arg in argv]
    before, devnull = snapshot(Path(ws["ws"])), os.stat(os.devnull)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    command = f" {argv[0]}" if argv[0] in COMMANDS else ""
    assert err.startswith(f"tinycompress{command}: error: "), err
    assert message in err, err
    assert "Traceback" not in err and "internal error" not in err
    assert snapshot(Path(ws["ws"])) == before
    assert os.stat(os.devnull).st_mode == devnull.st_mode


@pytest.mark.parametrize(("argv", "message"), ARGUMENTS + OUTPUTS)
def test_bad_arguments_and_outputs_are_refused_in_one_line(capsys, ws, argv, message) -> None:
    run_refused(capsys, ws, argv, message)


@pytest.mark.parametrize(("doc", "message"), CONFIGS)
def test_bad_config_values_are_refused_in_one_line(capsys, ws, doc, message) -> None:
    cfg = Path(ws["ws"]) / "c.json"
    cfg.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    run_refused(capsys, ws, [*DEEP, "--config", str(cfg)], message)


def test_a_long_message_is_cut_to_one_short_line(capsys, ws) -> None:
    name = "x" * 100_000
    run_refused(capsys, ws, [*PRUNE, "--per-layer", f"{name}=0.5"], "name ['xxxx")
    assert main(["evaluate", "y" * 100_000]) == 2
    assert len(capsys.readouterr().err) < 500
