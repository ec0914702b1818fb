"""The ``tinycompress`` command: a thin shell over the library's functions.

Every command that takes a model takes a zoo name (meaning its shipped checkpoint, or the bare
architecture for models that ship none) or a path to a checkpoint. Every command that reads
data takes ``--data DIR`` (a folder in MNIST's IDX layout). Every command that reports takes
``--json``. Flags are checked by their argparse types (:mod:`.arguments`) and outputs by
:func:`.files.check_output` before any work starts. Exit status: 0; 2 for bad input (a bad
argument or file, an output that cannot be written safely: one line on stderr, never a
traceback); 3 for an internal error (a bug: one line, or the traceback when
``TINYCOMPRESS_TRACEBACK=1``); 130 when interrupted. An exercise's stub still raising
``NotImplementedError`` (in a student copy) shows its traceback.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from . import arguments as kinds
from . import files, zoo
from .arguments import Parser, flag, per_layer
from .coding import accounting, tcz
from .errors import TinyCompressError, UsageError, one_line, shown
from .exercises import command as exercises
from .interop import convert
from .nn.architecture import MAX_PARAMETERS
from .nn.checkpoint import save_model
from .nn.data import MNIST_SHA256, VALIDATION, load_arrays, mnist_dir, normalization_of
from .nn.model import Sequential, format_summary
from .nn.train import Recipe, evaluate
from .pruning import iterative, magnitude
from .quantization import trained
from .quantization.kmeans import INITS
from .runs import Run
from .stages import DEFAULT_BUDGET

_Commands = argparse._SubParsersAction  # what add_subparsers returns; _add_* add commands to it
TRACEBACK_VARIABLE = "TINYCOMPRESS_TRACEBACK"


def _emit(args: argparse.Namespace, result: dict[str, Any], text: str) -> None:
    print(json.dumps(result, indent=2) if args.json else text)


def _add(sub: _Commands, name: str, func: Any, help: str, model: bool = True,
         data: bool = False, sized: bool = True) -> argparse.ArgumentParser:
    """A subcommand with the flags every command of its kind shares (``sized``: it reads a
    model file, which may describe no more than ``--max-params`` values)."""
    p = sub.add_parser(name, help=help, description=help)
    if model:
        p.add_argument("model", metavar="MODEL_OR_PATH", help="zoo name or checkpoint path")
    if sized:
        p.add_argument("--max-params", type=flag(kinds.PARAMETERS), default=MAX_PARAMETERS,
                       metavar="N", help="refuse a file describing a model of more parameters "
                       f"and buffers (default {MAX_PARAMETERS:,}); raise it for a larger model")
    if data:
        p.add_argument("--data", metavar="DIR", default=None,
                       help="folder with IDX files in MNIST's layout (default: shipped MNIST)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=func)
    return p


def _inputs(args: argparse.Namespace) -> list[Path]:
    """The files a command reads: its model or ``.tcz`` file, settings file and dataset."""
    found = [zoo.model_path(args.model)] if getattr(args, "model", None) else []
    found += [Path(getattr(args, key)) for key in ("file", "config", "arch")
              if getattr(args, key, None)]
    if "data" in args:
        folder = Path(args.data) if args.data else mnist_dir()
        found += [folder / f"{stem}{ext}" for stem in MNIST_SHA256 for ext in ("", ".gz")]
    return found


def _check_outputs(args: argparse.Namespace, *outputs: Path) -> None:
    """Refuse, before any work, outputs that are folders, special files or the inputs."""
    inputs = _inputs(args)
    for out in outputs:
        files.check_output(out, inputs)


# --- the commands, each followed by its flags ---------------------------------------------


def cmd_summary(args: argparse.Namespace) -> None:
    options = {key: value for key, value in (("alpha", args.alpha), ("resolution",
               args.resolution), ("full_conv", args.full_conv or None)) if value is not None}
    if options and args.model not in zoo.SCALABLE:
        raise UsageError(f"--alpha, --resolution and --full-conv apply to the architectures "
                         f"{', '.join(sorted(zoo.SCALABLE))}, not to {shown(args.model)}")
    if args.model in zoo.BUILDERS and (options or args.model not in zoo.PRETRAINED):
        shape_only = {"shape_only": True} if args.model in zoo.COUNTABLE else {}
        model = zoo.build(args.model, **shape_only, **options)  # counting needs no weights
    else:
        model, _ = zoo.resolve_model(args.model, args.max_params)
    summary = model.summary()
    _emit(args, summary, format_summary(summary))


def _add_summary(sub: _Commands) -> None:
    p = _add(sub, "summary", cmd_summary, "per-layer output shapes, parameters, MultAdds and bytes")
    p.add_argument("--alpha", type=flag(kinds.ALPHA), help="MobileNet width multiplier, up to 4")
    p.add_argument("--resolution", type=flag(kinds.RESOLUTION), help="MobileNet input side, pixels")
    p.add_argument("--full-conv", action="store_true",
                   help="MobileNet with full 3x3 convolutions instead of separable blocks")


def cmd_evaluate(args: argparse.Namespace) -> None:
    model, meta = zoo.resolve_model(args.model, args.max_params)
    norm = normalization_of(meta, args.data)
    X, y = load_arrays("test", args.data, norm, args.limit)
    if args.precision is not None:  # error, time and energy of one way of running the model
        from .inference import precision  # only this option needs the inference package
        result = precision.evaluate_source(args.model, model, norm, X, y, args.precision, args.data)
        _emit(args, result, precision.format_evaluation(result))
        return
    result = {"model": args.model, **evaluate(model, X, y)}
    _emit(args, result, f"{args.model}: accuracy {result['accuracy']:.4%}  error "
                        f"{result['error']:.2%}  on {result['n']} test images")


def _add_evaluate(sub: _Commands) -> None:
    from .energy import PRECISIONS  # the one list of precisions, beside their cost model
    p = _add(sub, "evaluate", cmd_evaluate, "test accuracy and error on the 10k test images",
             data=True)
    p.add_argument("--limit", type=flag(kinds.IMAGES), help="evaluate on the first N images only")
    p.add_argument("--precision", choices=PRECISIONS, help="run the model in this arithmetic: "
                   "error, time and energy per inference (int8: calibrated on training images)")


def cmd_train(args: argparse.Namespace) -> None:
    _check_outputs(args, args.out)
    overrides = {k: getattr(args, k) for k in ("epochs", "batch_size", "lr", "momentum",
                                               "weight_decay", "shift")
                 if getattr(args, k) is not None}
    model, meta = zoo.train_model(args.model, args.data, seed=args.seed, limit=args.limit,
                                  progress=not args.json, **overrides)
    save_model(model, args.out, meta)
    _emit(args, {"model": args.model, "out": str(args.out), **meta},
          f"{args.model}: test error {meta['test']['error']:.2%} after "
          f"{meta['recipe']['epochs']} epochs ({meta['train_seconds']:.0f} s); saved {args.out}")


def _add_train(sub: _Commands) -> None:
    p = _add(sub, "train", cmd_train, "train a zoo model from scratch with its recipe", data=True,
             sized=False)
    p.add_argument("--seed", type=flag(kinds.SEED), default=0)
    p.add_argument("--out", type=Path, required=True, help="where to write the checkpoint")
    p.add_argument("--epochs", type=flag(kinds.EPOCHS))
    p.add_argument("--batch-size", type=flag(kinds.BATCH))
    p.add_argument("--lr", type=flag(kinds.RATE))
    p.add_argument("--momentum", type=flag(kinds.MOMENTUM))
    p.add_argument("--weight-decay", type=flag(kinds.DECAY))
    p.add_argument("--shift", type=flag(kinds.SHIFT), help="random translation, in pixels")
    p.add_argument("--limit", type=flag(kinds.IMAGES), help="train on the first N images only")


def _prune_recipe(args: argparse.Namespace, model: Sequential,
                  meta: dict[str, Any]) -> iterative.PruneRecipe:
    """The named recipe, or one built from the sparsity flags and the retraining flags.

    Raises :class:`UsageError` if it names layers ``model`` cannot prune, or would remove every
    weight of a layer.
    """
    names = {lay.name for lay in magnitude.prunable_layers(model)}
    lr = args.lr if args.lr is not None else zoo.training_lr(meta) / 10
    retrain = Recipe(epochs=args.retrain_epochs, batch_size=args.batch_size, lr=lr,
                     shift=args.shift)
    if args.recipe is not None:
        recipe = iterative.PRUNE_RECIPES[args.recipe]
    elif args.per_layer is not None:
        recipe = iterative.PruneRecipe(args.per_layer, args.rounds, retrain)
    elif args.sparsity is not None:
        recipe = iterative.PruneRecipe(dict.fromkeys(names, args.sparsity), args.rounds, retrain)
    else:  # the sparsities q x std gives now, reached in --rounds geometric steps
        trial = copy.deepcopy(model)
        magnitude.prune(trial, quality=args.quality)
        recipe = iterative.PruneRecipe(magnitude.current_sparsities(trial), args.rounds, retrain)
    if unknown := sorted(set(recipe.targets) - names):
        raise UsageError(f"the pruning targets name {shown(unknown)}, not among the weight "
                         f"layers of {shown(model.name)}: {shown(sorted(names), 200)}")
    if every := sorted(name for name, s in recipe.targets.items() if s >= 1):
        raise UsageError(f"--quality {args.quality} would remove every weight of {shown(every)}; "
                         "choose a smaller quality")
    return recipe


def cmd_prune(args: argparse.Namespace) -> None:
    _check_outputs(args, args.out)
    model, meta = zoo.resolve_model(args.model, args.max_params)
    recipe = _prune_recipe(args, model, meta)
    norm = normalization_of(meta, args.data)
    X, y = load_arrays("train", args.data, norm, args.limit)
    Xv, yv = load_arrays("validation", args.data, norm)
    Xt, yt = load_arrays("test", args.data, norm)
    start = time.perf_counter()

    def report(r: iterative.RoundResult) -> None:
        if not args.json:
            print(f"round {r.round}: {r.kept:.2%} kept, validation error {r.error_pruned:.2%} "
                  f"after pruning, {r.error:.2%} after retraining", flush=True)

    rounds = iterative.run_recipe(model, recipe, X, y, X_val=Xv, y_val=yv, seed=args.seed,
                                  max_error_increase=args.max_error_increase,
                                  progress=not args.json, on_round=report)
    result = evaluate(model, Xt, yt)
    out_meta = {**meta, "source": args.model, "prune_recipe": recipe.to_json(),
                "prune_rounds": [r.to_json() for r in rounds], "test": result,
                "validation": {"n": len(yv), "seed": VALIDATION.seed, **evaluate(model, Xv, yv)},
                "kept": magnitude.kept_fraction(model), "layer_table": magnitude.layer_table(model),
                "prune_seconds": round(time.perf_counter() - start, 1)}
    save_model(model, args.out, out_meta)
    _emit(args, {"model": args.model, "out": str(args.out), **out_meta},
          f"{args.model}: {out_meta['kept']:.2%} of the weights kept, test error "
          f"{result['error']:.2%}; saved {args.out}\n"
          + magnitude.format_table(out_meta["layer_table"]))


def _add_prune(sub: _Commands) -> None:
    p = _add(sub, "prune", cmd_prune, "magnitude pruning with retraining (Han et al. 2015)",
             data=True)
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--sparsity", type=flag(kinds.SPARSITY), help="fraction removed per layer")
    how.add_argument("--quality", type=flag(kinds.QUALITY), help="threshold = QUALITY x std")
    how.add_argument("--per-layer", type=per_layer, metavar="L=S,...",
                     help="per-layer sparsity, e.g. fc1=0.92")
    how.add_argument("--recipe", choices=sorted(iterative.PRUNE_RECIPES), help="a named recipe")
    p.add_argument("--rounds", type=flag(kinds.ROUNDS), default=1,
                   help="prune/retrain rounds (geometric)")
    p.add_argument("--retrain-epochs", type=flag(kinds.EXTRA_EPOCHS), default=2,
                   help="retraining epochs per round")
    p.add_argument("--lr", type=flag(kinds.RATE),
                   help="retraining learning rate (default: original / 10)")
    p.add_argument("--batch-size", type=flag(kinds.BATCH), default=128)
    p.add_argument("--shift", type=flag(kinds.SHIFT), default=0, help="random shifts, retraining")
    p.add_argument("--max-error-increase", type=flag(kinds.ERROR_RISE), default=None,
                   help="stop (undoing the last round) once the validation error rises by "
                   "more (a fraction: 0.002 is 0.2 points)")
    p.add_argument("--seed", type=flag(kinds.SEED), default=0)
    p.add_argument("--limit", type=flag(kinds.IMAGES), help="retrain on the first N images only")
    p.add_argument("--out", type=Path, required=True, help="where to write the checkpoint")


def cmd_quantize(args: argparse.Namespace) -> None:
    _check_outputs(args, args.out)
    model, meta = zoo.resolve_model(args.model, args.max_params)
    norm = normalization_of(meta, args.data)
    Xt, yt = load_arrays("test", args.data, norm)
    before = evaluate(model, Xt, yt)
    report = trained.quantize_model(model, args.bits, init=args.init, rng=args.seed)
    history = []
    if args.finetune_epochs:
        X, y = load_arrays("train", args.data, norm, args.limit)
        history = trained.finetune(model, X, y, epochs=args.finetune_epochs, lr=args.lr,
                                   seed=args.seed, progress=not args.json)
    result = evaluate(model, Xt, yt)
    quant = {"bits": trained.parse_bits(args.bits), "init": args.init, "seed": args.seed,
             "finetune_epochs": args.finetune_epochs, "lr": args.lr,
             "finetune_loss": [h.loss for h in history],
             "layers": [r.to_json() for r in report]}
    out_meta = {**meta, "source": args.model, "quantization": quant, "test": result,
                "test_before_quantization": before}
    save_model(model, args.out, out_meta)
    bits = ", ".join(f"{r.name} {r.bits}" for r in report)
    _emit(args, {"model": args.model, "out": str(args.out), **out_meta},
          f"{args.model}: quantised ({bits} bits), test error {before['error']:.2%} -> "
          f"{result['error']:.2%}; saved {args.out}")


def _add_quantize(sub: _Commands) -> None:
    p = _add(sub, "quantize", cmd_quantize, "k-means weight sharing with trained centroids "
             "(Deep Compression)", data=True)
    p.add_argument("--bits", type=flag(kinds.BITS), required=True, metavar="B|conv=B,fc=B",
                   help="bits per weight: one number, or per kind / layer name (conv=8,fc=5)")
    p.add_argument("--init", choices=INITS, default="linear", help="centroid initialisation")
    p.add_argument("--finetune-epochs", type=flag(kinds.EXTRA_EPOCHS), default=0,
                   help="epochs of centroid fine-tuning (default 0: cluster only)")
    p.add_argument("--lr", type=flag(kinds.RATE), default=trained.FINETUNE_LR,
                   help="centroid learning rate (the centroid gradient is a sum: keep it small)")
    p.add_argument("--seed", type=flag(kinds.SEED), default=0)
    p.add_argument("--limit", type=flag(kinds.IMAGES), help="fine-tune on the first N images only")
    p.add_argument("--out", type=Path, required=True, help="where to write the checkpoint")


def cmd_encode(args: argparse.Namespace) -> None:
    _check_outputs(args, args.out)
    model, meta = zoo.resolve_model(args.model, args.max_params)
    keep = {k: meta[k] for k in ("normalization",) if k in meta}
    # written only once its bytes decode to the model bit for bit: a good file stays good
    tcz.save(model, args.out, index_bits=args.index_bits, meta={**keep, "source": args.model},
             small=args.small)
    report = accounting.inspect(args.out, args.max_params)
    _emit(args, {"model": args.model, "out": str(args.out), **report},
          accounting.format_inspect(report) + f"\nwrote {args.out}")


def cmd_decode(args: argparse.Namespace) -> None:
    _check_outputs(args, args.out)
    model, meta = tcz.load(args.file, args.max_params)
    save_model(model, args.out, meta)
    _emit(args, {"file": str(args.file), "out": str(args.out)},
          f"decoded {args.file} ({model.num_params():,} parameters); saved {args.out}")


def cmd_inspect(args: argparse.Namespace) -> None:
    report = accounting.inspect(args.file, args.max_params)
    _emit(args, report, accounting.format_inspect(report))


def _add_file_commands(sub: _Commands) -> None:
    p = _add(sub, "encode", cmd_encode, "write a compressed .tcz file (relative indices, "
             "codebooks, Huffman coding; the smallest layout per tensor)")
    p.add_argument("--out", type=Path, required=True, help="the .tcz file to write")
    p.add_argument("--index-bits", type=flag(kinds.INDEX_BITS), default=None, metavar="B|auto",
                   help="width of the relative-index (gap) field (default: auto, per tensor)")
    p.add_argument("--small", choices=tcz.SMALL, default="fp32",
                   help="how biases and other small tensors are stored (default: fp32, lossless)")
    p = _add(sub, "decode", cmd_decode, "turn a .tcz file back into a dense checkpoint",
             model=False)
    p.add_argument("file", metavar="FILE.tcz", type=Path)
    p.add_argument("--out", type=Path, required=True, help="where to write the checkpoint")
    p = _add(sub, "inspect", cmd_inspect, "where the bytes of a .tcz file go, per layer",
             model=False)
    p.add_argument("file", metavar="FILE.tcz", type=Path)


def cmd_deep_compress(args: argparse.Namespace) -> None:
    from . import pipeline  # imported on demand: it pulls in every stage of the project

    overrides = {"quick": args.quick} if args.quick else {}
    for key in ("seed", "max_error_increase"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    name = args.model if args.model in zoo.BUILDERS else Path(args.model).stem
    out = args.out or Path(f"{name}.tcz")
    _check_outputs(args, *Run(out).outputs())
    settings = pipeline.Settings.for_model(args.model, **overrides)
    if args.config is not None:
        settings = settings.merged(args.config)
    report = pipeline.run(args.model, out, settings, args.data, args.max_params,
                          progress=not args.json, log=(lambda _: None) if args.json else print)
    c, o = report["compressed"], report["original"]
    _emit(args, report,
          f"{args.model}: {o['bytes']:,} B -> {c['file_bytes']:,} B ({c['ratio']:.1f}x); test "
          f"error {o['error']:.2%} -> {c['error']:.2%} (decoded from {out}, n = {c['n']:,}); "
          f"report {out.with_name(out.stem)}.report.md; {report['seconds']:.0f} s")


def _add_deep_compress(sub: _Commands) -> None:
    p = _add(sub, "deep-compress", cmd_deep_compress, "prune, quantise and Huffman-code a model "
             "into a .tcz file, then evaluate the decoded file (Deep Compression)", data=True)
    p.add_argument("--out", type=Path, default=None, help="the .tcz file (default: MODEL.tcz)")
    p.add_argument("--config", type=Path, default=None,
                   help="JSON file overriding the settings of tinycompress.pipeline.Settings")
    p.add_argument("--max-error-increase", type=flag(kinds.BUDGET), default=None, metavar="P",
                   help="the accuracy budget: points of validation error the run may add to the "
                   f"original model's, e.g. 0.2: 1.50%% -> 1.70%% (default {DEFAULT_BUDGET}; the "
                   "shipped LeNets: what the paper's error leaves, 0.7 and 0.2)")
    p.add_argument("--quick", action="store_true",
                   help="the same pipeline on a small subset with token training (smoke test)")
    p.add_argument("--seed", type=flag(kinds.SEED), default=None)


def cmd_import(args: argparse.Namespace) -> None:
    _check_outputs(args, args.out)
    model, meta = convert.import_model(args.file, args.arch, args.mean, args.std, args.max_params)
    save_model(model, args.out, meta)
    _emit(args, {"out": str(args.out), **meta}, convert.format_import(model, meta, args.out))


def _add_import(sub: _Commands) -> None:
    p = _add(sub, "import", cmd_import, "read an ONNX graph, or a PyTorch state dict in "
             "safetensors, as a checkpoint (nothing is unpickled)", model=False)
    p.add_argument("file", metavar="FILE", type=Path, help=".onnx, or .safetensors (see --arch)")
    p.add_argument("--arch", type=Path, help="architecture JSON of a .safetensors state dict")
    p.add_argument("--mean", type=flag(convert.MEAN), help="FILE takes (pixel/255 - MEAN)/STD")
    p.add_argument("--std", type=flag(convert.STD), help="(default: MEAN 0, STD 1)")
    p.add_argument("--out", type=Path, required=True, help="where to write the checkpoint")


def cmd_export(args: argparse.Namespace) -> None:
    _check_outputs(args, args.out)
    report = convert.export_model(args.model, args.out, args.format, args.compact, args.check,
                                  args.data, args.max_params)
    _emit(args, report, convert.format_export(report))


def _add_export(sub: _Commands) -> None:
    p = _add(sub, "export", cmd_export, "write the decoded model as ONNX (run in onnxruntime "
             "against the engine) or as a PyTorch state dict in safetensors", data=True)
    p.add_argument("--format", choices=convert.FORMATS, default="onnx", help="(default: onnx)")
    p.add_argument("--compact", action="store_true", help="ONNX keeping the shared weights")
    p.add_argument("--check", type=flag(convert.CHECK), default=1000, metavar="N",
                   help="test images compared in onnxruntime (default 1000; 0: none)")
    p.add_argument("--out", type=Path, required=True, help="the file to write")


# --- the parser and the entry point -------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``tinycompress`` parser: one subcommand per ``cmd_<name>`` above."""
    parser = Parser(prog="tinycompress", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add_commands in (_add_summary, _add_evaluate, _add_train, _add_prune, _add_quantize,
                         _add_file_commands, _add_deep_compress, _add_import, _add_export,
                         exercises.add_command):
        add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv``; the exit status (see the module docstring)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0), or a bad argument (2) already told on one line
        return exc.code if isinstance(exc.code, int) else 2
    try:
        args.func(args)
    except (TinyCompressError, OSError) as exc:  # bad input or an unwritable --out: one line
        print(f"tinycompress {args.command}: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except NotImplementedError:  # an exercise's stub in a student copy: shown where it is
        raise
    except Exception as exc:  # a bug, not bad input: still one line unless asked for more
        if os.environ.get(TRACEBACK_VARIABLE, "") not in ("", "0"):
            raise
        print(f"tinycompress {args.command}: internal error: {type(exc).__name__}: "
              f"{one_line(str(exc), 200)}; set {TRACEBACK_VARIABLE}=1 to see the traceback",
              file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
