"""core.validation.flatten_paths: what upstream operators produce is what downstream ones take."""

from __future__ import annotations

import pytest

from airflow_provider_music.core.errors import InvalidInputError
from airflow_provider_music.core.validation import flatten_paths, many_results


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/a.wav", ["/a.wav"]),
        (["/a.wav", "/b.wav"], ["/a.wav", "/b.wav"]),
        ([["/a.wav"], ["/b.wav", "/c.wav"]], ["/a.wav", "/b.wav", "/c.wav"]),  # mapped Riffusion download
        ({"files": ["/a.wav", "/b.wav"], "clip_ids": ["x"]}, ["/a.wav", "/b.wav"]),  # FlowMusic download
        ([{"files": ["/a.wav"]}, {"files": ["/b.wav"]}], ["/a.wav", "/b.wav"]),  # mapped FlowMusic download
        ((p for p in ["/a.wav"]) and ("/a.wav",), ["/a.wav"]),
    ],
)
def test_every_upstream_shape_flattens(value, expected):
    assert flatten_paths(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "None is not a file"),
        ([], "at least one file"),
        (["/a.wav", None], "None is not a file"),
        ({"outputs": {}}, "'files' list"),
        ([[[[[["/a.wav"]]]]]], "nested deeper"),
    ],
)
def test_bad_shapes_name_the_argument(value, message):
    with pytest.raises(InvalidInputError, match=message) as info:
        flatten_paths(value, argument="source")
    assert "source" in str(info.value)


def test_lists_and_results_return_lists():
    assert many_results(["/a"]) and many_results({"files": ["/a"]})
    assert not many_results("/a")
