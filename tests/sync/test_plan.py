"""The pure planner: decisions, the keeper rule, sharding and argument checks (no I/O)."""

from __future__ import annotations

import math

import pytest

from airflow_provider_music.core import InvalidInputError
from airflow_provider_music.sync import plan as P

V0 = P.Local(100, 1000.0, "a" * 64)


def rec(id_: int, size: int = 100, mtime: float = 1000.0, sha: str | None = "a" * 64, state: int = 1) -> P.Rec:
    return P.Rec(id_, state, size, mtime, bytes.fromhex(sha) if sha else None, P.meta_digest("t", {}))


def test_decisions_from_the_listing_then_from_the_hash():
    scan = P.Local(100, 1000.0)  # what the walk knows: no hash
    assert P.decide(scan, []) == (P.UPLOAD, None)
    assert P.decide(scan, [rec(5), rec(3)]) == (P.UNCHANGED, rec(3))  # the lowest id is kept
    assert P.decide(scan, [rec(3, state=-1)]) == (P.UPLOAD, None)  # an error is never kept
    assert P.decide(scan, [rec(3, size=99)]) == (P.UPLOAD, None)  # a new size: changed for sure, no read
    assert P.decide(scan, [rec(3, mtime=5.0)]) == (P.VERIFY, None)
    assert P.decide_hashed(V0, [rec(3, mtime=5.0)]) == (P.TOUCHED, rec(3, mtime=5.0))
    assert P.decide_hashed(P.Local(100, 1000.0, "b" * 64), [rec(3, mtime=5.0)]) == (P.UPLOAD, None)


@pytest.mark.parametrize("order", [(1, 2, 3), (3, 2, 1), (2, 3, 1)])
def test_every_run_agrees_on_the_keeper_whatever_it_saw_first(order):
    recs = [rec(i) for i in order] + [rec(9, size=50), rec(0, state=-1)]
    keep, deletable = P.converge(recs, V0)
    assert keep == rec(1) and {r.id for r in deletable} == {2, 3, 9, 0}


def test_nothing_deletable_without_a_keeper_of_the_current_content():
    # the local file changed to a version nobody uploaded yet: every record is older, keep them all for now
    assert P.converge([rec(1), rec(2, size=7)], P.Local(123, 5.0)) == (None, [])


def test_record_of_keeps_only_the_syncs_files_and_their_catalog():
    raw = {"id": "7", "state": "1", "title": "x", "user_defined": {"catalog_path": "a.wav", "catalog_size": 1, "catalog_id": "L"}}
    assert P.record_of(raw, "L")[0] == "a.wav"
    assert P.record_of(raw, None) is None  # another catalog's label: never a run without it (issue 21 §1)
    assert P.record_of(raw, "other") is None
    assert P.record_of({"id": 1, "user_defined": {"isrc": "x"}}, None) is None
    assert P.record_of({"id": 1, "user_defined": "not a dict"}, None) is None


def test_meta_digest_ignores_markers():
    assert P.meta_digest("t", {"a": 1, "catalog_size": 5}) == P.meta_digest("t", {"a": 1})
    assert P.meta_digest("t", {"a": 1}) != P.meta_digest("t", {"a": 2})


def test_shards_are_stable_and_cover_every_path():
    paths = [f"artist{i % 7}/track{i}.wav" for i in range(1000)]
    for k in (1, 2, 3, 8):
        shards = [P.shard_of(p, k) for p in paths]
        assert all(0 <= s < k for s in shards) and len(set(shards)) == k
    assert P.shard_of("a/b.wav", 4) == __import__("zlib").crc32(b"a/b.wav") % 4  # same in every process


@pytest.mark.parametrize(("value", "expected"), [(None, (0, 1)), ("1/2", (1, 2)), (" 0 / 3 ", (0, 3)), ((2, 4), (2, 4)), (["1", "2"], (1, 2))])
def test_parse_shard(value, expected):
    assert P.parse_shard(value) == expected


@pytest.mark.parametrize("value", ["2/2", "-1/2", "1/0", "x/2", "1", "1/2/3", 3, {"i": 1}, "1.5/2"])
def test_parse_shard_rejects(value):
    with pytest.raises(InvalidInputError, match="shard"):
        P.parse_shard(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -0.1, 1.5, "x", None, True, "nan"])
def test_ratio_rejects(value):
    with pytest.raises(InvalidInputError, match="max_delete_ratio"):
        P.check_ratio(value, "max_delete_ratio")


@pytest.mark.parametrize("value", [-1, "-3", 1.5, "x", math.nan, math.inf, True, [1]])
def test_count_rejects(value):
    with pytest.raises(InvalidInputError, match="max_delete"):
        P.check_count(value, "max_delete")


def test_numeric_strings_accepted():
    assert P.check_ratio("0.25", "r") == 0.25
    assert P.check_count("10", "c") == 10 and P.check_count(None, "c") is None and P.check_count(3.0, "c") == 3


@pytest.mark.parametrize(
    "raw",
    [
        {"id": "7", "state": "x", "user_defined": {"catalog_path": "a.wav", "catalog_size": math.nan}},
        {"id": 7, "state": None, "user_defined": {"catalog_path": "a.wav", "catalog_mtime": "soon"}},
        {"id": 7, "state": {}, "user_defined": {"catalog_path": "a.wav", "catalog_sha256": "zz" * 32}},
        {"id": 7, "state": 1, "user_defined": {"catalog_path": "a.wav", "catalog_size": "100", "catalog_mtime": math.inf}},
    ],
)
def test_hostile_listing_records_never_count_as_current(raw):
    path, r = P.record_of(raw, None)
    assert path == "a.wav" and r.id == 7 and r.sha is None
    assert P.decide(P.Local(100, 1000.0), [r])[0] == P.UPLOAD


@pytest.mark.parametrize("file_id", ["1e999", math.inf, math.nan, [1], None, 0, -3, "x"])
def test_records_without_a_usable_id_are_ignored(file_id):
    assert P.record_of({"id": file_id, "state": 1, "user_defined": {"catalog_path": "a.wav"}}, None) is None
