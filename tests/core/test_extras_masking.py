"""Connection settings that survive Airflow's masking of connection extras (issue 19 §5).

Airflow masks a connection's extras in task logs when it loads the connection: on 3.3.2 ``extra_dejson``
hands every extra to the masker by key name, and the length check runs before the name check, so a short
value of ANY key logs "Skipping masking for a secret as it's too short"; deployments whose sensitive names
match an extra (``[core] sensitive_var_conn_names``) mask its value everywhere. The AudioShake API used to
be chosen by the extra ``api``: ``tasks`` became ``***`` in every log line that said "tasks", ``jobs`` logged
the warning. The API is now chosen by the connection type (``audioshake`` / ``audioshake_tasks``) or the
host; the emulator's and the docs' connections carry no word an ordinary log line uses.

The test runs a stems task per API against the emulator with Airflow's masker as in a task: the connection
loaded through the task SDK (which masks it), every string extra additionally masked by value (the strict
deployment), each log record redacted by Airflow's masker afterwards.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_music.core.settings import clear_settings_cache
from airflow_provider_music.testing.apis import api as emulated_api
from airflow_provider_music.testing.audio import sine_wav
from tests.support.masker import airflow_secrets_masker


@pytest.fixture
def airflow_masker() -> Iterator[Any]:
    module = airflow_secrets_masker()
    SecretsMasker = module.SecretsMasker  # noqa: N806
    masker = module._secrets_masker()
    saved = (set(masker.patterns), getattr(masker, "replacer", None), SecretsMasker._has_warned_short_secret)
    masker.reset_masker()
    SecretsMasker._has_warned_short_secret = False
    yield masker
    masker.patterns = saved[0]
    masker.replacer = saved[1]
    SecretsMasker._has_warned_short_secret = saved[2]


def _documented_connection(emu: Any, which: str) -> str:
    """The connection the emulator prints for AudioShake (Jobs), or the README's Tasks API connection."""
    value = emulated_api("audioshake").connection(emu.url, token=emu.token)
    if which == "tasks":
        value = {**value, "conn_type": "audioshake_tasks", "extra": {}}
    return json.dumps(value)


def _mask_as_a_strict_deployment(masker: Any, conn_json: str) -> None:
    """What a task does when it loads a connection, plus every string extra masked by value."""
    from airflow.sdk.definitions.connection import Connection

    conn = Connection.get("audioshake_default")  # the task SDK masks password and extras here
    conn.extra_dejson  # noqa: B018 - masks by key name (and warns about short values)
    for value in json.loads(conn_json).get("extra", {}).values():
        if isinstance(value, str):
            masker.add_mask(value)


@pytest.mark.parametrize("which", ["jobs", "tasks"])
def test_an_audioshake_run_logs_no_masked_words_and_no_short_secret_warning(
    which, music_emulator, monkeypatch, airflow_masker, caplog, capsys, tmp_path: Path, make_context
):
    from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator

    conn_json = _documented_connection(music_emulator, which)
    monkeypatch.setenv("AIRFLOW_CONN_AUDIOSHAKE_DEFAULT", conn_json)
    clear_settings_cache()
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="airflow.task")
    _mask_as_a_strict_deployment(airflow_masker, conn_json)
    song = tmp_path / "song.wav"
    song.write_bytes(sine_wav(0.2))
    op = AudioShakeStemSeparationOperator(task_id="stems", source=str(song), destination=str(tmp_path / "out"),
                                          stems=["vocals"], poll_interval=0.2, timeout=60)
    result = op.execute(make_context())
    assert op.hook.backend.name == which and ("tasks" if which == "tasks" else "jobs") in result
    # task loggers are structlog (stdout) on Airflow 3; the masker's own warning is a stdlib record
    logged = capsys.readouterr().out.splitlines() + [r.getMessage() for r in caplog.records]
    lines = [airflow_masker.redact(line) for line in logged]
    assert any(which in line for line in lines), lines  # the run talks about its tasks/jobs...
    assert not [line for line in lines if "***" in line], lines  # ...and no ordinary word is masked
    assert not [line for line in logged if "Skipping masking" in line]


def test_the_emulator_connections_carry_no_short_extra_values(music_emulator):
    """Every connection the emulator prints survives the masker: no string extra under 5 characters."""
    for name, value in music_emulator.env().items():
        extras = json.loads(value).get("extra", {})
        short = {k: v for k, v in extras.items() if isinstance(v, str) and len(v) < 5}
        assert not short, f"{name}: {short} would log 'Skipping masking ... too short'"
