"""The FlowMusic emulator is never kinder than the service (issue 21 §5), and the client copes with the service:

* an account in error state shows its ``error`` in GET accounts and GET accounts/{email}; the hook's
  pre-flight (``check_account`` / ``check_connection``) refuses it clearly;
* GET accounts/usage names the song of every charge (``conversation_id``/``conversation_title``);
* Trim ``end_s`` / replace ``mask_end_s`` past the clip's duration are refused (the client refuses first when
  it knows the duration);
* ``audio_url`` is a real MPEG-4 audio file (m4a), downloaded as ``.m4a``;
* clips exist for GET music, downloads and edits only once their job completed.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import time
from urllib.parse import quote

import pytest
import requests

from airflow_provider_music.core import InvalidInputError, sniff_container
from airflow_provider_music.hooks.flowmusic import FlowMusicAccountError, FlowMusicHook
from airflow_provider_music.operators.flowmusic import FlowMusicDownloadOperator, FlowMusicEditOperator
from airflow_provider_music.testing.audio import m4a_clip

TOKEN = "emulator-token"
EMAIL = "composer@example.com"
EDIT = "/v1/flowmusic/music/edit"
WAIT = {"poll_interval": 0.05, "timeout": 20}


@pytest.fixture
def api(music_emulator):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    base = music_emulator.url + "/v1/flowmusic/"

    def call(method: str, path: str, **kwargs):
        return session.request(method, base + path, timeout=30, **kwargs)

    return call


def _song(api, *, wait: bool = True) -> dict:
    job = api("POST", "music", json={"prompt": "lo-fi hip hop", "mode": "async"}).json()
    deadline = time.monotonic() + 10
    while wait and job["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = api("GET", f"jobs/{quote(job['jobid'], safe='')}").json()
    return job


# ---- accounts in error state -------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["break_account", "setting"])
def test_account_in_error_state_shows_its_error_everywhere(api, music_emulator, how):
    assert "error" not in api("GET", "accounts").json()[EMAIL]
    if how == "setting":
        music_emulator.state.settings["flowmusic.account_error"] = "refresh token rejected"
    else:
        music_emulator.state.apis["flowmusic"].store.break_account(EMAIL, "refresh token rejected")
    listed = api("GET", "accounts").json()[EMAIL]
    one = api("GET", f"accounts/{quote(EMAIL)}").json()
    assert listed["error"] == one["error"] == "refresh token rejected"
    assert "credits_remaining" not in one and "tokens_remaining" not in one  # omitted in error state
    assert api("POST", "music", json={"prompt": "x", "mode": "async"}).status_code == 596


@pytest.mark.parametrize("email", [None, EMAIL])
def test_preflight_refuses_an_account_in_error_state(music_emulator, email):
    hook = FlowMusicHook()
    assert EMAIL in hook.check_account(email)
    music_emulator.state.settings["flowmusic.account_error"] = "refresh token rejected"
    for check in (lambda: hook.check_account(email), hook.check_connection):
        with pytest.raises(FlowMusicAccountError, match="error state .*refresh token rejected.*Re-add it") as err:
            check()
        assert str(err.value).count(EMAIL) == 1


# ---- usage ------------------------------------------------------------------------------------------------
def test_usage_names_the_song_of_every_charge(api):
    song = _song(api)
    cover = api("POST", "music/edit", json={"operation": "cover", "clip": song["clips"][0]["clip"],
                                            "mode": "async"}).json()
    assert cover["status"] == "pending"
    _song(api)  # another song
    usage = api("GET", "accounts/usage", params={"email": EMAIL}).json()
    for event in usage["events"]:
        assert {"conversation_id", "conversation_title", "event_at", "max_created_at", "amount"} <= set(event)
    per = usage["summary"]["per_conversation"]
    assert all({"conversation_id", "title", "email", "tokens", "credits"} <= set(p) for p in per)
    assert len(per) == 2 and len({p["conversation_id"] for p in per}) == 2  # the cover is spend of its song
    assert sorted(p["tokens"] for p in per) == [60, 120]


# ---- edits within the clip ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "field"), [
    ({"operation": "effect", "effect": "Trim", "start_s": 0, "end_s": 2.5}, "end_s"),
    ({"operation": "replace", "instruction": "x", "mask_start_s": 1, "mask_end_s": 3}, "mask_end_s"),
])  # fmt: skip
def test_edits_past_the_clip_are_refused(api, music_emulator, make_context, params, field):
    song = _song(api)
    clip = song["clips"][0]
    assert clip["duration_s"] == 2.0
    answer = api("POST", "music/edit", json={**params, "clip": clip["clip"], "mode": "async"})
    assert answer.status_code == 400 and field in answer.json()["error"]
    within = {**params, field: 2.0}
    assert api("POST", "music/edit", json={**within, "clip": clip["clip"], "mode": "async"}).status_code == 201
    # the client refuses first when it knows the duration (a job result as input)
    before = music_emulator.count("POST", EDIT)
    summary = FlowMusicHook().get_job(song["jobid"])
    op = FlowMusicEditOperator(task_id="edit", operation=params["operation"], clip=summary,
                               edit_params={k: v for k, v in params.items() if k != "operation"}, **WAIT)
    with pytest.raises(InvalidInputError, match=f"{field} .* past the end of clip .* at most the clip's duration"):
        op.execute(make_context())
    assert music_emulator.count("POST", EDIT) == before


# ---- m4a ----------------------------------------------------------------------------------------------------
def _boxes(data: bytes, start: int = 0, end: int | None = None):
    end = len(data) if end is None else end
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start:start + 8])
        size = size or end - start
        yield kind.decode("latin-1"), start + 8, start + size
        start += size


def _mp4_audio_problems(data: bytes) -> list[str]:
    top = {k: (a, b) for k, a, b in _boxes(data)}
    problems = [f"no {box} box" for box in ("ftyp", "moov", "mdat") if box not in top]
    if "ftyp" in top:
        a, b = top["ftyp"]
        brands = {data[a:a + 4]} | {data[i:i + 4] for i in range(a + 8, b, 4)}
        if not brands & {b"M4A ", b"mp42"}:
            problems.append(f"brands {brands}")
    if "moov" in top:
        handlers = []
        for kind, a, b in _boxes(data, *top["moov"]):
            if kind == "trak":
                for sub, c, d in _boxes(data, a, b):
                    if sub == "mdia":
                        handlers += [data[e + 8:e + 12] for s, e, _ in _boxes(data, c, d) if s == "hdlr"]
        if b"soun" not in handlers:
            problems.append(f"no audio track (handlers {handlers})")
    if "mdat" in top and top["mdat"][1] == top["mdat"][0]:
        problems.append("empty mdat")
    return problems


def test_audio_url_serves_mpeg4_audio(api, tmp_path):
    song = _song(api)
    answer = requests.get(song["clips"][0]["audio_url"], timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/mp4"
    assert _mp4_audio_problems(answer.content) == []
    assert sniff_container(answer.content[:4096]) == ("MP4 audio (M4A)", frozenset({"audio"}))
    assert len(answer.content) < 16_000  # a small packaged asset


def test_packaged_m4a_reads_as_audio_with_ffprobe(tmp_path):
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe is not installed: the box structure is checked by test_audio_url_serves_mpeg4_audio")
    path = tmp_path / "clip.m4a"
    path.write_bytes(m4a_clip())
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,duration",
                          "-of", "default=nw=1", str(path)], capture_output=True, text=True, check=True, timeout=30)
    assert "codec_type=audio" in out.stdout and "codec_name=aac" in out.stdout
    assert float(out.stdout.split("duration=")[1].split()[0]) > 1.0


def test_download_of_audio_url_is_an_m4a_file(music_emulator, make_context, tmp_path):
    song = FlowMusicHook().generate("lo-fi piano", mode="sync")
    files = FlowMusicDownloadOperator(task_id="dl", clips=song, destination=str(tmp_path), source="audio_url"
                                      ).execute(make_context())["files"]
    assert len(files) == 2 and all(f.endswith(".m4a") for f in files)
    for path in files:
        with open(path, "rb") as fh:
            assert sniff_container(fh.read(4096))[0] == "MP4 audio (M4A)"


# ---- clips exist once their job completed ------------------------------------------------------------------
def test_clips_of_a_pending_job_are_not_there_yet(api, music_emulator):
    music_emulator.state.settings["flowmusic.job_seconds"] = 30
    job = _song(api, wait=False)
    store = music_emulator.state.apis["flowmusic"].store
    pending = [c for c in store.clips.values() if c.job is not None and c.job.jobid == job["jobid"]]
    assert len(pending) == 2
    ids = {c.clip for c in pending}
    assert not ids & {c["clip"] for c in api("GET", "music").json()["clips"]}
    for clip in pending:
        assert api("GET", "music/download", params={"id": clip.clip}).status_code == 400
        assert api("POST", "music/edit", json={"operation": "stems", "clip": clip.clip}).status_code == 404
        assert api("POST", "music/edit", json={"operation": "cover", "clip": clip.clip, "mode": "async"}
                   ).status_code == 404
        assert requests.get(f"{music_emulator.url}/_cdn/flowmusic/{clip.key}.wav", timeout=5).status_code == 404
    assert api("GET", "music/download", params={"id": job["jobid"]}).status_code == 409
    for clip in pending:
        clip.job.delay = 0.0  # the job completes
    assert ids <= {c["clip"] for c in api("GET", "music").json()["clips"]}
    assert api("GET", "music/download", params={"id": pending[0].clip}).status_code == 200
