"""The Deep Compression report: Markdown tables and PNG figures from a pipeline run's numbers.

Kept apart from :mod:`tinycompress.pipeline` so that the pipeline computes and this module only
draws; matplotlib is imported here and nowhere in the pipeline's arithmetic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure  # no pyplot: no global backend or state is touched

PAPER = {  # Deep Compression, Table 1: (error %, KB, compression rate)
    "lenet-300-100": {"error": 1.58, "kb": 27, "ratio": 40},
    "lenet5": {"error": 0.74, "kb": 44, "ratio": 39},
}


def _kb(n: float) -> str:
    return f"{n / 1000:,.1f} KB"


def stage_sizes(report: dict[str, Any]) -> dict[str, float]:
    """Bytes after each stage: original float32, then the files measured by the pipeline."""
    sizes = {"original": report["original"]["bytes"]}
    sizes.update(report.get("stage_bytes", {}))
    sizes["P+Q+H file"] = report["compressed"]["file_bytes"]
    return sizes


def size_chart(report: dict[str, Any], path: Path) -> Path:
    """Bar chart of the model's size after each stage (log scale), with the ratios."""
    sizes = stage_sizes(report)
    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    names, values = list(sizes), list(sizes.values())
    bars = ax.bar(names, values, color=["#888", "#4a7", "#47a", "#a47"][: len(names)])
    ax.set_yscale("log")
    ax.set_ylabel("bytes")
    ax.set_title(f"{report['model']}: size after each stage")
    for bar, v in zip(bars, values, strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, v, f"{values[0] / v:.0f}x",
                ha="center", va="bottom", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def layer_table(inspect: dict[str, Any]) -> str:
    """The paper's per-layer table (Tables 2-3) from the file's own accounting."""
    head = ("| Layer | #Weights | Weights% (P) | Weight bits (P+Q) | Weight bits (P+Q+H) "
            "| Index bits (P+Q) | Index bits (P+Q+H) | Compress rate (P+Q) "
            "| Compress rate (P+Q+H) |")
    lines = [head, "|" + "---|" * 9]
    for r in inspect["layers"]:
        if not r.get("weights"):
            continue
        lines.append(
            f"| {r['name']} | {r['weights']:,} | {100 * r['kept_fraction']:.1f}% "
            f"| {r['weight_bits']} | {r['weight_bits_huffman']:.1f} | {r['index_bits']} "
            f"| {r['index_bits_huffman']:.1f} | {100 * r['rate_pq']:.2f}% "
            f"| {100 * r['rate_pqh']:.2f}% |")
    return "\n".join(lines)


def precision_rows(report: dict[str, Any]) -> list[str]:
    """Rows of the four-metrics table for the decoded model run in each precision.

    ``report["precisions"]`` maps a precision to
    :func:`~tinycompress.inference.precision.evaluate_precision`'s result; no rows without it.
    """
    runs = report.get("precisions", {})
    if not runs:
        return []
    names = " / ".join(runs)

    def row(label: str, cell: Any) -> str:
        return f"| {label} ({names}) | - | " + " / ".join(cell(r) for r in runs.values()) + " |"

    def ms(batch: str) -> Any:
        return lambda r: f"{1e3 * r['seconds'][batch]:.3f} ms" if batch in r["seconds"] else "-"

    return [row(f"1. Test error (n = {next(iter(runs.values()))['n']:,})",
                lambda r: f"{100 * r['error']:.2f}%"),
            row("3. Inference time, batch 1", ms("1")),
            row("3. Inference time, batch 64", ms("64")),
            row("4. Energy per inference", lambda r: f"{r['energy']['total_pj'] / 1e6:.4f} uJ "
                f"({'SRAM' if r['energy']['on_chip'] else 'DRAM'})")]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def budget_lines(report: dict[str, Any]) -> list[str]:
    """How the accuracy budget was spent: the validation split, the budget, each pruning round."""
    if "budget_points" not in report:
        return []
    v, o, c = report["validation"], report["original"], report["compressed"]
    spent = 100 * (c["validation_error"] - o["validation_error"])
    lines = ["## The accuracy budget", "",
             f"Every choice was made on a validation split of {v['n']:,} training images (seed "
             f"{v['seed']}) that no stage trained on; the test set was read only for this "
             f"report. Budget: {report['budget_points']:.2f} points of validation error; spent "
             f"{spent:.2f} ({100 * o['validation_error']:.2f}% -> "
             f"{100 * c['validation_error']:.2f}%).", ""]
    rounds = report["stages"].get("prune", {}).get("rounds", [])
    if rounds and "accepted" in rounds[0]:
        lines += ["| Pruning round | Weights kept | Validation error | Verdict |",
                  "|---|---|---|---|"]
        lines += [f"| {r['round']} | {100 * r['kept']:.2f}% | {100 * r['error']:.2f}% | "
                  f"{'kept' if r['accepted'] else 'undone: over budget'} |" for r in rounds]
        lines.append("")
    return lines


def render_markdown(report: dict[str, Any], stem: Path) -> str:
    """The whole report as Markdown; figures are written as ``<stem>.*.png`` beside it."""
    chart = size_chart(report, stem.with_name(stem.name + ".sizes.png"))
    o, c = report["original"], report["compressed"]
    paper = PAPER.get(report["model"])
    t, e = report["times"], report["energy_pj"]
    lines = [
        f"# Deep Compression of {report['model']}",
        "",
        f"File: `{Path(report['out']).name}`, {c['file_bytes']:,} bytes. "
        f"This run took {report['seconds']:.0f} s (stages it resumed keep the times of the run "
        "that made them, below).",
        "",
        "## The four metrics",
        "",
        "| | Original (float32) | Compressed (decoded from the file) |",
        "|---|---|---|",
        f"| 1. Test error (n = {c['n']:,}) | {100 * o['error']:.2f}% | {100 * c['error']:.2f}% |",
        f"| 2. Size | {o['bytes']:,} B ({_kb(o['bytes'])}) | {c['file_bytes']:,} B "
        f"({_kb(c['file_bytes'])}), **{c['ratio']:.1f}x** smaller |",
        f"| 3. Inference time, batch 1 (dense / sparse CSR) | {1e3 * t['original']['dense_b1']:.3f}"
        f" ms / - | {1e3 * t['decoded']['dense_b1']:.3f} ms / "
        f"{1e3 * t['decoded']['sparse_b1']:.3f} ms |",
        f"| 3. Inference time, batch 64 (dense / sparse CSR) | "
        f"{1e3 * t['original']['dense_b64']:.3f} ms / - | "
        f"{1e3 * t['decoded']['dense_b64']:.3f} ms / {1e3 * t['decoded']['sparse_b64']:.3f} ms |",
        f"| 4. Energy per inference (45 nm model) | {e['original']['total_pj'] / 1e6:.2f} uJ "
        f"({'SRAM' if e['original']['on_chip'] else 'DRAM'}) | "
        f"{e['compressed']['total_pj'] / 1e6:.3f} uJ "
        f"({'SRAM' if e['compressed']['on_chip'] else 'DRAM'}) |",
        *precision_rows(report),
        "",
    ]
    if paper:
        lines += [f"The paper (Table 1): error {paper['error']}%, {paper['kb']} KB, "
                  f"{paper['ratio']}x.", ""]
    lines += budget_lines(report)
    lines += ["## Accuracy after each stage", "",
              "| Stage | Validation error (chooses) | Test error (reported) | Time |",
              "|---|---|---|---|",
              f"| original | {_pct(o.get('validation_error'))} | {100 * o['error']:.2f}% | |"]
    for name, info in report["stages"].items():
        if "error" in info:
            lines.append(f"| {name} | {_pct(info.get('validation_error'))} | "
                         f"{100 * info['error']:.2f}% | {info['seconds']:.0f} s |")
    lines.append(f"| decoded file | {_pct(c.get('validation_error'))} | {100 * c['error']:.2f}% "
                 "| |")
    lines += ["", "## Per layer (the paper's Tables 2-3 format)", "",
              layer_table(report["inspect"]), "",
              f"![sizes]({chart.name})", "",
              "## Energy model", "",
              "Horowitz (ISSCC 2014, 45 nm): 32-bit float add 0.9 pJ, multiply 3.7 pJ, 32-bit SRAM"
              " read 5 pJ, 32-bit DRAM read 640 pJ. Every MultAdd of a nonzero weight costs one"
              " multiply and one add; the weights are read once per inference, as 32-bit words of"
              " their stored form, from SRAM if the model fits in a 512 KiB on-chip budget and"
              " from DRAM otherwise; activations, decoding and static power are not counted"
              " (see `tinycompress/energy.py`).", ""]
    lines += [f"- {r['assumptions']}" for r in report.get("precisions", {}).values()]
    lines += [f"- Not run in {p}: {why}" for p, why in
              report.get("precisions_unsupported", {}).items()]
    return "\n".join(lines)
