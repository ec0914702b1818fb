"""``tinycompress quantize``: a checkpoint that ``summary`` and ``evaluate`` read back."""

import json

import pytest

from tinycompress import zoo
from tinycompress.cli import main
from tinycompress.nn.checkpoint import save_model


@pytest.mark.task_centroid_grad
def test_cli_quantize_writes_a_checkpoint_that_summary_and_evaluate_read(capsys, tmp_path) -> None:
    meta = {"normalization": {"mean": 0.1307, "std": 0.3081}}
    src = save_model(zoo.build("lenet-300-100"), tmp_path / "dense.npz", meta)
    out = tmp_path / "q.npz"
    code = main(["quantize", str(src), "--bits", "fc3=3,fc=2", "--finetune-epochs", "1",
                 "--limit", "256", "--out", str(out), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["quantization"]["bits"] == {"fc3": 3, "fc": 2}
    assert len(doc["quantization"]["finetune_loss"]) == 1
    assert main(["summary", str(out), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["layers"]}
    assert [rows[n]["distinct_weights"] for n in ("fc1", "fc2", "fc3")] == [4, 4, 8]
    assert main(["evaluate", str(out), "--json", "--limit", "100"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 100
    assert main(["quantize", str(src), "--bits", "fc9=3", "--out", str(out)]) == 2
    assert "fc9" in capsys.readouterr().err
