"""The field checkers every file reader uses: types are exact, ranges closed or open as stated,
objects have no unknown key, JSON has no repeated key, and messages are one bounded line."""

import math

import pytest

from tinycompress.errors import DataError
from tinycompress.nn.schema import (
    Flag,
    Int,
    Items,
    OneOf,
    Real,
    Text,
    check_object,
    parse_json,
    plain,
)


def refused(field, value):
    with pytest.raises(DataError, match=r"^f is .*; expected ") as info:
        field.check(value, "f", DataError)
    assert info.value.args[0].isprintable()


@pytest.mark.parametrize("value", [2.0, True, False, "2", None, [2], 0, 11, 10**100])
def test_an_integer_is_an_int_in_range(value):
    refused(Int(1, 10), value)


def test_accepted_values_come_back():
    assert Int(1, 10).check(10, "f", DataError) == 10
    assert Int(1, 10, null=True).check(None, "f", DataError) is None
    assert Real(0, 1, hi_open=True).check(0, "f", DataError) == 0.0
    assert isinstance(Real().check(3, "f", DataError), float)
    assert Flag().check(False, "f", DataError) is False
    assert Text(3).check("abc", "f", DataError) == "abc"
    assert OneOf(("float32",)).check("float32", "f", DataError) == "float32"
    assert Items(2, Int(0, 9)).check([1, 2], "f", DataError) == [1, 2]


@pytest.mark.parametrize("field,value", [
    (Real(0, 1, hi_open=True), 1.0), (Real(0, 1, lo_open=True), 0), (Real(0, 1), -1e-300),
    (Real(), math.nan), (Real(), math.inf), (Real(), -math.inf), (Real(), True), (Real(), "1"),
    (Real(), None), (Flag(), 1), (Flag(), "true"), (Flag(), None),
    (Text(3), "abcd"), (Text(3), ""), (Text(3), "a\nb"), (Text(3), "a\x1b"), (Text(3, "/"), "a/"),
    (Text(3), 5), (OneOf((1,)), True), (OneOf((1,)), 1.0), (OneOf(("a",)), ["a"]),
    (Items(2), (1, 2)), (Items(2), "ab"), (Items(2, Int(0, 9)), [1, 10]),
])
def test_each_checker_refuses_what_it_should(field, value):
    with pytest.raises(DataError, match=r"^f(\[\d\])? (is|has) "):
        field.check(value, "f", DataError)


def test_stated_ranges_read_as_intervals():
    assert Real(0, 1, hi_open=True).expected == "a finite number in [0, 1)"
    assert Real(0, math.inf, lo_open=True).expected == "a finite number in (0, inf)"
    assert Real().expected == "a finite number"
    assert Int(0, 5, null=True).expected == "an integer in 0..5 or null"


def test_objects_have_known_keys_and_every_required_one():
    fields = {"a": Int(0, 9), "b": Flag()}
    assert check_object({"a": 1}, fields, "o", DataError) == {"a": 1}
    with pytest.raises(DataError, match=r"^o has the unknown key 'c'; allowed: a, b$"):
        check_object({"a": 1, "c": 2}, fields, "o", DataError)
    with pytest.raises(DataError, match=r"^o lacks the key 'b'; required: a, b$"):
        check_object({"a": 1}, fields, "o", DataError, required=fields)
    with pytest.raises(DataError, match=r"^o\.b is 1; expected true or false$"):
        check_object({"b": 1}, fields, "o", DataError)
    with pytest.raises(DataError, match=r"^o is \[\]; expected an object$"):
        check_object([], fields, "o", DataError)


def test_json_with_a_repeated_key_or_beyond_the_parser_is_refused():
    assert parse_json(b'{"a": [1, {"b": NaN}]}', "j", DataError)["a"][0] == 1
    for text, match in [(b'{"a": 1, "b": {"c": 1, "c": 2}}', "the key 'c' appears twice"),
                        (b"[" * 10**6, "not readable JSON"), (b"\xc3", "not readable JSON"),
                        (b"1" * 5000, "not readable JSON"), (b"{", "not readable JSON")]:
        with pytest.raises(DataError, match=match) as info:
            parse_json(text, "j", DataError)
        assert len(str(info.value)) < 300


def test_values_and_plain_text_are_escaped_and_cut():
    with pytest.raises(DataError) as info:
        Text(5).check("x\n" * 10**6, "name", DataError)
    message = str(info.value)
    assert "\n" not in message and "\\n" in message and len(message) < 300
    assert plain("a/b c") == "a/b c" and plain("a\nb") == "a\\nb" and len(plain("x" * 999)) == 200
