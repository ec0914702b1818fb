"""The Deep Compression pipeline, end to end (Han, Mao & Dally, ICLR 2016, Fig. 1).

::

    trained model --prune + retrain--> sparse --k-means + trained centroids--> shared weights
                  --relative indices + Huffman--> .tcz file --decode--> model --> evaluate

Each stage takes a model and returns a model; the pipeline only chains them. Every stage writes
its result into a stage folder beside the output file and records it in ``state.json``, so a
rerun with the same settings resumes after the last finished stage. The final accuracy is always
measured on the model *decoded from the written file*, never on the model in memory: the file
is the only truth about the compressed model.

Settings (:class:`Settings`) come from defaults per zoo model (the recipe that reaches the
targets), a JSON config file, or flags. For a checkpoint of another model (say one trained with
``tinycompress train --data DIR`` on another dataset) the per-layer pruning targets are chosen
from that model's own sensitivity curves (:func:`sensitivity_targets`), not from constants
tuned to MNIST.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import arguments, timing, zoo
from .coding import accounting, tcz
from .energy import PRECISIONS, inference_energy
from .errors import ConfigError, shown
from .files import atomic_write
from .inference.calibration import calibration_subset
from .inference.precision import evaluate_precision
from .nn import schema
from .nn.architecture import MAX_PARAMETERS
from .nn.checkpoint import load_model, save_model
from .nn.data import load_arrays, normalization_of
from .nn.model import Sequential
from .nn.train import Recipe, evaluate
from .pruning import iterative, magnitude, sparse
from .quantization import trained
from .runs import STAGE_SETTINGS, Run


@dataclass
class Settings:
    """Everything that decides the compressed model. JSON-able; ``--config FILE`` overrides."""

    prune_recipes: list[str] = field(default_factory=list)  # iterative.PRUNE_RECIPES, in order
    target_kept: float = 0.06  # for models without recipes: overall fraction of weights kept
    sensitivity_rounds: int = 3
    bits: str = "conv=8,fc=5"  # per layer kind or name, see trained.parse_bits
    init: str = "linear"
    finetune_epochs: int = 1
    finetune_lr: float = trained.FINETUNE_LR
    index_bits: int | None = None  # gap field width; None: tcz.to_bytes tries 1..12 bits
    seed: int = 0
    quick: bool = False

    @classmethod
    def for_model(cls, name: str, **overrides: Any) -> Settings:
        """The default recipe of a zoo model (or the generic one), then ``overrides``."""
        base = COMPRESSION_SETTINGS.get(name, cls())
        return replace(base, **overrides)

    def merged(self, path: str | Path) -> Settings:
        """These settings updated from a JSON config file, such as ``{"bits": "fc=4"}``.

        Every value is checked against :data:`arguments.SETTINGS` (its type and range, as for
        the command line's flags); unknown keys, a repeated key and unknown pruning recipes
        are :class:`ConfigError`.
        """
        where = f"{shown(str(path))}: settings"
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"{where} cannot be read ({exc.strerror or exc})") from exc
        doc = schema.parse_json(data, where, ConfigError)
        return replace(self, **schema.check_object(doc, arguments.SETTINGS, where, ConfigError))


COMPRESSION_SETTINGS: dict[str, Settings] = {
    # 4.96% of the weights kept; 3-bit fc1 and 4-bit fc2/fc3 (the paper: 8%, 6 bits).
    "lenet-300-100": Settings(prune_recipes=["lenet-300-100", "lenet-300-100-dc"],
                              bits="fc1=3,fc=4"),
    # 4.43% kept; 5-bit convolutions and 4-bit fully-connected layers (the paper: 8%, 8 / 5).
    "lenet5": Settings(prune_recipes=["lenet5", "lenet5-dc"], bits="conv=5,fc=4"),
}
"""The recipes behind the shipped files. Measured on one pruned model per net, the paper's
widths (fc=5 / conv=8,fc=5) gave 57.9x and 56.7x; fc=4 / conv=6,fc1=4,fc=5 gave 63.1x and 65.3x;
these gave 67.7x and 67.3x, all within the error targets (see chapter 6)."""


# --------------------------------------------------------------------------------------------
# Pruning targets from a model's own sensitivity
# --------------------------------------------------------------------------------------------


def sensitivity_targets(curves: dict[str, list[float]], sparsities: list[float],
                        baseline: float, weights: dict[str, int],
                        target_kept: float) -> dict[str, float]:
    """Per-layer sparsities that keep about ``target_kept`` of all weights, least-sensitive first.

    Every layer is allowed the same accuracy drop ``d`` (from its own pruning curve); ``d`` is
    the smallest value for which the layers, each at its largest sparsity within ``d``, keep at
    most ``target_kept`` of the weights overall. A robust layer (a flat curve, like a big
    fully-connected layer) ends up pruned hard and a sensitive one gently: the sensitivity
    analysis of Han et al. 2015 (Fig. 6) turned into a rule.
    """
    total = sum(weights.values())
    drops = sorted({max(baseline - a, 0.0) for accs in curves.values() for a in accs})
    chosen: dict[str, float] = {}
    for d in drops:
        chosen = iterative.choose_sparsities(curves, sparsities, baseline, d)
        kept = sum(weights[n] * (1 - s) for n, s in chosen.items()) / total
        if kept <= target_kept:
            break
    return chosen


def derived_recipe(model: Sequential, X: np.ndarray, y: np.ndarray, settings: Settings,
                   lr: float) -> iterative.PruneRecipe:
    """A pruning recipe for an arbitrary model: targets from its sensitivity on (X, y)."""
    sweep = [0.0, 0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98]
    base = evaluate(model, X, y)["accuracy"]
    curves = iterative.sensitivity(model, X, y, sweep)
    weights = {lay.name: lay.params["W"].size for lay in magnitude.prunable_layers(model)}
    targets = sensitivity_targets(curves, sweep, base, weights, settings.target_kept)
    epochs = 1 if settings.quick else 2
    return iterative.PruneRecipe(targets=targets, rounds=settings.sensitivity_rounds,
                                 retrain=Recipe(epochs=epochs, batch_size=64, lr=lr / 10))


# --------------------------------------------------------------------------------------------
# The stages
# --------------------------------------------------------------------------------------------


@dataclass
class Data:
    """Training and test arrays, normalised as the model was trained."""

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def stage_prune(model: Sequential, meta: dict[str, Any], data: Data, settings: Settings,
                progress: bool) -> dict[str, Any]:
    """Iterative magnitude pruning with retraining (masks keep pruned weights at zero)."""
    recipes = [iterative.PRUNE_RECIPES[name] for name in settings.prune_recipes]
    if not recipes:
        sub = np.random.default_rng(settings.seed).permutation(len(data.X))[:5000]
        recipes = [derived_recipe(model, data.X[sub], data.y[sub], settings,
                                  zoo.training_lr(meta))]
    rounds = []
    for recipe in recipes:
        if settings.quick:  # same stages, a token amount of work
            recipe = replace(recipe, rounds=1, final_epochs=None,
                             retrain=replace(recipe.retrain, epochs=1))
        results = iterative.run_recipe(model, recipe, data.X, data.y, seed=settings.seed,
                                       progress=progress)
        rounds += [r.to_json() for r in results]
    magnitude.remove_masks(model)
    return {"recipes": [asdict(r) for r in recipes], "rounds": rounds,
            "kept": magnitude.kept_fraction(model)}


def stage_quantize(model: Sequential, data: Data, settings: Settings,
                   progress: bool) -> dict[str, Any]:
    """k-means weight sharing of the kept weights, then fine-tuning of the centroids."""
    report = trained.quantize_model(model, settings.bits, init=settings.init, rng=settings.seed)
    before = evaluate(model, data.X_test, data.y_test)["error"]
    if settings.finetune_epochs > 0:
        trained.finetune(model, data.X, data.y, epochs=settings.finetune_epochs,
                         lr=settings.finetune_lr, seed=settings.seed, progress=progress)
    for layer in model.layers:
        layer.constraints.clear()
    return {"layers": [r.to_json() for r in report], "error_before_finetune": before}


# --------------------------------------------------------------------------------------------
# Measurements: time and energy
# --------------------------------------------------------------------------------------------


def inference_times(model: Sequential, X: np.ndarray) -> dict[str, float]:
    """Seconds per forward pass, dense float32 and sparse CSR, at batch 1 and batch 64."""
    csr = sparse.to_sparse(model)
    out = {}
    for b in (1, 64):
        xb = X[:b]
        out[f"dense_b{b}"] = timing.best_time(lambda xb=xb: model.forward(xb))
        out[f"sparse_b{b}"] = timing.best_time(lambda xb=xb: sparse.sparse_forward(model, xb, csr))
    return out


# --------------------------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------------------------


def load_data(meta: dict[str, Any], data_dir: str | None, quick: bool) -> Data:
    """The training and test arrays of ``data_dir``, normalised as ``meta`` records."""
    norm = normalization_of(meta, data_dir)
    X, y = load_arrays("train", data_dir, norm)
    Xt, yt = load_arrays("test", data_dir, norm)
    if quick:
        X, y, Xt, yt = X[:2000], y[:2000], Xt[:1000], yt[:1000]
    return Data(X, y, Xt, yt)


def run_stage(stage: str, model: Sequential, meta: dict[str, Any], data: Data,
              settings: Settings, progress: bool) -> dict[str, Any]:
    """Run one stage on ``model`` in place; its record: results, test error, time, file size.

    The size is that of the model encoded after the stage (without metadata): the pruned
    model's is the "pruned (P) file" bar of the report's size chart.
    """
    t0 = time.perf_counter()
    if stage == "prune":
        info = stage_prune(model, meta, data, settings, progress)
    else:
        info = stage_quantize(model, data, settings, progress)
    info["error"] = evaluate(model, data.X_test, data.y_test)["error"]
    info["seconds"] = round(time.perf_counter() - t0, 1)
    info["file_bytes"] = len(tcz.to_bytes(model, settings.index_bits))
    info["settings"] = {k: getattr(settings, k) for k in STAGE_SETTINGS[stage]}
    return info


def run_stages(run_: Run, state: dict[str, Any], model: Sequential, meta: dict[str, Any],
               data: Data, settings: Settings, progress: bool,
               log: Callable[[str], Any]) -> Sequential:
    """Prune and quantise, resuming the stages ``state`` holds; the quantised model."""
    for stage in STAGE_SETTINGS:
        path = run_.checkpoint(stage)
        if stage in state["stages"]:
            model, _ = load_model(path, run_.max_parameters)
            log(f"[{stage}] resumed from {path}")
            continue
        log(f"[{stage}] running ...")
        info = run_stage(stage, model, meta, data, settings, progress)
        save_model(model, path, {**meta, "pipeline_stage": stage})
        state["stages"][stage] = info
        run_.save_state(state)
        log(f"[{stage}] test error {info['error']:.2%} ({info['seconds']} s)")
    return model


def encode(run_: Run, state: dict[str, Any], model: Sequential,
           meta: dict[str, Any], settings: Settings) -> bytes:
    """Encode ``model`` once and write it to the ``.tcz`` file; the file's bytes.

    The file is written atomically and only once its bytes are known to decode to ``model``
    bit for bit (:func:`tinycompress.coding.tcz.checked_bytes`): a previous run's file is
    never replaced by a bad one.
    """
    t0 = time.perf_counter()
    blob = tcz.checked_bytes(model, settings.index_bits, meta)
    tcz.write_file(blob, run_.out)
    state["stages"]["encode"] = {"seconds": round(time.perf_counter() - t0, 1)}
    run_.save_state(state)
    return blob


def formula_bytes(inspected: dict[str, Any]) -> float:
    """The P+Q size by the paper's formula: fixed-width weights and indices, no Huffman coding.

    ``inspected`` is :func:`~tinycompress.coding.accounting.inspect_bytes` of the file; its
    header, manifest and non-weight tensors are counted as they are stored.
    """
    return inspected["header_and_manifest_bytes"] + sum(
        row["other_bytes"] + row.get("rate_pq", 0.0) * 4 * row.get("weights", 0)
        for row in inspected["layers"])


def measure(blob: bytes, original_model: Sequential, original: dict[str, Any],
            pruned_bytes: int, data: Data, max_parameters: int = MAX_PARAMETERS
            ) -> dict[str, Any]:
    """The report's measurements of the compressed model, all from the file's bytes ``blob``.

    The model is decoded from ``blob`` (the file is the only truth about the compressed model),
    then evaluated, timed and costed; ``pruned_bytes`` is the prune stage's file size.
    """
    decoded, meta, records = tcz.read_records(blob, max_parameters)
    inspected = accounting.inspect_records(len(blob), decoded, meta, records)
    final = evaluate(decoded, data.X_test, data.y_test)
    calibration = calibration_subset(data.X)  # training images: the test set is only measured
    precisions = {p: evaluate_precision(decoded, data.X_test, data.y_test, p,
                                        calibration=calibration, weight_bytes=len(blob))
                  for p in PRECISIONS}
    return {
        "compressed": {"error": final["error"], "accuracy": final["accuracy"], "n": final["n"],
                       "file_bytes": len(blob), "ratio": original["bytes"] / len(blob)},
        "stage_bytes": {"pruned (P) file": pruned_bytes,
                        "P+Q (formula)": round(formula_bytes(inspected))},
        "inspect": inspected,
        "times": {"original": inference_times(original_model, data.X_test),
                  "decoded": inference_times(decoded, data.X_test)},
        "energy_pj": {
            "original": inference_energy(original_model, original["bytes"],
                                         skip_zeros=False).to_json(),
            "compressed": inference_energy(decoded, len(blob)).to_json()},
        "precisions": precisions,
    }


def run(model_arg: str, out: str | Path, settings: Settings, data_dir: str | None = None,
        max_parameters: int = MAX_PARAMETERS, progress: bool = True,
        log: Callable[[str], Any] = print) -> dict[str, Any]:
    """Run (or resume) the pipeline on ``model_arg``; write ``out`` (.tcz) and its report.

    A model of more than ``max_parameters`` values is refused. Returns the report as a dict
    (also written as ``<out stem>.report.json`` and ``.md``).
    """
    start = time.perf_counter()
    run_ = Run(Path(out), max_parameters)
    model, meta = zoo.resolve_model(model_arg, max_parameters)
    original_model = copy.deepcopy(model)
    data = load_data(meta, data_dir, settings.quick)
    original = {"error": evaluate(model, data.X_test, data.y_test)["error"],
                "params": model.num_params(), "bytes": 4 * model.num_params()}
    state = run_.load_state(settings, model_arg, log)
    model = run_stages(run_, state, model, meta, data, settings, progress, log)
    blob = encode(run_, state, model, {"normalization": meta.get("normalization"),
                                       "source": model_arg, "pipeline": asdict(settings)},
                  settings)
    report = {
        "model": model_arg, "out": str(run_.out), "settings": asdict(settings),
        "original": original, "stages": state["stages"],
        **measure(blob, original_model, original, state["stages"]["prune"]["file_bytes"], data,
                  max_parameters),
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_report(run_, report)
    return report


def write_report(run_: Run, report: dict[str, Any]) -> None:
    """``<stem>.report.json`` and ``<stem>.report.md`` (with PNG figures) beside the file."""
    from .report import render_markdown  # matplotlib is imported only when a report is drawn

    text = json.dumps(report, indent=1).encode()
    atomic_write(run_.beside(".report.json"), lambda f: f.write(text))
    md = render_markdown(report, run_.beside("")).encode()
    atomic_write(run_.beside(".report.md"), lambda f: f.write(md))
