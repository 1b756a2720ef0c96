"""The emulator's command line under a real scheduler (issue 19 §1): a default port no Airflow component
uses, a clear refusal when the port is taken, and ``--print-env`` lines that work as they are printed."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time

import pytest
import requests

from airflow_provider_music.testing import apis
from airflow_provider_music.testing.emulator import DEFAULT_PORT, PORT_ENV, default_port, main

pytestmark = pytest.mark.integration

#: Airflow's default ports (3.0-3.3), stated here so that a config lookup that finds nothing still checks them
KNOWN_AIRFLOW_PORTS = {8080, 8793, 8794, 8974, 8125, 5555}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _airflow_default_ports() -> set[int]:
    """Every integer default of an Airflow option named ``*port*`` (core and installed providers)."""
    from airflow.configuration import conf

    found = set(KNOWN_AIRFLOW_PORTS)
    for section in conf.configuration_description.values():
        for name, option in (section.get("options") or {}).items():
            default = str(option.get("default") or "")
            if "port" in name and default.isdigit():
                found.add(int(default))
    return found


def test_default_port_is_no_airflow_default():
    ports = _airflow_default_ports()
    assert 8080 in ports and 8793 in ports  # the lookup sees Airflow's defaults
    assert DEFAULT_PORT not in ports
    assert default_port({}) == DEFAULT_PORT


def test_print_env_without_port_points_at_the_default_port(capsys, monkeypatch):
    monkeypatch.delenv(PORT_ENV, raising=False)
    assert main(["--print-env"]) == 0
    out = capsys.readouterr().out
    assert f"http://127.0.0.1:{DEFAULT_PORT}/" in out and ":8080" not in out


def test_port_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv(PORT_ENV, "18590")
    assert main(["--print-env"]) == 0
    assert "http://127.0.0.1:18590/" in capsys.readouterr().out
    monkeypatch.setenv(PORT_ENV, "http")
    with pytest.raises(SystemExit):
        main(["--print-env"])
    assert PORT_ENV in capsys.readouterr().err


def test_taken_port_fails_at_once_with_one_clear_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        for argv, env in ((["--port", str(port)], {}), ([], {PORT_ENV: str(port)})):
            started = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "airflow_provider_music.testing.emulator", *argv],
                                  capture_output=True, text=True, timeout=60, env={**os.environ, **env})
            assert done.returncode == 2, done.stderr
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1, done.stderr  # no traceback
            assert f"port {port}" in lines[0] and "already in use" in lines[0] and "--port" in lines[0]
            assert done.stdout == ""  # no export lines for a server that is not running
            assert time.monotonic() - started < 30


def test_in_process_server_on_a_taken_port_names_it():
    from airflow_provider_music.testing.server import EmulatorServer

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"port {port} on 127.0.0.1 is already in use"):
            EmulatorServer(port=port).start()


def test_print_env_lines_drive_a_hook_in_another_shell():
    """``eval "$(... --print-env)"`` in a fresh shell, then a hook call: what each Airflow process does."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env[PORT_ENV] = str(port)
    server = subprocess.Popen([sys.executable, "-m", "airflow_provider_music.testing.emulator"],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert f"listening on http://127.0.0.1:{port}" in server.stdout.readline()  # type: ignore[union-attr]
        python = shlex.quote(sys.executable)
        script = (f'eval "$({python} -m airflow_provider_music.testing.emulator --print-env)" && {python} -c '
                  '"from airflow_provider_music.hooks.flowmusic import FlowMusicHook; '
                  'print(sorted(FlowMusicHook().list_accounts()))"')
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=180, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        assert requests.get(f"http://127.0.0.1:{port}/_emulator/state", timeout=10).json()["request_counts"]
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert len(apis.APIS) >= 4
