"""The emulator frame: fixture, fault injection, counters, control API, loopback-only CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from airflow_provider_music.core import MusicApiHook, NotFoundError, RateLimitError
from airflow_provider_music.testing.emulator import main


class EmuHook(MusicApiHook):
    conn_name_attr = "conn_id"
    default_conn_name = "emu_default"
    conn_type = "emu"
    hook_name = "Emu"
    default_base_url = "http://unused.invalid/"


@pytest.fixture
def emu_hook(music_emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_EMU_DEFAULT", json.dumps(
        {"conn_type": "emu", "host": music_emulator.url + "/frame/", "password": music_emulator.token,
         "extra": {"retry_limit": 4}}))
    return EmuHook()


def test_fixture_sets_connections(music_emulator):
    import os

    for api in ("RIFFUSION", "ACRCLOUD", "AUDIOSHAKE"):
        value = json.loads(os.environ[f"AIRFLOW_CONN_{api}_DEFAULT"])
        assert value["host"].startswith(music_emulator.url) and value["password"] == music_emulator.token


def test_fault_injected_then_route_answers(music_emulator, emu_hook, instant_retries):
    music_emulator.add_fault(path="^/frame/thing$", status=503, times=2, retry_after="1")
    with pytest.raises(NotFoundError):
        emu_hook.request_json("GET", "thing")
    assert music_emulator.count("GET", "/frame/thing") == 3
    assert instant_retries[:2] and all(1 <= w <= 2 for w in instant_retries[:2])


def test_429_storm_gives_up_after_bound(music_emulator, emu_hook):
    music_emulator.add_fault(path="/frame/", status=429)
    with pytest.raises(RateLimitError):
        emu_hook.request_json("GET", "busy")
    assert music_emulator.count("GET", "/frame/busy") == 4


def test_dropped_connection_and_html_bodies_are_retried(music_emulator, emu_hook):
    music_emulator.add_fault(path="/frame/drop", drop=True, times=1)
    music_emulator.add_fault(path="/frame/drop", status=200, body="<html>proxy</html>", content_type="text/html", times=1)
    with pytest.raises(NotFoundError):
        emu_hook.request_json("GET", "drop")
    assert music_emulator.count("GET", "/frame/drop") == 3


def test_control_api_and_sink(music_emulator):
    r = requests.post(music_emulator.url + "/_emulator/faults", json={"path": "/x", "status": 500, "rate": 0.5})
    assert r.status_code == 200 and r.json()["rate"] == 0.5
    state = requests.get(music_emulator.url + "/_emulator/state").json()
    assert len(state["faults"]) == 1
    assert requests.delete(music_emulator.url + "/_emulator/faults").status_code == 204
    r = requests.post(music_emulator.url + "/_emulator/sink", data=b"abc" * 1000)
    assert r.json()["size"] == 3000
    requests.patch(music_emulator.url + "/_emulator/settings", json={"job_seconds": 3, "x.y": 1})
    assert music_emulator.state.job_seconds == 3 and music_emulator.state.setting("x.y") == 1


def test_reset_restores_settings(music_emulator):
    music_emulator.state.settings["temp"] = 1
    music_emulator.reset()
    assert "temp" not in music_emulator.state.settings


def test_cli_refuses_non_loopback():
    with pytest.raises(SystemExit):
        main(["--host", "0.0.0.0", "--port", "0"])


def test_cli_serves_on_loopback():
    proc = subprocess.Popen([sys.executable, "-m", "airflow_provider_music.testing.emulator", "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
        url = line.split()[-1]
        assert requests.get(url + "/_emulator/health", timeout=5).json() == {"status": "ok"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_after_fault_processes_then_loses_the_answer(music_emulator):
    """after=True: the route runs (work done, route counted), then the client gets the fault instead."""
    music_emulator.add_fault(path="^/frame/x$", status=502, after=True, times=1)
    r = requests.get(music_emulator.url + "/frame/x")
    assert r.status_code == 502  # the frame's real answer (404) was swallowed and replaced
    assert music_emulator.count("GET", "/frame/x") == 1
    music_emulator.add_fault(path="^/frame/y$", drop=True, after=True, times=1)
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(music_emulator.url + "/frame/y")
