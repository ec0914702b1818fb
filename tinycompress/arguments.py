"""What the commands and the settings file accept: each value's type and range, stated once.

A flag such as ``--sparsity`` and a settings field such as ``max_error_increase`` take values of one
*kind*, a checker of :mod:`tinycompress.nn.schema`: an integer is an ``int`` (never a float or
a bool), a real number is finite, and each kind has its range. The command line turns a kind
into an argparse ``type=`` with :func:`flag`, so a bad value is one line naming the flag and
the range (``argument --sparsity: expected a finite number in [0, 1), got '1.5'``), and
:mod:`tinycompress.pipeline` checks a ``--config`` file with the same kinds.

Two values need more than a range: a bits specification (:class:`Bits`, e.g. ``conv=8,fc=5``)
and per-layer sparsities (:func:`per_layer`, e.g. ``fc1=0.92,fc2=0.91``; whether the model has
those layers is checked once it is loaded). :class:`Parser` is argparse with one-line errors.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from .coding.manifest import MAX_GAP_BITS
from .coding.small_tensors import SMALL
from .errors import ShapeError, UsageError, one_line, shown
from .nn.schema import ErrorClass, Field, Flag, Int, Items, OneOf, Real, refuse
from .pruning.iterative import PRUNE_RECIPES
from .quantization import trained
from .quantization.kmeans import INITS
from .quantization.sharing import check_bits

SEED = Int(0, 2**32 - 1)
EPOCHS = Int(1, 10_000)  # training epochs: at least one
EXTRA_EPOCHS = Int(0, 10_000)  # retraining or fine-tuning epochs: 0 for none
ROUNDS = Int(1, 100)
IMAGES = Int(1, 10**9)  # --limit: the first N images
BATCH = Int(1, 1024)  # larger batches would need gigabytes of im2col buffers
SHIFT = Int(0, 16)  # random translation, in pixels
SPARSITY = Real(0.0, 1.0, hi_open=True)  # the fraction removed: a layer keeps some weights
ERROR_RISE = Real(0.0, 1.0)  # a rise of the validation error (a fraction)
QUALITY = Real(0.0, 10.0)  # threshold = quality x std
RATE = Real(0.0, 10.0, lo_open=True)  # learning rates
MOMENTUM = Real(0.0, 1.0, hi_open=True)
DECAY = Real(0.0, 1.0)  # L2 weight decay
ALPHA = Real(0.0, 4.0, lo_open=True)  # MobileNet width multiplier (the paper: 0.25 to 1)
RESOLUTION = Int(1, 4096)  # MobileNet input side, in pixels
INDEX_BITS = Int(1, MAX_GAP_BITS, null=True)  # null (on the command line: auto) tries 1..12
INIT = OneOf(INITS)
BUDGET = Real(0.0, 100.0)  # --max-error-increase: points of validation error
SHARE = Real(0.0, 1.0)  # the part of the budget pruning may spend
STEP = Real(0.05, 0.95)  # the fraction of the surviving weights a pruning round keeps
FACTOR = Real(0.0, 1.0, lo_open=True)  # of the training learning rate
PARAMETERS = Int(1, 1 << 40)  # --max-params: the most parameters a model file may describe


@dataclass(frozen=True)
class Bits:
    """Bits per weight as text (``5``, ``conv=8,fc=5``, ``fc1=3,fc=4``), each width in 1..16.

    The text is what :func:`tinycompress.quantization.trained.parse_bits` reads; whether the
    model has the layers it names is checked by the quantiser. With ``auto``, the text ``auto``
    (the fewest bits within the error budget) is accepted too.
    """

    auto: bool = False

    @property
    def expected(self) -> str:
        return (("auto, or " if self.auto else "")
                + "bits as B or KEY=B,... (a layer name, conv or fc; B in 1..16)")

    def check(self, value: Any, where: str, error: ErrorClass) -> str:
        if not isinstance(value, str):
            refuse(where, value, self.expected, error)
        if self.auto and value == "auto":
            return value
        try:
            for bits in trained.parse_bits(value).values():
                check_bits(bits)
        except (ValueError, ShapeError):  # ShapeError: a width outside 1..16
            refuse(where, value, self.expected, error)
        return value


BITS = Bits()
BITS_OR_AUTO = Bits(auto=True)

SETTINGS: dict[str, Field] = {
    "max_error_increase": BUDGET,
    "prune_share": SHARE,
    "prune_recipes": Items(16, OneOf(tuple(PRUNE_RECIPES))),
    "step": STEP,
    "max_rounds": ROUNDS,
    "rescues": Int(0, 8),  # extra retrainings of a round over budget before it is undone
    "splice": Int(0, 1 << 20),  # steps between choices of the mask while retraining (0: off)
    "retrain_epochs": EXTRA_EPOCHS,
    "retrain_lr_factor": FACTOR,
    "retrain_shift": Int(0, 16, null=True),
    "bits": BITS_OR_AUTO,
    "init": INIT,
    "finetune_epochs": EXTRA_EPOCHS,
    "finetune_lr": RATE,
    "small": OneOf(("auto", *SMALL)),
    "index_bits": INDEX_BITS,
    "seed": SEED,
    "quick": Flag(),
}
"""The kind of every field of :class:`tinycompress.pipeline.Settings` (``--config FILE``)."""


def _read(kind: Field, text: str) -> Any:
    """``text`` as the JSON value ``kind`` checks (an int, a float, null for ``auto``, text)."""
    if text == "auto" and getattr(kind, "null", False):
        return None
    convert = {Int: int, Real: float}.get(type(kind))
    try:
        return convert(text) if convert else text
    except ValueError:
        return text  # refused by the check, with the text shown as it was given


def flag(kind: Field) -> Callable[[str], Any]:
    """An argparse ``type=`` for values of ``kind``: text in, checked value out.

    A bad value raises :class:`argparse.ArgumentTypeError` saying what ``kind`` expects.
    """
    def parse(text: str) -> Any:
        try:
            return kind.check(_read(kind, text), "value", UsageError)
        except UsageError:
            expected = kind.expected.replace(" or null", " or auto")
            raise argparse.ArgumentTypeError(f"expected {expected}, got {shown(text)}") from None
    return parse


def per_layer(text: str) -> dict[str, float]:
    """``NAME=SPARSITY`` pairs separated by commas -> ``{name: sparsity}`` (argparse type).

    Every sparsity must be a :data:`SPARSITY`; at least one pair, no layer named twice.
    """
    spec: dict[str, float] = {}
    for item in filter(None, text.split(",")):
        name, sep, value = (part.strip() for part in item.partition("="))
        if not (sep and name) or name in spec:
            why = f"{shown(name)} is named twice" if name in spec else f"cannot read {shown(item)}"
            raise argparse.ArgumentTypeError(
                f"{why}: expected NAME=SPARSITY pairs separated by commas, e.g. fc1=0.92,fc2=0.91")
        try:
            spec[name] = flag(SPARSITY)(value)
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{shown(name)}: {exc}") from None
    if not spec:
        raise argparse.ArgumentTypeError("expected at least one NAME=SPARSITY pair, e.g. fc1=0.92")
    return spec


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr (``PROG: error: WHAT``), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)}; see {self.prog} --help\n")
