"""The command line: JSON output, zoo names and paths, one-line errors with exit status 2."""

import json
import re
import subprocess
import sys

import pytest

from tinycompress import cli, pipeline, zoo
from tinycompress.cli import build_parser, main
from tinycompress.errors import UsageError
from tinycompress.nn.checkpoint import save_model
from tinycompress.quantization import trained


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_summary_json(capsys):
    code, out, _ = run(capsys, "summary", "lenet5", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["params"] == 431_080 and doc["bytes"] == 4 * 431_080
    assert doc["multadds"] == 2_293_000
    assert [row["name"] for row in doc["layers"]][:2] == ["conv1", "pool1"]


def test_summary_table_on_checkpoint(capsys, tmp_path):
    path = save_model(zoo.build("lenet-300-100"), tmp_path / "m.npz")
    code, out, _ = run(capsys, "summary", str(path))
    assert code == 0 and "266,610" in out and "fc1" in out


def test_evaluate_json_on_zoo_name(capsys):
    code, out, _ = run(capsys, "evaluate", "lenet-300-100", "--limit", "500", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["n"] == 500 and doc["accuracy"] > 0.95
    assert doc["error"] == 1 - doc["accuracy"]


def test_train_on_other_dataset(capsys, tmp_path, make_dataset):
    folder = make_dataset(tmp_path / "d", n_train=40, n_test=10, size=(28, 28), classes=4)
    out_path = tmp_path / "m.npz"
    code, out, _ = run(capsys, "train", "lenet-300-100", "--data", str(folder), "--epochs", "1",
                       "--out", str(out_path), "--json")
    doc = json.loads(out)
    assert code == 0 and out_path.is_file() and doc["test"]["n"] == 10
    code, out, _ = run(capsys, "summary", str(out_path), "--json")
    assert json.loads(out)["layers"][-1]["output_shape"] == [4]


def test_bad_file_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    proc = subprocess.run([sys.executable, "-m", "tinycompress.cli", "evaluate", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "corrupt" in proc.stderr


def test_unknown_model(capsys):
    code, _, err = run(capsys, "evaluate", "no-such-model")
    assert code == 2 and "zoo name" in err


def test_untrained_architecture_is_not_evaluated(capsys):
    code, _, err = run(capsys, "evaluate", "vgg16")
    assert code == 2 and "without shipped weights" in err
    code, out, _ = run(capsys, "summary", "vgg16", "--json")
    assert code == 0 and json.loads(out)["params"] == 138_357_544


@pytest.mark.parametrize(("argv", "message"), [
    (["prune", "lenet-300-100", "--per-layer", "fc9=0.9", "--out", "x.npz"],
     "name ['fc9'], not among the weight layers of 'lenet-300-100'"),
    (["train", "vgg16", "--out", "x.npz"], "no training recipe for 'vgg16'"),
    (["summary", "lenet5", "--alpha", "0.5"], "apply to the architectures"),
])
def test_bad_arguments_are_usage_errors_on_one_line(capsys, tmp_path, argv, message):
    argv = [str(tmp_path / a) if a == "x.npz" else a for a in argv]
    args = build_parser().parse_args(argv)
    with pytest.raises(UsageError, match=re.escape(message)):
        args.func(args)
    code, _, err = run(capsys, *argv)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"tinycompress {argv[0]}: error: ") and message in err
    assert not (tmp_path / "x.npz").exists()


def test_the_cli_and_the_pipeline_share_one_default_per_setting():
    args = build_parser().parse_args(["quantize", "m", "--bits", "5", "--out", "o"])
    settings = pipeline.Settings()
    assert args.lr == settings.finetune_lr == trained.FINETUNE_LR == 1e-4
    assert args.init == settings.init


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    for command in ("summary", "evaluate", "train", "prune", "quantize", "encode", "decode",
                    "inspect", "deep-compress", "exercises"):
        assert command in out


def test_a_bug_is_one_line_with_status_3_and_its_traceback_on_request(capsys, monkeypatch):
    def bug(args):
        raise KeyError("boom\nsecond line")

    monkeypatch.setattr(cli, "cmd_summary", bug)  # a bug stands in for a real one
    monkeypatch.delenv(cli.TRACEBACK_VARIABLE, raising=False)
    assert main(["summary", "lenet5"]) == 3
    assert capsys.readouterr().err == (
        "tinycompress summary: internal error: KeyError: 'boom\\nsecond line'; "
        "set TINYCOMPRESS_TRACEBACK=1 to see the traceback\n")
    monkeypatch.setenv(cli.TRACEBACK_VARIABLE, "1")
    with pytest.raises(KeyError, match="boom"):
        main(["summary", "lenet5"])


def test_a_bad_flag_is_one_line_from_the_real_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tinycompress", "prune", "lenet5", "--sparsity",
                           "2", "--out", str(tmp_path / "x.npz")], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("tinycompress prune: error: argument --sparsity: expected a finite "
                           "number in [0, 1), got '2'; see tinycompress prune --help\n")


def test_every_default_is_within_its_own_range():
    checked = 0
    subcommands = build_parser()._subparsers._group_actions[0].choices  # argparse keeps them so
    for command in subcommands.values():
        for action in command._actions:
            if callable(action.type) and action.default is not None:
                assert action.type(str(action.default)) == action.default, action.dest
                checked += 1
    assert checked >= 9  # seeds, rounds, epochs, batch size, shift, learning rate
