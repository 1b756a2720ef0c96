"""The emulator's reset and its callbacks (issues 19 §5 and 21 §3).

* ``POST /_emulator/reset`` returns the emulator to its start-up state: ``flowmusic.job_outcome=failed``
  set by PATCH survived a reset and failed the next, unrelated run. Settings (and ``job_seconds``) go back
  to what the emulator started with (``--setting`` / ``EmulatorState(settings=...)`` included), every API
  hears that its settings changed.
* Callbacks go to loopback listeners only, so they never use a proxy: with ``http_proxy``/``HTTP_PROXY``
  pointing at a recording server, the callback and its payload reached the proxy.
"""

from __future__ import annotations

import time

import requests

from airflow_provider_music.testing.callbacks import CallbackSender
from airflow_provider_music.testing.server import EmulatorServer
from tests.support.hostile import HostileServer, json_body

STARTUP = {"riffusion.audible_magic": "match", "audioshake.fail_stems": ["bass"]}


def test_reset_over_http_restores_the_start_up_settings():
    with EmulatorServer(job_seconds=0.3, settings=dict(STARTUP)) as emu:
        patched = requests.patch(f"{emu.url}/_emulator/settings", timeout=10, json={
            "flowmusic.job_outcome": "failed", "riffusion.audible_magic": "no_match", "job_seconds": 7,
            "flowmusic.job_seconds": 9})
        assert patched.json()["settings"]["flowmusic.job_outcome"] == "failed"
        applied: list[float] = []
        emu.state.on_settings(lambda: applied.append(emu.state.job_delay("flowmusic")))
        assert requests.post(f"{emu.url}/_emulator/reset", timeout=10).status_code == 204
        state = requests.get(f"{emu.url}/_emulator/state", timeout=10).json()
    assert state["settings"] == STARTUP and state["job_seconds"] == 0.3
    assert applied == [0.3], "the APIs were not told that their settings changed back"


def test_a_failed_outcome_set_before_a_reset_does_not_fail_the_next_run(set_connection):
    from airflow_provider_music.hooks.flowmusic import FlowMusicHook

    with EmulatorServer(job_seconds=0.05) as emu:
        set_connection("flowmusic_default", "flowmusic", host=emu.url + "/v1/flowmusic/", password=emu.token)
        requests.patch(f"{emu.url}/_emulator/settings", json={"flowmusic.job_outcome": "failed"}, timeout=10)
        requests.post(f"{emu.url}/_emulator/reset", timeout=10)
        hook = FlowMusicHook()
        job = hook.generate("calm piano for a rainy morning")
        deadline = time.monotonic() + 20
        while (status := hook.job_status(job["jobid"])).state == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
    assert status.state == "success", status.message


def test_callbacks_never_use_a_proxy(monkeypatch, listener):
    with HostileServer() as proxy:
        proxy.route("/*", json_body({"proxied": True}))
        for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.url)
        for name in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        sender = CallbackSender()
        sender.send(listener.url, {"job": "j-1", "secret_payload": "only-for-loopback"})
        records = sender.wait(1)
        listener.wait(1)
        assert proxy.requests == [], "a loopback callback went through the proxy"
    assert records[0]["state"] == "delivered", records
    assert listener.received == [{"job": "j-1", "secret_payload": "only-for-loopback"}]
