"""core.validation: one id validator, path segments, number, text and list validators (InvalidInputError
naming the argument, before any request)."""

from __future__ import annotations

import math

import pytest

from airflow_provider_music.core.errors import InvalidInputError
from airflow_provider_music.core.validation import (
    non_negative_number,
    path_segment,
    positive_number,
    validate_id,
    validate_ids,
    validate_number,
    validate_str_list,
    validate_text,
)

BAD_IDS = [
    None, "", "   ", "\t\n", "None", "none", "null", "NULL", "undefined", "nan", "{'id': 'a'}", "['a', 'b']", "('a',)",
    "{}", "[]", ".", "..", " .. ", "a/b", "/", "a\\b", "\\", "a?b", "?", "a#b", "#", "a\x00b", "a\x1fb", "a\x7fb",
    "a b", "a\nb", "%2e%2e", "%2E%2E", "%2F", "%2f", "a%2Fb", "%5C", "%3F", "%23", "%00", "%252e%252e", "x" * 257,
    True, False, 1.5, b"abc", ["a"], {"id": "a"}, object(),
]
GOOD_IDS = [("abc", "abc"), ("  abc \n", "abc"), ("3fa85f64-5717-4562-b3fc-2c963f66afa6", None), (12345, "12345"),
            ("a.b", None), ("a..b", None), ("A_b-c~1", None), ("x" * 256, None), ("søng", None)]


# ids stable across processes (pytest-xdist workers must collect the same names): no object address
@pytest.mark.parametrize("value", BAD_IDS, ids=[type(v).__name__ if type(v) is object else repr(v)[:30] for v in BAD_IDS])
def test_bad_ids_rejected_naming_the_argument(value):
    with pytest.raises(InvalidInputError, match=r"^song_id"):
        validate_id(value, "song_id")


@pytest.mark.parametrize(("value", "expected"), GOOD_IDS)
def test_good_ids_returned_as_str(value, expected):
    assert validate_id(value, "song_id") == (expected if expected is not None else value)


def test_optional_and_lists():
    assert validate_id(None, "x", optional=True) is None
    assert validate_ids("a", "ids") == ["a"]
    assert validate_ids(["a", 2], "ids") == ["a", "2"]
    with pytest.raises(InvalidInputError, match=r"ids\[1\]"):
        validate_ids(["a", ".."], "ids")
    with pytest.raises(InvalidInputError, match="at least one"):
        validate_ids([], "ids")
    with pytest.raises(InvalidInputError, match="must be a list"):
        validate_ids({"a": 1}, "ids")


@pytest.mark.parametrize(("value", "expected"), [("abc", "abc"), ("a b", None), ("ü", "%C3%BC"), ("a:b@c", "a%3Ab%40c")])
def test_path_segment_encodes_or_rejects(value, expected):
    if expected is None:
        with pytest.raises(InvalidInputError):
            path_segment(value, "id")
    else:
        assert path_segment(value, "id") == expected


BAD_NUMBERS = ["x", "", " ", "nan", "NaN", "inf", "-inf", "Infinity", "1e999", math.nan, math.inf, -math.inf, None,
               True, [1], {"a": 1}, b"1"]


@pytest.mark.parametrize("value", BAD_NUMBERS, ids=[repr(v) for v in BAD_NUMBERS])
def test_bad_numbers_name_the_argument(value):
    with pytest.raises(InvalidInputError, match=r"^poll_interval"):
        positive_number(value, "poll_interval")


@pytest.mark.parametrize(("value", "expected"), [(1, 1.0), ("2.5", 2.5), (" 3 ", 3.0), (0.001, 0.001), ("1e3", 1000.0)])
def test_numeric_strings_accepted(value, expected):
    assert positive_number(value, "timeout") == expected


def test_number_bounds_and_options():
    with pytest.raises(InvalidInputError, match="must be > 0"):
        positive_number(0, "timeout")
    with pytest.raises(InvalidInputError, match="must be >= 0"):
        non_negative_number(-1, "delay")
    assert non_negative_number("0", "delay") == 0.0
    assert positive_number(None, "timeout", optional=True) is None
    assert positive_number("", "timeout", optional=True) is None
    with pytest.raises(InvalidInputError, match="must be <= 10"):
        validate_number(11, "n", maximum=10)
    with pytest.raises(InvalidInputError, match="whole number"):
        validate_number("2.5", "n", integer=True)
    assert validate_number("7", "n", integer=True) == 7


def test_text_and_string_lists():
    assert validate_text("hi", "prompt", max_length=5) == "hi"
    with pytest.raises(InvalidInputError, match=r"prompt is 6 characters long; the limit is 5"):
        validate_text("x" * 6, "prompt", max_length=5)
    with pytest.raises(InvalidInputError, match="prompt must not be empty"):
        validate_text("  ", "prompt")
    with pytest.raises(InvalidInputError, match="prompt must be a string"):
        validate_text(None, "prompt")
    assert validate_text(None, "prompt", optional=True) is None
    assert validate_str_list(["a", "b"], "extensions") == ["a", "b"]
    for bad, where in (([None], r"extensions\[0\]"), (["a", 3], r"extensions\[1\]"), (["a", ""], r"extensions\[1\]"),
                       ("wav", "must be a list"), (None, "must be a list")):
        with pytest.raises(InvalidInputError, match=where):
            validate_str_list(bad, "extensions")
    assert validate_str_list("wav", "extensions", allow_single=True) == ["wav"]
    with pytest.raises(InvalidInputError, match="holds 3 items; the limit is 2"):
        validate_str_list(["a", "b", "c"], "tags", max_items=2)
