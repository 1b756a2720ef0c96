"""AI-music detection (issue 23 §1), pure parts: the container configuration and the per-file results.

Classes of defect: a container without ``ai_detection`` taken for a scan that asks for it (or the other way
round), and an ``ai_detection`` answer that is no verdict read as "not AI". Cases: the configuration key
and create body, the flag spelled every way a container answer may spell it, every hostile shape of the
deciding fields (wrong types, NaN, infinities, text numbers, out of [0, 1], unknown predictions, missing,
empty), tolerant describe-only fields (third-party ``start``/``end``/``stem``/``segments``), thresholds.
"""

from __future__ import annotations

import json
import math

import pytest

from airflow_provider_music.contract.acrcloud_ai import (
    ai_summary,
    check_ai_threshold,
    require_ai_verdict,
)
from airflow_provider_music.contract.acrcloud_fs import (
    ScanConfig,
    ai_flag_problem,
    container_ai_detection,
    container_mismatches,
)
from airflow_provider_music.core import InvalidInputError, InvalidResponseError

ITEM = {"prediction": "ai", "likely_source": "suno", "ai_probability": 0.93, "duration": 180,
        "source_probabilities": [{"source": "udio", "probability": 0.1}, {"source": "suno", "probability": 0.83}]}
CONTAINER = {"id": 5, "buckets": [{"id": 23, "name": "ACRCloud Music"}], "engine": 1, "region": "eu-west-1",
             "audio_type": "linein"}


def scanned(ai: object = ..., **over: object) -> dict:
    results: dict = {"music": [], "custom_files": []}
    if ai is not ...:
        results["ai_detection"] = ai
    return {"id": "f1", "cid": 7, "engine": 1, "state": -1, "results": results, **over}


# ---- configuration ---------------------------------------------------------------------------------------
def test_ai_detection_is_part_of_the_configuration():
    plain = ScanConfig.build(region="eu-west-1")
    ai = ScanConfig.build(region="eu-west-1", ai_detection=True)
    assert plain.key() != ai.key() and plain.container_name() != ai.container_name()
    assert ai.create_body("x")["ai_detection"] is True and "ai_detection" not in plain.create_body("x")
    assert "ai_detection on" in ai.describe()


def test_containers_without_ai_keep_their_names():
    """The key of a scan without AI detection is the one it had before the flag existed (no new containers)."""
    import hashlib

    text = json.dumps({"region": "eu-west-1", "buckets": ["ACRCloud Music"], "engine": 1, "audio_type": "linein"},
                      sort_keys=True, separators=(",", ":"))
    assert ScanConfig.build(region="eu-west-1").key() == hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.mark.parametrize("flag", ["yes", 1, None, "true"])
def test_ai_detection_argument_must_be_a_bool(flag):
    with pytest.raises(InvalidInputError, match="ai_detection"):
        ScanConfig.build(region="eu-west-1", ai_detection=flag)


@pytest.mark.parametrize(("raw", "flag"), [
    (True, True), (1, True), ("1", True), ("true", True), (" TRUE ", True), (1.0, True),
    (False, False), (0, False), ("0", False), ("false", False), (None, False), (..., False),
    ("maybe", None), (2, None), ([True], None), ({"on": 1}, None), (float("nan"), None),
])
def test_container_flag_spellings(raw, flag):
    container = dict(CONTAINER) if raw is ... else {**CONTAINER, "ai_detection": raw}
    assert container_ai_detection(container) is flag


@pytest.mark.parametrize(("raw", "asked", "problem"), [
    (False, True, "ai_detection is off, asked for on"),            # never reused for a scan that asks for it
    (..., True, "ai_detection is off, asked for on"),              # a container answer without the flag
    ("maybe", True, "unreadable"),
    (True, False, "ai_detection is on, asked for off"),            # decided: the other way round is refused too
    ("maybe", False, "unreadable"),
])
def test_container_with_another_ai_setting_is_a_mismatch(raw, asked, problem):
    container = dict(CONTAINER) if raw is ... else {**CONTAINER, "ai_detection": raw}
    config = ScanConfig.build(region="eu-west-1", ai_detection=asked)
    assert any(problem in p for p in container_mismatches(container, config))
    assert problem in (ai_flag_problem(container, asked) or "")


@pytest.mark.parametrize(("raw", "asked"), [(True, True), (1, True), (False, False), (..., False)])
def test_container_with_the_asked_ai_setting_matches(raw, asked):
    container = dict(CONTAINER) if raw is ... else {**CONTAINER, "ai_detection": raw}
    assert container_mismatches(container, ScanConfig.build(region="eu-west-1", ai_detection=asked)) == []


# ---- thresholds ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [0, 0.0, 0.5, 1, "0.7"])
def test_threshold_in_range(value):
    assert check_ai_threshold(value) == float(value)


def test_no_threshold_is_the_default_rule():
    assert check_ai_threshold(None) is None


@pytest.mark.parametrize("value", [-0.01, 1.01, 50, float("nan"), float("inf"), True, "high", [0.5]])
def test_threshold_out_of_range_names_the_argument(value):
    with pytest.raises(InvalidInputError, match="ai_threshold"):
        check_ai_threshold(value)


@pytest.mark.parametrize(("probability", "threshold", "verdict"), [
    (0.93, 0.5, "ai"), (0.5, 0.5, "ai"), (0.4999, 0.5, "human"), (0.93, 0.95, "human"), (0.0, 0.0, "ai"),
    (1.0, 1.0, "ai"), (0.02, 0.5, "human"), (0, 0.5, "human"), (1, 0.5, "ai"),
])
def test_verdict_follows_the_threshold(probability, threshold, verdict):
    item = {**ITEM, "ai_probability": probability, "prediction": "human"}
    summary = ai_summary(scanned([item]), threshold=threshold)
    assert summary["ai_verdict"] == verdict and summary["ai_probability"] == float(probability)


@pytest.mark.parametrize("items", [
    [{**ITEM, "prediction": "ai", "ai_probability": 0.45}],  # the service says AI below 0.5
    [{**ITEM, "prediction": "human", "ai_probability": 0.97}],  # ... or a high probability says it
    [{**ITEM, "prediction": "human", "ai_probability": 0.1}, {**ITEM, "prediction": "ai", "ai_probability": 0.3}],
])
def test_by_default_a_prediction_and_a_probability_that_disagree_never_make_a_file_human(items):
    summary = ai_summary(scanned(items))
    assert summary["ai_verdict"] == "ai" and summary["ai_prediction"] == "ai" or summary["ai_probability"] >= 0.5


def test_an_explicit_threshold_decides_and_a_disagreeing_prediction_is_logged(caplog):
    item = {**ITEM, "prediction": "ai", "ai_probability": 0.45}
    with caplog.at_level("WARNING"):
        assert ai_summary(scanned([item]), threshold=0.9)["ai_verdict"] == "human"
    assert "predicts 'ai' at probability 0.450, under ai_threshold=0.9" in caplog.text
    assert ai_summary(scanned([item]), threshold=0.4)["ai_verdict"] == "ai"


# ---- readable results -----------------------------------------------------------------------------------------
def test_summary_names_verdict_probability_and_source():
    summary = ai_summary(scanned([ITEM]))
    assert summary["ai_verdict"] == "ai" and summary["ai_probability"] == 0.93
    assert summary["ai_likely_source"] == "suno" and summary["ai_prediction"] == "ai"
    entry = summary["ai_detection"][0]
    assert entry["duration"] == 180.0
    assert [s["source"] for s in entry["source_probabilities"]] == ["suno", "udio"]  # highest first


def test_highest_entry_decides():
    items = [{**ITEM, "stem": "vocals", "ai_probability": 0.2, "prediction": "human", "likely_source": None},
             {**ITEM, "stem": "instrumental", "ai_probability": 0.81, "likely_source": "udio"}]
    summary = ai_summary(scanned(items))
    assert summary["ai_verdict"] == "ai" and summary["ai_likely_source"] == "udio"
    assert [e["stem"] for e in summary["ai_detection"]] == ["vocals", "instrumental"]


@pytest.mark.parametrize(("prediction", "normal"), [
    ("AI", "ai"), ("ai-generated", "ai"), ("AI_Generated", "ai"), ("Human", "human"), ("human-made", "human"),
    ("not_ai", "human"),
])
def test_prediction_spellings(prediction, normal):
    assert ai_summary(scanned([{**ITEM, "prediction": prediction}]))["ai_prediction"] == normal


def test_third_party_fields_are_accepted_when_present():
    item = {**ITEM, "start": 0, "end": "180", "stem": "vocals",
            "segments": [{"start": 0, "end": 30, "ai_probability": 0.9, "prediction": "ai"}, "junk", {"start": "x"}]}
    entry = ai_summary(scanned([item]))["ai_detection"][0]
    assert entry["start"] == 0.0 and entry["end"] == 180.0 and entry["stem"] == "vocals"
    assert entry["segments"][0] == {"start": 0.0, "end": 30.0, "prediction": "ai", "ai_probability": 0.9}
    assert entry["segments"][1] == {}  # an unusable describe-only value is dropped, never fatal


@pytest.mark.parametrize("over", [
    {"likely_source": 7.5}, {"likely_source": {"x": 1}}, {"likely_source": None}, {"duration": "long"},
    {"duration": float("nan")}, {"source_probabilities": "suno"}, {"source_probabilities": [1, None, {"p": 2}]},
    {"source_probabilities": [{"source": "suno", "probability": 7}]}, {"segments": "many"}, {"stem": ["x"]},
])
def test_describe_only_fields_never_decide(over, caplog):
    summary = ai_summary(scanned([{**ITEM, **over}]))
    assert summary["ai_verdict"] == "ai" and summary["ai_probability"] == 0.93


def test_ai_detection_beside_results_or_as_one_object():
    assert ai_summary({"id": "f", "results": {}, "ai_detection": [ITEM]})["ai_verdict"] == "ai"
    assert ai_summary(scanned(ITEM))["ai_verdict"] == "ai"


# ---- hostile shapes: never "not AI" ---------------------------------------------------------------------------
HOSTILE = [
    pytest.param(..., "holds no ai_detection", id="missing"),
    pytest.param(None, "holds no ai_detection", id="null"),
    pytest.param([], "empty", id="empty"),
    pytest.param("ai", "not a list", id="text"),
    pytest.param(0.9, "not a list", id="number"),
    pytest.param(["ai"], "not an object", id="entry-text"),
    pytest.param([None], "not an object", id="entry-null"),
    pytest.param([{**ITEM, "ai_probability": None}], "ai_probability", id="prob-null"),
    pytest.param([{k: v for k, v in ITEM.items() if k != "ai_probability"}], "ai_probability", id="prob-missing"),
    pytest.param([{**ITEM, "ai_probability": float("nan")}], "ai_probability", id="prob-nan"),
    pytest.param([{**ITEM, "ai_probability": math.inf}], "ai_probability", id="prob-inf"),
    pytest.param([{**ITEM, "ai_probability": -0.1}], "ai_probability", id="prob-negative"),
    pytest.param([{**ITEM, "ai_probability": 1.5}], "ai_probability", id="prob-above-one"),
    pytest.param([{**ITEM, "ai_probability": 93}], "ai_probability", id="prob-percent"),
    pytest.param([{**ITEM, "ai_probability": "0.9"}], "ai_probability", id="prob-text"),
    pytest.param([{**ITEM, "ai_probability": True}], "ai_probability", id="prob-bool"),
    pytest.param([{**ITEM, "ai_probability": [0.9]}], "ai_probability", id="prob-list"),
    pytest.param([{**ITEM, "prediction": "likely"}], "prediction", id="prediction-unknown"),
    pytest.param([{**ITEM, "prediction": ""}], "prediction", id="prediction-empty"),
    pytest.param([{**ITEM, "prediction": None}], "prediction", id="prediction-missing"),
    pytest.param([{**ITEM, "prediction": 1}], "prediction", id="prediction-number"),
    pytest.param([ITEM, {**ITEM, "ai_probability": "high"}], "ai_probability", id="second-entry-bad"),
]


@pytest.mark.parametrize(("ai", "problem"), HOSTILE)
def test_hostile_ai_results_are_unreadable_never_human(ai, problem):
    summary = ai_summary(scanned(ai))
    assert summary["ai_verdict"] == "unreadable" and summary["ai_probability"] is None
    assert problem in summary["ai_problem"]
    with pytest.raises(InvalidResponseError, match=f"scan file f1.*{problem}.*no verdict") as exc:
        require_ai_verdict(summary, where="scan file f1 (song.wav)")
    assert "not reported as 'not AI'" in str(exc.value)


def test_results_not_an_object_are_unreadable():
    assert ai_summary({"id": "f1", "results": "none"})["ai_verdict"] == "unreadable"
