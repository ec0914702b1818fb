"""The ``tinycompress`` command: a thin shell over the library's functions.

Every command that takes a model takes a zoo name (meaning its shipped checkpoint, or the bare
architecture for models that ship none) or a path to a checkpoint. Every command that reads
data takes ``--data DIR`` (a folder in MNIST's IDX layout). Every command that reports takes
``--json``. A :class:`~tinycompress.errors.TinyCompressError` is printed as one line on stderr
with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path
from typing import Any

from . import zoo
from .coding import accounting, tcz
from .errors import TinyCompressError, UsageError
from .exercises import checkout, listing, notebooks, student_copy, tasks
from .nn.checkpoint import save_model
from .nn.data import load_arrays, normalization_of
from .nn.model import Sequential, format_summary
from .nn.train import Recipe, evaluate
from .pruning import iterative, magnitude
from .quantization import trained
from .quantization.kmeans import INITS

_Commands = argparse._SubParsersAction  # what add_subparsers returns; _add_* add commands to it


def _emit(args: argparse.Namespace, result: dict[str, Any], text: str) -> None:
    print(json.dumps(result, indent=2) if args.json else text)


def _add(sub: _Commands, name: str, func: Any, help: str, model: bool = True,
         data: bool = False, json_flag: bool = True) -> argparse.ArgumentParser:
    """A subcommand with the flags every command of its kind shares."""
    p = sub.add_parser(name, help=help, description=help)
    if model:
        p.add_argument("model", metavar="MODEL_OR_PATH", help="zoo name or checkpoint path")
    if data:
        p.add_argument("--data", metavar="DIR", default=None,
                       help="folder with IDX files in MNIST's layout (default: shipped MNIST)")
    if json_flag:
        p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=func)
    return p


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from exc
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


# --- the commands, each followed by its flags ---------------------------------------------


def cmd_summary(args: argparse.Namespace) -> None:
    options = {key: value for key, value in (("alpha", args.alpha), ("resolution",
               args.resolution), ("full_conv", args.full_conv or None)) if value is not None}
    if options and args.model not in zoo.COUNTABLE:
        raise UsageError(f"--alpha, --resolution and --full-conv apply to the architectures "
                         f"{', '.join(sorted(zoo.COUNTABLE))}, not to {args.model!r}")
    if args.model in zoo.BUILDERS and (options or args.model not in zoo.PRETRAINED):
        shape_only = {"shape_only": True} if args.model in zoo.COUNTABLE else {}
        model = zoo.build(args.model, **shape_only, **options)  # counting needs no weights
    else:
        model, _ = zoo.resolve_model(args.model)
    summary = model.summary()
    _emit(args, summary, format_summary(summary))


def _add_summary(sub: _Commands) -> None:
    p = _add(sub, "summary", cmd_summary, "per-layer output shapes, parameters, MultAdds and bytes")
    p.add_argument("--alpha", type=_positive(float), help="MobileNet width multiplier")
    p.add_argument("--resolution", type=_positive(int), help="MobileNet input side, in pixels")
    p.add_argument("--full-conv", action="store_true",
                   help="MobileNet with full 3x3 convolutions instead of separable blocks")


def cmd_evaluate(args: argparse.Namespace) -> None:
    model, meta = zoo.resolve_model(args.model)
    X, y = load_arrays("test", args.data, normalization_of(meta, args.data), args.limit)
    result = {"model": args.model, **evaluate(model, X, y)}
    _emit(args, result, f"{args.model}: accuracy {result['accuracy']:.4%}  error "
                        f"{result['error']:.2%}  on {result['n']} test images")


def _add_evaluate(sub: _Commands) -> None:
    p = _add(sub, "evaluate", cmd_evaluate, "test accuracy and error on the 10k test images",
             data=True)
    p.add_argument("--limit", type=int, default=None, help="evaluate on the first N images only")


def cmd_train(args: argparse.Namespace) -> None:
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
    p = _add(sub, "train", cmd_train, "train a zoo model from scratch with its recipe", data=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="where to write the checkpoint")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--momentum", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--shift", type=int, help="random translation augmentation, in pixels")
    p.add_argument("--limit", type=int, default=None, help="train on the first N images only")


def _parse_per_layer(text: str) -> dict[str, float]:
    try:
        pairs = [item.split("=") for item in text.split(",") if item]
        return {name.strip(): float(value) for name, value in pairs}
    except ValueError as exc:
        raise UsageError("--per-layer expects NAME=SPARSITY pairs separated by commas, e.g. "
                         f"fc1=0.92,fc2=0.91; got {text!r}") from exc


def _prune_recipe(args: argparse.Namespace, model: Sequential,
                  meta: dict[str, Any]) -> iterative.PruneRecipe:
    """The named recipe, or one built from the sparsity flags and the retraining flags."""
    if args.recipe is not None:
        if args.recipe not in iterative.PRUNE_RECIPES:
            raise UsageError(f"unknown pruning recipe {args.recipe!r}; "
                             f"known: {sorted(iterative.PRUNE_RECIPES)}")
        return iterative.PRUNE_RECIPES[args.recipe]
    lr = args.lr if args.lr is not None else zoo.training_lr(meta) / 10
    retrain = Recipe(epochs=args.retrain_epochs, batch_size=args.batch_size, lr=lr,
                     shift=args.shift)
    if args.per_layer is not None:
        targets = _parse_per_layer(args.per_layer)
    elif args.sparsity is not None:
        targets = {lay.name: args.sparsity for lay in magnitude.prunable_layers(model)}
    else:  # the sparsities q x std gives now, reached in --rounds geometric steps
        trial = copy.deepcopy(model)
        magnitude.prune(trial, quality=args.quality)
        targets = magnitude.current_sparsities(trial)
    return iterative.PruneRecipe(targets=targets, rounds=args.rounds, retrain=retrain)


def cmd_prune(args: argparse.Namespace) -> None:
    model, meta = zoo.resolve_model(args.model)
    recipe = _prune_recipe(args, model, meta)
    norm = normalization_of(meta, args.data)
    X, y = load_arrays("train", args.data, norm, args.limit)
    Xt, yt = load_arrays("test", args.data, norm)
    start = time.perf_counter()

    def report(r: iterative.RoundResult) -> None:
        if not args.json:
            print(f"round {r.round}: {r.kept:.2%} kept, test error {r.error_pruned:.2%} after "
                  f"pruning, {r.error:.2%} after retraining", flush=True)

    rounds = iterative.run_recipe(model, recipe, X, y, X_val=Xt, y_val=yt, seed=args.seed,
                                  max_error_increase=args.max_error_increase,
                                  progress=not args.json, on_round=report)
    result = evaluate(model, Xt, yt)
    out_meta = {**meta, "source": args.model, "prune_recipe": recipe.to_json(),
                "prune_rounds": [r.to_json() for r in rounds], "test": result,
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
    how.add_argument("--sparsity", type=float, help="fraction removed from every layer")
    how.add_argument("--quality", type=float, help="threshold = QUALITY x std per layer")
    how.add_argument("--per-layer", metavar="L=S,...", help="per-layer sparsity, e.g. fc1=0.92")
    how.add_argument("--recipe",
                     help=f"a named recipe: {', '.join(sorted(iterative.PRUNE_RECIPES))}")
    p.add_argument("--rounds", type=int, default=1, help="prune/retrain rounds (geometric)")
    p.add_argument("--retrain-epochs", type=int, default=2, help="retraining epochs per round")
    p.add_argument("--lr", type=float, help="retraining learning rate (default: original / 10)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--shift", type=int, default=0, help="random shifts while retraining")
    p.add_argument("--max-error-increase", type=float, default=None,
                   help="stop (undoing the last round) once the test error rises by more")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="retrain on the first N images only")
    p.add_argument("--out", type=Path, required=True, help="where to write the checkpoint")


def _bits_arg(text: str) -> dict[str, int]:
    try:
        return trained.parse_bits(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def cmd_quantize(args: argparse.Namespace) -> None:
    model, meta = zoo.resolve_model(args.model)
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
    p.add_argument("--bits", type=_bits_arg, required=True, metavar="B|conv=B,fc=B",
                   help="bits per weight: one number, or per kind / layer name (conv=8,fc=5)")
    p.add_argument("--init", choices=INITS, default="linear", help="centroid initialisation")
    p.add_argument("--finetune-epochs", type=int, default=0,
                   help="epochs of centroid fine-tuning (default 0: cluster only)")
    p.add_argument("--lr", type=float, default=trained.FINETUNE_LR,
                   help="centroid learning rate (the centroid gradient is a sum: keep it small)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="fine-tune on the first N images only")
    p.add_argument("--out", type=Path, required=True, help="where to write the checkpoint")


def _index_bits_arg(text: str) -> int | None:
    try:
        return None if text == "auto" else int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected a number of bits or 'auto', got {text!r}") from exc


def cmd_encode(args: argparse.Namespace) -> None:
    model, meta = zoo.resolve_model(args.model)
    keep = {k: meta[k] for k in ("normalization",) if k in meta}
    tcz.save(model, args.out, index_bits=args.index_bits, meta={**keep, "source": args.model})
    report = accounting.inspect(args.out)
    _emit(args, {"model": args.model, "out": str(args.out), **report},
          accounting.format_inspect(report) + f"\nwrote {args.out}")


def cmd_decode(args: argparse.Namespace) -> None:
    model, meta = tcz.load(args.file)
    save_model(model, args.out, meta)
    _emit(args, {"file": str(args.file), "out": str(args.out)},
          f"decoded {args.file} ({model.num_params():,} parameters); saved {args.out}")


def cmd_inspect(args: argparse.Namespace) -> None:
    report = accounting.inspect(args.file)
    _emit(args, report, accounting.format_inspect(report))


def _add_file_commands(sub: _Commands) -> None:
    p = _add(sub, "encode", cmd_encode, "write a compressed .tcz file (relative indices, "
             "codebooks, Huffman coding; the smallest layout per tensor)")
    p.add_argument("--out", type=Path, required=True, help="the .tcz file to write")
    p.add_argument("--index-bits", type=_index_bits_arg, default=None, metavar="B|auto",
                   help="width of the relative-index (gap) field (default: auto, per tensor)")
    p = _add(sub, "decode", cmd_decode, "turn a .tcz file back into a dense checkpoint",
             model=False)
    p.add_argument("file", metavar="FILE.tcz", type=Path)
    p.add_argument("--out", type=Path, required=True, help="where to write the checkpoint")
    p = _add(sub, "inspect", cmd_inspect, "where the bytes of a .tcz file go, per layer",
             model=False)
    p.add_argument("file", metavar="FILE.tcz", type=Path)


def cmd_exercises(args: argparse.Namespace) -> None:
    if args.action == "init":
        path = student_copy.init(args.dir, root=args.source)
        print(f"wrote a student copy with {len(tasks.TASKS)} tasks to {path}; "
              f"start with {path / 'EXERCISES.md'}")
    elif args.action == "sync-notebooks":
        folder = checkout.project_root() / "chapters"
        for chapter in tasks.CHAPTERS:
            path = folder / f"{chapter}.ipynb"
            if path.exists():
                changed = notebooks.sync_notebook(path)
                print(f"{path.name}: {'updated' if changed else 'up to date'}")
    else:
        rows = listing.task_rows(args.source)
        _emit(args, {"tasks": rows}, listing.format_task_table(rows))


def _add_exercises(sub: _Commands) -> None:
    p = _add(sub, "exercises", cmd_exercises, "exercises: a student copy of the project with the "
             "key functions as stubs, checked by their tests", model=False, json_flag=False)
    actions = p.add_subparsers(dest="action", required=True)
    q = actions.add_parser("init", help="write a student copy of the project into DIR")
    q.add_argument("dir", metavar="DIR", type=Path, help="a new or empty folder")
    q.add_argument("--source", metavar="DIR", default=None,
                   help="the source checkout to copy (default: the one installed)")
    q = actions.add_parser("list", help="the tasks with their chapter, test mark and location")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.add_argument("--source", metavar="DIR", default=None,
                   help="the checkout or student copy to list (default: the one installed)")
    actions.add_parser("sync-notebooks", help="end every chapter notebook with its Exercises "
                       "section (outputs kept)")


def cmd_deep_compress(args: argparse.Namespace) -> None:
    from . import pipeline  # imported on demand: it pulls in every stage of the project

    overrides = {"quick": args.quick} if args.quick else {}
    if args.seed is not None:
        overrides["seed"] = args.seed
    name = args.model if args.model in zoo.BUILDERS else Path(args.model).stem
    settings = pipeline.Settings.for_model(args.model, **overrides)
    if args.config is not None:
        settings = settings.merged(args.config)
    out = args.out or Path(f"{name}.tcz")
    report = pipeline.run(args.model, out, settings, args.data, progress=not args.json,
                          log=(lambda _: None) if args.json else print)
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
    p.add_argument("--quick", action="store_true",
                   help="the same pipeline on a small subset with token training (smoke test)")
    p.add_argument("--seed", type=int, default=None)


# --- the parser and the entry point -------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``tinycompress`` parser: one subcommand per ``cmd_<name>`` above."""
    parser = argparse.ArgumentParser(prog="tinycompress", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add_commands in (_add_summary, _add_evaluate, _add_train, _add_prune, _add_quantize,
                         _add_file_commands, _add_deep_compress, _add_exercises):
        add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv``; the exit status (2 for a one-line error)."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (TinyCompressError, OSError) as exc:  # bad input or an unwritable --out: one line
        print(f"tinycompress {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
