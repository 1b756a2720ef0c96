"""AudioShake ids sent back are held to the rule of ids users give (issue 12: ids with ``..``, ``/``, ``?``).

The class of defect: an upload or create answered with an id a later call refuses (``GET /job/{id}``, the
create body, the ledger) was stored, and the task then failed *after* the paid create, blaming a user
argument. Now such an answer is an unusable (so possibly lost) answer: looked for, never re-sent blindly,
and reported with the one ``LostAnswerError`` ("may have been created; ids unknown: check ...").
"""

from __future__ import annotations

import pytest

from airflow_provider_music.core.errors import InvalidResponseError, LostAnswerError, answer_lost
from airflow_provider_music.hooks.audioshake import AudioShakeHook
from airflow_provider_music.hooks.audioshake_api import WorkRequest
from tests.support.hooks import make_hook
from tests.support.hostile import HostileServer, json_body

TOKEN = "as-Hostile-ids-Token-0123456789"
BAD_IDS = ["../x/y/zzzz", "abc/def/ghi", "abcdefgh?x=1", "..", "abcd#efgh", "x" * 300, "abcd efgh", "%2e%2e%2fabc"]
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64)


def _hook(monkeypatch, server: HostileServer, api: str) -> AudioShakeHook:
    hook = make_hook(monkeypatch, AudioShakeHook, server.url + "/", TOKEN, {"api": api})
    assert isinstance(hook, AudioShakeHook)
    return hook


def _posts(server: HostileServer, path: str) -> int:
    return sum(1 for r in server.requests if r.method == "POST" and r.path.rstrip("/") == path.rstrip("/"))


@pytest.mark.parametrize("bad", BAD_IDS)
def test_legacy_job_create_with_an_unusable_id_is_lost_not_resent(monkeypatch, bad):
    with HostileServer() as server:
        server.route("/job/", json_body({"job": {"id": bad, "status": "processing"}}), method="POST")
        hook = _hook(monkeypatch, server, "jobs")
        ledger: dict = {}
        work = WorkRequest(source={"asset_id": "classet0000000000000001"}, formats={"vocals": "wav"}, marker="m1")
        for _try in (1, 2):  # the ledger keeps the pending create: the next try does not send it again
            with pytest.raises(LostAnswerError, match="'vocals' may have been created; ids unknown: check"):
                hook.backend.submit(work, ledger, lambda _ledger: None)
        assert _posts(server, "/job/") == 1 and ledger["pending"] == {"vocals": "m1"}


@pytest.mark.parametrize("bad", BAD_IDS)
def test_task_create_with_an_unusable_id_is_looked_for_then_lost(monkeypatch, bad):
    with HostileServer() as server:
        server.route("/tasks", json_body({"id": bad, "targets": []}), method="POST")
        server.route("/tasks", json_body({"tasks": []}), method="GET")
        hook = _hook(monkeypatch, server, "tasks")
        work = WorkRequest(source={"asset_id": "classet0000000000000001"}, formats={"vocals": "wav"}, marker="m1")
        with pytest.raises(LostAnswerError, match="may have been created; ids unknown: check GET /tasks"):
            hook.backend.submit(work, {}, lambda _ledger: None)
        assert _posts(server, "/tasks") == 1


@pytest.mark.parametrize("bad", ["../x/y/zzzz", "abcdefgh?x=1", "x" * 300])
def test_task_lookup_listing_an_unusable_id_is_refused(monkeypatch, bad):
    """GET /tasks shows our marker with a hostile id: neither used nor ignored (that would create again)."""
    with HostileServer() as server:
        server.route("/tasks", json_body({"tasks": [{"id": bad, "metadata": "m1", "targets": []}]}), method="GET")
        hook = _hook(monkeypatch, server, "tasks")
        with pytest.raises(InvalidResponseError, match="unusable task id"):
            hook.tasks.find_task("m1")
        assert not [r for r in server.requests if r.method == "POST"]


@pytest.mark.parametrize("api", ["jobs", "tasks"])
@pytest.mark.parametrize("bad", ["../x/y/zzzz", "abcd/efgh", "x" * 300])
def test_upload_answered_with_an_unusable_asset_id(monkeypatch, tmp_path, api, bad):
    source = tmp_path / "song.wav"
    source.write_bytes(WAV)
    with HostileServer() as server:
        server.route("/upload/", json_body({"id": bad, "name": "song.wav"}), method="POST")
        server.route("/assets", json_body({"id": bad, "name": "song.wav"}), method="POST")
        server.route("/assets", json_body({"assets": []}), method="GET")
        hook = _hook(monkeypatch, server, api)
        with pytest.raises(LostAnswerError, match="may have been created; ids unknown: check") as info:
            hook.backend.upload(source, marker="m1")
        path = "/upload/" if api == "jobs" else "/assets"
        # legacy cannot list: one upload; Tasks: an empty listing proves it absent, one more upload at most
        assert _posts(server, path) == (1 if api == "jobs" else 2)
        assert answer_lost(info.value) and TOKEN not in str(info.value)
