"""The connection forms in a real browser: Debian's Chromium, driven by Playwright, against ``airflow api-server``.

Run by ``make test-ui`` in the matrix venvs of Airflow 3.3 and 3.0 (the newest and the oldest supported
minor). For every connection type the package registers (read from ``get_provider_info()``): log in
through the simple auth manager's login page, open "Add Connection", check the relabelled and hidden
standard fields, every extra field's label and description, that no dropdown offers "null"; save a
connection through the form and read it back through the hook. Screenshots go to ``.ui-screenshots/``.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import airflow
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from airflow_provider_music.get_provider_info import get_provider_info

CHROMIUM = os.environ.get("MUSIC_UI_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("MUSIC_UI_SCREENSHOTS", ".ui-screenshots")) / f"airflow-{airflow.__version__}"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
USER, PASSWORD = "admin", secrets.token_urlsafe(12)
TOKEN = "tok-UI-" + secrets.token_hex(8)
CONN_TYPES = {entry["connection-type"]: entry for entry in get_provider_info()["connection-types"]}
#: Airflow's own labels of the standard fields a hook may hide
STANDARD_LABELS = {"login": "Login", "port": "Port", "schema": "Schema"}

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(home: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}
    (home / "passwords.json").write_text(json.dumps({USER: PASSWORD}))
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}/",
    })
    return env


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    home = tmp_path_factory.mktemp("ui-airflow-home")
    port = _free_port()
    env = _server_env(home, port)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True,
                   timeout=600)
    log_path = home / "api-server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "airflow", "api-server", "-H", "127.0.0.1", "-p", str(port),
                                 "-w", "1"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(url + "/api/v2/version", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"airflow api-server did not start:\n{log_path.read_text()[-4000:]}")
            time.sleep(1)
        yield SimpleNamespace(url=url, env=env, home=home)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def page(api_server: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS, viewport={"width": 1400, "height": 1800}
        )
        context.set_default_timeout(30_000)
        page = context.new_page()
        page.goto(api_server.url + "/")
        page.get_by_label("Username").fill(USER)
        page.get_by_label("Password").fill(PASSWORD)
        page.screenshot(path=str(SHOTS / "login.png"))
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "login" not in url)
        try:
            yield page
        finally:
            context.close()


def _label(dialog: Any, text: str) -> Any:
    """A field label with exactly this text (a required field's label ends with "*")."""
    return dialog.locator("label").filter(has_text=re.compile(rf"^\s*{re.escape(text)}\s*\*?\s*$"))


def _open_add_form(page: Page, base_url: str, entry: dict[str, Any]) -> Any:
    page.goto(base_url + "/connections")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("input[name=connection_id]").fill(f"ui_{entry['connection-type']}")
    dialog.get_by_role("combobox").first.fill(entry["hook-name"])
    page.get_by_role("option", name=entry["hook-name"], exact=True).click()
    return dialog


def _check_standard_fields(dialog: Any, entry: dict[str, Any]) -> None:
    behaviour = entry["ui-field-behaviour"]
    for label in behaviour.get("relabeling", {}).values():
        expect(_label(dialog, label)).to_be_visible()
    for name in behaviour.get("hidden-fields", []):
        if name in STANDARD_LABELS:
            expect(_label(dialog, STANDARD_LABELS[name])).to_have_count(0)
    for name in ("host", "password"):
        if placeholder := behaviour.get("placeholders", {}).get(name):
            expect(dialog.get_by_placeholder(placeholder, exact=True)).to_be_visible()


def _check_extra_fields(page: Page, dialog: Any, entry: dict[str, Any]) -> dict[str, Any]:
    """Assert every extra field; choose values for the save step. Returns the extras chosen."""
    chosen: dict[str, Any] = {}
    dialog.get_by_role("button", name="Extra Fields", exact=True).click()
    for name, spec in entry["conn-fields"].items():
        expect(_label(dialog, spec["label"])).to_be_visible()
        expect(dialog.get_by_text(spec["description"], exact=True)).to_be_visible()
        schema = spec["schema"]
        if schema.get("enum"):
            dialog.get_by_role("combobox", name=spec["label"]).click()  # react-select (3.3) or Chakra (3.0)
            options = [text.strip() for text in page.get_by_role("option").filter(visible=True).all_inner_texts()]
            assert "null" not in options and sorted(options) == sorted(schema["enum"]), (name, options)
            pick = next((v for v in schema["enum"] if v != schema.get("default")), schema["enum"][0])
            page.get_by_role("option", name=pick, exact=True).filter(visible=True).click()
            chosen[name] = pick
        elif schema.get("format") != "password" and "string" in schema.get("type", []) and not chosen:
            chosen[name] = f"ui-{name}"
            dialog.locator(f"input[name=element_{name}]").fill(chosen[name])
    return chosen


def _read_back(api_server: SimpleNamespace, entry: dict[str, Any], conn_id: str) -> dict[str, Any]:
    """The saved connection as the hook sees it (in a subprocess: Airflow's DB of the api-server)."""
    module, _, name = entry["hook-class-name"].rpartition(".")
    code = (
        "import importlib, json, sys\n"
        f"hook = getattr(importlib.import_module({module!r}), {name!r})({conn_id!r})\n"
        "s = hook.settings\n"
        "print(json.dumps({'base_url': s.base_url, 'token_ok': s.token == sys.argv[1], 'extras': dict(s.extras)}))\n"
    )
    # a server-side process (like the scheduler or the triggerer's supervisor) reads the metadata DB
    env = {**api_server.env, "_AIRFLOW_PROCESS_CONTEXT": "server"}
    proc = subprocess.run([sys.executable, "-c", code, TOKEN], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert TOKEN not in proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("conn_type", sorted(CONN_TYPES))
def test_add_connection_form_then_save_and_read_back(page: Page, api_server: SimpleNamespace, conn_type: str):
    entry = CONN_TYPES[conn_type]
    importlib.import_module(entry["hook-class-name"].rpartition(".")[0])
    dialog = _open_add_form(page, api_server.url, entry)
    _check_standard_fields(dialog, entry)
    dialog.locator("input[name=host]").fill(f"https://{conn_type}.ui-check.invalid/api/")
    dialog.get_by_placeholder(entry["ui-field-behaviour"]["placeholders"]["password"], exact=True).fill(TOKEN)
    chosen = _check_extra_fields(page, dialog, entry)
    page.screenshot(path=str(SHOTS / f"add-{conn_type}.png"), full_page=True)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_text(f"ui_{conn_type}", exact=True)).to_be_visible()
    page.screenshot(path=str(SHOTS / f"saved-{conn_type}.png"))
    saved = _read_back(api_server, entry, f"ui_{conn_type}")
    assert saved["token_ok"], "the password typed into the form is not the hook's token"
    assert saved["base_url"].startswith(f"https://{conn_type}.ui-check.invalid/api")
    for name, value in chosen.items():
        assert saved["extras"].get(name) == value, (name, saved["extras"])
