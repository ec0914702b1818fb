"""``tinycompress summary`` of the model architectures: the paper's totals, refused options."""

import json

import pytest

from tinycompress.cli import main
from tinycompress.models.mobilenet import mobilenet_v1


@pytest.mark.task_conv_multadds
def test_cli_summary_prints_the_paper_totals(capsys, mobilenet_paper_counts):
    assert main(["summary", "mobilenet-v1", "--alpha", "0.5", "--resolution", "160",
                 "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["multadds"] == mobilenet_v1(0.5, 160, shape_only=True).summary()["multadds"]
    assert main(["summary", "mobilenet-v1", "--full-conv", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["weights"] == mobilenet_paper_counts(
        full_conv=True)[1]
    assert main(["summary", "lenet-300-100", "--alpha", "0.5"]) == 2
    assert "apply to the architectures" in capsys.readouterr().err
