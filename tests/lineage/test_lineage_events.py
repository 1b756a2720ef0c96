"""The OpenLineage events of ``example_music_pipeline`` run in real Airflow with the OpenLineage provider.

The run itself is the example-DAG suite's single run (tests/example_dags/test_example_dags.py turns the
provider on for it with the file transport, so ``make test`` runs the pipeline once);
:func:`check_pipeline_events` is what it asserts: every event valid against the OpenLineage schema (and
each facet against its own), the joined graph reference audio -> FlowMusic asset -> clip -> downloaded
file -> stems -> ACRCloud bucket file, and song file -> scan result, final paths only, no secret.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.lineage.events import (
    Node,
    complete_events,
    describe,
    edges,
    load_events,
    paths_from,
    schema_problems,
)

#: The kinds of datasets along the pipeline's two branches, from the reference track.
FINGERPRINT_CHAIN = ("flowmusic:assets", "flowmusic:clips", "file:songs", "file:stems", "acrcloud:buckets")
SCAN_CHAIN = ("flowmusic:assets", "flowmusic:clips", "file:songs", "acrcloud:containers")


def kind(node: Node) -> str:
    """``flowmusic:clips``, ``file:songs``, ... : the service and the first part of the name (file: folder)."""
    namespace, name = node
    if namespace == "file":
        return "file:" + ("stems" if "/stems/" in name else "songs" if "/songs/" in name else "other")
    return namespace.split("://")[0] + ":" + name.split("/")[0]


def chains(events: list[dict]) -> tuple[Node, set[tuple[str, ...]], list[list]]:
    """The reference file, the kinds of every path from it, and the paths."""
    graph = edges(events)
    [reference] = {i for i, task, _ in graph if task == "upload_reference_flowmusic"}
    paths = paths_from(graph, reference)
    return reference, {tuple(kind(node) for _, node in path) for path in paths}, paths


def check_pipeline_events(events_file: Path, output: Path, *, secrets: list[str]) -> None:
    """What the lineage test asserts on one run's events (see the module docstring)."""
    assert events_file.exists(), "the OpenLineage provider wrote no event (transport not configured?)"
    text = events_file.read_text()
    events = load_events(events_file)
    problems = schema_problems(events)
    assert not problems, problems[:5]
    reference, kinds, paths = chains(events)
    assert reference == ("file", str(output / "inputs" / "reference.wav"))
    assert FINGERPRINT_CHAIN in kinds and SCAN_CHAIN in kinds, sorted(kinds)
    full = next(p for p in paths if tuple(kind(n) for _, n in p) == FINGERPRINT_CHAIN)
    assert [task for task, _ in full] == ["upload_reference_flowmusic", "generate_variation", "download_flowmusic",
                                          "separate_stems", "fingerprint_stems"], describe(full, reference)
    for _, (namespace, name) in full:  # local files: final paths that exist (written atomically)
        assert namespace != "file" or Path(name).is_file(), name
    assert ".part" not in text  # lineage (hook-level included) never names a temporary file
    leaks = [s for s in secrets if s in text]
    assert not leaks, "a connection secret reached the OpenLineage events"
    music = {e["job"]["name"].split(".", 1)[1]: e["run"]["facets"].get("music") for e in complete_events(events)}
    assert music["generate_variation"]["facts"]["jobid"] and music["generate_variation"]["service"] == "flowmusic"
    verdicts = music["copyright_scan"]["facts"]["verdicts"]
    assert verdicts and {v["copyright"] for v in verdicts} <= {"match", "no match"}
    assert music["upload_reference_flowmusic"]["facts"]["asset_id"]
    assert all(music[t] is not None for t in ("stems_bucket", "download_flowmusic", "separate_stems",
                                              "fingerprint_stems")), music


def test_kind_names_the_pipeline_steps():
    assert kind(("file", "/o/songs/a.wav")) == "file:songs"
    assert kind(("file", "/o/stems/a/vocals.wav")) == "file:stems"
    assert kind(("acrcloud://acrcloud.com", "buckets/1/files/2")) == "acrcloud:buckets"
    assert kind(("flowmusic://useapi.net", "clips/clip:1")) == "flowmusic:clips"


def test_schema_validation_catches_a_broken_event():
    good = {
        "eventType": "COMPLETE", "eventTime": "2026-01-01T00:00:00Z", "producer": "https://example.com/p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": "0190d2a4-6f5e-7c1a-8b3e-1f2a3b4c5d6e", "facets": {"music": {
            "_producer": "https://example.com/p", "service": "flowmusic", "facts": {}, "cost": None,
            "_schemaURL": "https://raw.githubusercontent.com/airflow-provider-music/airflow-provider-music/main/"
                          "docs/lineage-music-run-facet.json#/$defs/MusicRunFacet"}}},
        "job": {"namespace": "n", "name": "d.t"}, "inputs": [], "outputs": [{"namespace": "file", "name": "/x"}],
    }
    assert schema_problems([good]) == []
    broken = json.loads(json.dumps(good))
    del broken["outputs"][0]["name"]
    broken["run"]["facets"]["music"]["service"] = 3
    problems = schema_problems([broken])
    assert any("'name' is a required property" in p for p in problems)
    assert any("facet" in p for p in problems)
