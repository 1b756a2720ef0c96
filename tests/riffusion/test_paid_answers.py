"""Issue 21 §2 for Riffusion: once the songs (or the upload) exist, an answer that only DESCRIBES oddly - a
text duration, an object title, lyrics as a list, NaN as text - never fails the task (the value is converted
or dropped, with a warning); what DECIDES (ids, states, the copyright answer) stays strict. A retry meets the
same answer without paying again. Driven through the operators' finish and summary lines on a hostile server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_music.contract.riffusion import copyright_problem, parse_upload, song_summary
from airflow_provider_music.core.errors import InvalidResponseError
from airflow_provider_music.operators.riffusion import RiffusionComposeOperator, RiffusionUploadAudioOperator
from airflow_provider_music.testing.audio import write_sine_wav
from tests.conftest import FakeTaskStateStore
from tests.support.hostile import HostileServer, json_body

#: Describe-only values of the wrong type: text for a number, an object for a text, NaN/inf as text, lists.
HOSTILE_DESCRIBE = {
    "duration_text": {"duration_s": "3:20"}, "duration_number_text": {"duration_s": "12.5"},
    "duration_nan": {"duration_s": "NaN"}, "duration_inf": {"duration_s": "inf"},
    "duration_object": {"duration_s": {"s": 1}}, "duration_list": {"duration_s": [1, 2]},
    "duration_bool": {"duration_s": True}, "title_object": {"title": {"text": "x"}}, "title_list": {"title": ["a"]},
    "title_number": {"title": 12}, "lyrics_list": {"lyrics": ["la", "la"]}, "lyrics_object": {"lyrics": {"a": 1}},
    "sound_number": {"sound": 1e308}, "created_object": {"created_at": {"t": 0}}, "image_url_list": {"image_url": [1]},
    "everything": {"duration_s": "x", "title": {}, "lyrics": 5, "sound": [], "created_at": [], "image_id": {}},
}
CREATE = "/v1/riffusion/music/create-prompt"


@pytest.fixture
def connect(set_connection):
    def _connect(url: str) -> None:
        set_connection("riffusion_default", "riffusion", host=url + "/v1/riffusion/")

    return _connect


def _song(sid: str, **odd: Any) -> dict[str, Any]:
    return {"id": sid, "title": "T", "status": "completed", "duration_s": 30.0, "lyrics": "la",
            "download_url": f"https://cdn.example/{sid}.m4a", **odd}


@pytest.mark.parametrize("odd", list(HOSTILE_DESCRIBE.values()), ids=list(HOSTILE_DESCRIBE))
def test_compose_finishes_whatever_describe_only_fields_hold(connect, make_context, odd):
    with HostileServer() as api:
        api.route(CREATE, json_body({"jobs": [{"id": "song-1"}]}), method="POST")
        api.route("/v1/riffusion/music/", json_body([_song("song-1", **odd)]), method="GET")
        connect(api.url)
        store = FakeTaskStateStore()
        for _try in (1, 2):  # the retry reconnects to the same songs and meets the same answer: no second create
            result = RiffusionComposeOperator(task_id="c", prompt="x", poll_interval=0.05, timeout=5).execute(
                make_context(store))
            assert result["song_ids"] == ["song-1"]
            json.dumps(result, allow_nan=False)  # XCom-safe: no NaN, no object where a text is expected
        assert len([r for r in api.requests if r.method == "POST"]) == 1
    summary = result["songs"][0]
    assert summary.get("duration_s") is None or isinstance(summary["duration_s"], float)
    for key in ("title", "lyrics", "sound", "created_at"):
        assert summary.get(key) is None or isinstance(summary[key], str)


@pytest.mark.parametrize(("field", "value"), [("id", {"x": 1}), ("id", 7), ("status", {"s": "completed"}),
                                              ("status", ["completed"]), ("status", 1)])
def test_deciding_song_fields_stay_strict_and_name_the_field(field, value):
    with pytest.raises(InvalidResponseError, match=f"'{field}'"):
        song_summary({**_song("s1"), field: value})


@pytest.mark.parametrize("odd", [
    {"name": {"a": 1}, "created_at": [1], "type": 5, "storage_name": {}},
    {"audible_magic_response": {"statusCode": "x", "statusDescription": {"a": 1}, "unknownMediaFileDuration": "NaN",
                                "matches": []}},
    {"lyrics": ["la"], "transcribed_lyrics": {"a": 1}},
], ids=["texts", "audible_magic_describe", "lyrics"])
def test_upload_finishes_whatever_describe_only_fields_hold(connect, make_context, tmp_path, odd):
    body = {"status": "complete", "id": "up-1:tr-1", "audio_upload_id": "up-1", "is_flagged": False, **odd}
    with HostileServer() as api:
        api.route("/v1/riffusion/music/upload-audio/", json_body({"job_id": "up-1:tr-1"}), method="POST")
        api.route("/v1/riffusion/music/upload-audio/", json_body(body), method="GET")
        connect(api.url)
        out = RiffusionUploadAudioOperator(task_id="u", source=str(write_sine_wav(tmp_path / "a.wav", 0.1)),
                                           poll_interval=0.05, timeout=5, fail_on_copyright_match=True).execute(
            make_context())
    assert out["status"] == "complete"
    json.dumps({k: v for k, v in out.items() if k != "raw"}, allow_nan=False)


@pytest.mark.parametrize("odd", [
    {"audible_magic_response": {"matches": {"amItemID": "1"}}}, {"audible_magic_response": {"matches": "yes"}},
    {"audible_magic_response": {"matches": [1, 2]}}, {"audible_magic_response": "matched"}, {"is_flagged": "true"},
])
def test_unreadable_copyright_answer_is_never_no_match(odd):
    upload = parse_upload({"status": "complete", "id": "u", "is_flagged": False, **odd})
    assert copyright_problem(upload) and "unreadable" in copyright_problem(upload)
