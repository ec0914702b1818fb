"""The kinds of value commands and settings files take: text read as the kind expects, checked."""

from __future__ import annotations

import argparse

import pytest

from tinycompress import arguments
from tinycompress.arguments import flag


@pytest.mark.parametrize(("kind", "text", "value"), [
    (arguments.SEED, "0", 0),
    (arguments.SEED, "4294967295", 2**32 - 1),
    (arguments.SPARSITY, "0", 0.0),
    (arguments.SPARSITY, "0.999", 0.999),
    (arguments.INDEX_BITS, "auto", None),
    (arguments.INDEX_BITS, "16", 16),
    (arguments.BITS, "fc1=3,fc=4", "fc1=3,fc=4"),
])
def test_good_text_becomes_its_value(kind, text, value) -> None:
    got = flag(kind)(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(("kind", "text"), [
    (arguments.SEED, "1.0"),  # an integer is written as one
    (arguments.SEED, "auto"),  # only a kind that may be null reads auto
    (arguments.SEED, "9" * 5000),  # too long for Python to read as an int
    (arguments.RATE, "1e999"),  # inf
    (arguments.SPARSITY, "0x1"),
    (arguments.BITS, "fc=3,"),
    (arguments.BITS, "conv=8,fc=17"),
])
def test_bad_text_is_refused_with_the_range_and_the_text(kind, text) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="^expected ") as info:
        flag(kind)(text)
    message = str(info.value)
    assert kind.expected.replace(" or null", " or auto") in message and len(message) < 400


def test_a_parser_error_is_one_escaped_line_with_status_2(capsys) -> None:
    parser = arguments.Parser(prog="tinycompress demo")
    parser.add_argument("--n", type=flag(arguments.ROUNDS))
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["--n", "0\n1"])
    assert info.value.code == 2
    assert capsys.readouterr().err == ("tinycompress demo: error: argument --n: expected an "
                                       "integer in 1..100, got '0\\n1'; see tinycompress demo "
                                       "--help\n")
