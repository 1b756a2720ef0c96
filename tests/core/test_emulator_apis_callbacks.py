"""The emulator frame: THE list of APIs, the shared auth dependency, the printed ``AIRFLOW_CONN_*`` lines
(at start and with ``--print-env``) and the loopback-only callback sender."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import shlex
import subprocess
import sys
import time

import pytest
import requests

from airflow_provider_music.testing import apis
from airflow_provider_music.testing.callbacks import CallbackSender, deliver, is_loopback_host, send_callback
from airflow_provider_music.testing.emulator import EmulatorState, main, require_credential, url_for
from tests.support.hostile import HostileServer, json_body, redirect_to, sequence, slow_headers

pytestmark = pytest.mark.integration


# ---- the list of APIs ------------------------------------------------------------------------------------
def test_every_api_entry_is_complete_and_unique():
    names = [a.name for a in apis.APIS]
    assert len(names) == len(set(names)) and {"riffusion", "acrcloud", "audioshake"} <= set(names)
    assert len({a.env_name for a in apis.APIS}) == len(names)
    from airflow_provider_music.get_provider_info import get_provider_info

    conn_types = {c["connection-type"] for c in get_provider_info()["connection-types"]}
    for entry in apis.APIS:
        assert callable(importlib.import_module(entry.module).register), entry.module
        assert entry.prefix.startswith("/") and entry.prefix.endswith("/")
        assert entry.conn_type in conn_types, f"{entry.conn_type} has no connection type in get_provider_info"
    with pytest.raises(KeyError, match="known"):
        apis.api("nope")


def test_fixture_env_comes_from_the_list(music_emulator):
    env = music_emulator.env()
    assert set(env) == {a.env_name for a in apis.APIS}
    for entry in apis.APIS:
        assert os.environ[entry.env_name] == env[entry.env_name]
        value = json.loads(env[entry.env_name])
        assert value["host"] == music_emulator.url + entry.prefix and value["password"] == music_emulator.token


@pytest.mark.parametrize("entry", apis.APIS, ids=[a.name for a in apis.APIS])
def test_each_api_connection_works_against_the_emulator(music_emulator, entry):
    """The printed connection of every API lets its own hook pass ``test_connection`` (and a wrong token not)."""
    from airflow_provider_music.get_provider_info import get_provider_info

    hook_path = next(c["hook-class-name"] for c in get_provider_info()["connection-types"]
                     if c["connection-type"] == entry.conn_type)
    module, _, name = hook_path.rpartition(".")
    hook_cls = getattr(importlib.import_module(module), name)
    ok, message = hook_cls(entry.conn_id).test_connection()
    assert ok, message
    os.environ[entry.env_name] = json.dumps(entry.connection(music_emulator.url, token="wrong-token-123"))
    ok, message = hook_cls(entry.conn_id).test_connection()
    assert not ok and "wrong-token" not in message


# ---- printed lines ---------------------------------------------------------------------------------------
def test_print_env_prints_only_export_lines(capsys):
    assert main(["--print-env", "--port", "8123", "--token", "tok-print-1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == len(apis.APIS) and all(line.startswith("export AIRFLOW_CONN_") for line in out)
    parsed = dict(shlex.split(line)[1].split("=", 1) for line in out)
    assert parsed == apis.env_for("http://127.0.0.1:8123", token="tok-print-1")


def test_print_env_evaluates_in_a_shell_and_matches_the_running_server(music_emulator):
    port = music_emulator.port
    script = (f'eval "$({shlex.quote(sys.executable)} -m airflow_provider_music.testing.emulator --print-env '
              f'--port {port} --token {shlex.quote(music_emulator.token)})" && env')
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120, check=True)
    env = dict(line.split("=", 1) for line in result.stdout.splitlines() if line.startswith("AIRFLOW_CONN_"))
    assert {k: env[k] for k in music_emulator.env()} == music_emulator.env()
    for entry in apis.APIS:  # and the hosts answer: the frame's health check under the same base URL
        host = json.loads(env[entry.env_name])["host"]
        assert host.startswith(music_emulator.url)
    assert requests.get(music_emulator.url + "/_emulator/health", timeout=5).json() == {"status": "ok"}


def test_print_env_refuses_a_random_port(capsys):
    with pytest.raises(SystemExit):
        main(["--print-env", "--port", "0"])
    assert "fixed --port" in capsys.readouterr().err


def test_startup_prints_the_lines_for_the_bound_port():
    proc = subprocess.Popen([sys.executable, "-m", "airflow_provider_music.testing.emulator", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        url = first.split("listening on ", 1)[1].strip()
        lines = [proc.stdout.readline().strip() for _ in apis.APIS]  # type: ignore[union-attr]
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert lines == apis.export_lines(url)


def test_url_for_ipv6():
    assert url_for("::1", 80) == "http://[::1]:80" and url_for("127.0.0.1", 1) == "http://127.0.0.1:1"


# ---- the shared auth dependency ---------------------------------------------------------------------------
@pytest.mark.parametrize(("credential", "headers", "ok"), [
    (apis.BEARER, {"Authorization": "Bearer good-token"}, True),
    (apis.BEARER, {"authorization": "bearer good-token"}, True),
    (apis.BEARER, {"Authorization": "good-token"}, False),
    (apis.BEARER, {"Authorization": "Bearer bad"}, False),
    (apis.BEARER, {}, False),
    (apis.X_API_KEY, {"x-api-key": "good-token"}, True),
    (apis.X_API_KEY, {"X-Api-Key": "good-token"}, True),
    (apis.X_API_KEY, {"Authorization": "Bearer good-token"}, False),
])
def test_shared_auth_dependency(credential, headers, ok):
    from fastapi import APIRouter, Depends, FastAPI
    from fastapi.testclient import TestClient

    app = FastAPI()
    app.state.emulator = EmulatorState(tokens={"good-token"})
    router = APIRouter(dependencies=[Depends(require_credential(credential))])
    router.add_api_route("/x", lambda: {"ok": True})
    app.include_router(router)
    answer = TestClient(app).get("/x", headers=headers)
    assert answer.status_code == (200 if ok else 401)


# ---- callbacks: loopback only, bounded, recorded ---------------------------------------------------------
@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", True), ("127.9.8.7", True), ("::1", True), ("[::1]", True), ("localhost", True), ("LOCALHOST", True),
    ("10.0.0.1", False), ("192.168.1.5", False), ("0.0.0.0", False), ("example.com", False), ("::ffff:8.8.8.8", False),
    ("localhost.evil.com", False), ("", False), (None, False),
])
def test_loopback_hosts(host, expected):
    assert is_loopback_host(host) is expected


def test_callback_delivered_and_recorded():
    sender = CallbackSender()
    with HostileServer() as listener:
        listener.route("/hook", json_body({"ok": True}))
        record = sender.send(listener.url + "/hook?x=1", {"job_id": "j1", "status": "done"}, api="riffusion")
        sender.wait(1)
        assert record.delivered and record.http_status == 200 and record.attempts == 1
        assert json.loads(listener.requests[0].body) == {"job_id": "j1", "status": "done"}
        assert listener.requests[0].headers["content-type"] == "application/json"
    assert sender.snapshot()[0]["api"] == "riffusion"


@pytest.mark.parametrize("url", ["http://10.0.0.1/hook", "http://example.com/hook", "https://8.8.8.8/x",
                                 "ftp://127.0.0.1/x", "file:///etc/passwd", "http://[::ffff:10.0.0.1]/x", "not a url"])
def test_non_loopback_callbacks_are_refused_and_recorded(url):
    sender = CallbackSender()
    record = sender.send(url, {"a": 1})
    assert record.state == "refused" and record.attempts == 0 and "loopback" in (record.error or "")


def test_callback_retries_are_bounded_and_4xx_not_retried():
    sender = CallbackSender()
    with HostileServer() as listener:
        listener.route("/flaky", sequence(json_body({}, status=503), json_body({}, status=502), json_body({"ok": 1})))
        listener.route("/down", json_body({}, status=500))
        listener.route("/gone", json_body({}, status=404))
        flaky = sender.send(listener.url + "/flaky", {"n": 1})
        down = sender.send(listener.url + "/down", {"n": 2}, attempts=3)
        gone = sender.send(listener.url + "/gone", {"n": 3})
        sender.wait(3)
    assert flaky.delivered and flaky.attempts == 3
    assert down.state == "failed" and down.attempts == 3 and down.http_status == 500
    assert gone.state == "failed" and gone.attempts == 1


def test_callback_timeout_and_no_redirect_off_the_machine():
    sender = CallbackSender()
    with HostileServer() as listener:
        listener.route("/slow", slow_headers(every=2.0))
        listener.route("/away", redirect_to("http://example.com/steal", 307))
        start = time.monotonic()
        slow = sender.send(listener.url + "/slow", {}, timeout=0.3, attempts=2)
        away = sender.send(listener.url + "/away", {})
        sender.wait(2, timeout=15)
    assert slow.state == "failed" and time.monotonic() - start < 10
    assert away.state == "failed" and away.http_status == 307


def test_deliver_awaits_and_state_snapshot_shows_deliveries(music_emulator):
    with HostileServer() as listener:
        listener.route("/cb", json_body({"ok": 1}))
        result = asyncio.run(deliver(listener.url + "/cb", {"id": 7}, state=music_emulator.state, api="flowmusic"))
        refused = send_callback("http://192.0.2.1/cb", {"id": 8}, state=music_emulator.state)
    assert result["delivered"] and result["http_status"] == 200
    assert refused.state == "refused"
    snapshot = requests.get(music_emulator.url + "/_emulator/state", timeout=5).json()["callbacks"]
    assert [c["state"] for c in snapshot] == ["delivered", "refused"]
    music_emulator.reset()
    assert music_emulator.state.snapshot()["callbacks"] == []
