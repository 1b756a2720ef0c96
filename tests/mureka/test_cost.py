"""Issue 22 §3 for Mureka (issue 23 §2): what a Mureka task cost in Gold and the budget guard (``max_cost``),
against the emulator's prices and balances.

Mureka reports no spend per job (no usage endpoint; GET profile gives the live balance only), so the cost is the
price useapi.net documents for the work (12 Gold per song on V9.5/V9, 20 per edit, 100/20 per stems extraction),
"unknown" where no price is documented (extend, regenerate, other models), 0 only where documented free."""

from __future__ import annotations

import json
import logging

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_music.contract import mureka_cost as price
from airflow_provider_music.core.errors import BudgetExceededError
from airflow_provider_music.operators.mureka import (
    MurekaDownloadOperator,
    MurekaEditOperator,
    MurekaGenerateOperator,
    MurekaLyricsOperator,
    MurekaStemsOperator,
    MurekaUploadOperator,
)
from airflow_provider_music.testing.flowmusic_store import silent_mp3
from airflow_provider_music.testing.mureka_store import Account
from tests.conftest import SECRET_TOKEN, FakeTaskStateStore
from tests.mureka.test_operators import resume

pytestmark = pytest.mark.integration
CREATE = "/v1/mureka/music/create"
WAIT = {"poll_interval": 0.05, "timeout": 20}
ACCOUNT = "12345678901234"
OTHER = "98765432109876"


def generate(**kwargs):
    kwargs.setdefault("task_id", "compose")
    return MurekaGenerateOperator(prompt=kwargs.pop("prompt", "lo-fi piano"), **{**WAIT, **kwargs})


def run(op, ctx, deferrable):
    if not deferrable:
        return op.execute(ctx)
    with pytest.raises(TaskDeferred) as exc:
        op.execute(ctx)
    return resume(op, ctx, exc)


def accounts(emulator):
    return emulator.state.apis["mureka"].store.accounts


def spent(emulator, account=ACCOUNT, start=500.0) -> float:
    return start - accounts(emulator)[account].gold


def settings(emulator, **values):
    emulator.state.settings.update({f"mureka.{k}": v for k, v in values.items()})


# ---- cost reported ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, model, deferrable", [("create", None, False), ("create", None, True),
                                                     ("advanced", "V9.5", False), ("instrumental", "V9", True)])
def test_generation_reports_the_documented_price(music_emulator, make_context, caplog, capsys, deferrable, kind, model):
    fields = {"lyrics": "[Verse]\nla la", "prompt": None} if kind == "advanced" else {}
    op = generate(kind=kind, model=model, deferrable=deferrable, **fields)
    with caplog.at_level(logging.INFO):
        out = run(op, make_context(), deferrable)
    assert out["cost"]["amount"] == 24 == spent(music_emulator) and out["cost"]["unit"] == "Gold"
    assert "12 Gold per song" in out["cost"]["source"] and op.task_report.cost.amount == 24
    assert {"jobid", "account", "status", "songs", "song_ids"} <= set(out)  # the existing keys stay
    logged = caplog.text + capsys.readouterr().out
    summary = [line for line in logged.splitlines() if "Mureka job finished in" in line]
    assert len(summary) == 1 and "cost: 24 Gold" in summary[0]


def test_undocumented_prices_are_unknown_never_made_up(music_emulator, make_context):
    settings(music_emulator, model_gold={"O2": 30})  # the emulator charges what the vendor does not document
    out = generate(model="O2").execute(make_context())
    assert out["cost"]["amount"] == "unknown" and "O2" in out["cost"]["source"] and spent(music_emulator) == 60
    instrumental = generate(kind="instrumental").execute(make_context())  # its default model is not documented
    assert instrumental["cost"]["amount"] == "unknown"
    for operation, fields in (("extend", {"lyrics": "[Verse]\nmore"}), ("regenerate", {"start_ms": 1000}),
                              ("remix", {})):  # remix without a model: the account's default model
        edit = MurekaEditOperator(task_id=operation, operation=operation, song=out, **fields, **WAIT)
        assert edit.execute(make_context())["cost"]["amount"] == "unknown"
        assert edit.task_report.cost.amount is None and edit.task_report.cost.unit == "Gold"


def test_edit_remix_and_stems_report_their_documented_prices(music_emulator, make_context):
    song = generate().execute(make_context())
    before = spent(music_emulator)
    edit = MurekaEditOperator(task_id="edit", operation="edit", song=song, lyrics="[Verse]\nnew", **WAIT)
    assert edit.execute(make_context())["cost"]["amount"] == 20 == spent(music_emulator) - before
    before = spent(music_emulator)
    remix = MurekaEditOperator(task_id="remix", operation="remix", song=song, model="V9.5", desc="jazz", **WAIT)
    assert remix.execute(make_context())["cost"]["amount"] == 24 == spent(music_emulator) - before
    for all_stems, gold in ((True, 100), (False, 20)):
        before = spent(music_emulator)
        stems = MurekaStemsOperator(task_id="st", song=song, all_stems=all_stems, **WAIT).execute(make_context())
        assert stems["cost"]["amount"] == gold == spent(music_emulator) - before


def test_not_waited_free_and_undocumented_operations(music_emulator, make_context, tmp_path):
    pending = generate(wait_for_completion=False).execute(make_context())
    assert pending["cost"]["amount"] == "unknown" and "not waited" in pending["cost"]["source"]
    song = generate().execute(make_context())
    edit = MurekaEditOperator(task_id="edit", operation="edit", song=song, wait_for_completion=False, **WAIT)
    assert edit.execute(make_context())["cost"]["amount"] == 20  # documented: charged when the request is accepted
    lyrics = MurekaLyricsOperator(task_id="ly", prompt="a road trip").execute(make_context())
    assert lyrics["cost"]["amount"] == 0 and "free" in lyrics["cost"]["source"]
    files = MurekaDownloadOperator(task_id="dl", songs=song, destination=str(tmp_path / "d")).execute(make_context())
    assert files["cost"]["amount"] == "unknown"  # MP3 downloads are not documented free (only stems downloads)
    ref = tmp_path / "ref.mp3"
    ref.write_bytes(silent_mp3())
    up = MurekaUploadOperator(task_id="up", source=str(ref), title="R", genre="pop", mood="relaxed")
    upload = up.execute(make_context())
    assert upload["cost"]["amount"] == "unknown" and generate(kind="instrumental", ref_id=upload, model="V9")


# ---- budget guard -------------------------------------------------------------------------------------
def test_estimate_above_max_cost_is_refused_before_any_paid_request(music_emulator, make_context):
    with pytest.raises(BudgetExceededError, match=r"estimated cost 24 Gold .*exceeds max_cost=20 Gold"):
        generate(max_cost=20).execute(make_context())
    with pytest.raises(BudgetExceededError, match=r"estimated cost 100 Gold .*max_cost=99"):
        MurekaStemsOperator(task_id="st", song="user:777-mureka:12345678901234-song:1", max_cost="99",
                            **WAIT).execute(make_context())
    assert music_emulator.state.count("POST", CREATE) == 0 and spent(music_emulator) == 0
    assert generate(max_cost=24).execute(make_context())["cost"]["amount"] == 24  # exactly the budget: allowed


def test_gold_left_below_the_estimate_is_refused(music_emulator, make_context):
    accounts(music_emulator)[ACCOUNT].gold = 10
    with pytest.raises(BudgetExceededError, match=rf"account {ACCOUNT} has 10 Gold left, below the estimated"):
        generate(max_cost=50).execute(make_context())  # one account: the API's choice is known (GET profile)
    assert music_emulator.state.count("POST", CREATE) == 0
    accounts(music_emulator)[OTHER] = Account(OTHER, 200.0)
    out = generate(max_cost=50, account=OTHER).execute(make_context())
    assert out["account"] == OTHER and out["cost"]["amount"] == 24 and spent(music_emulator, OTHER, 200) == 24
    accounts(music_emulator)[OTHER].gold = 15
    with pytest.raises(BudgetExceededError, match=f"account {OTHER} has 15 Gold left"):  # the song's own account
        MurekaEditOperator(task_id="edit", operation="edit", song=out, max_cost=50, **WAIT).execute(make_context())
    assert accounts(music_emulator)[OTHER].gold == 15  # nothing more was paid


def test_connection_default_price_per_song_and_argument(music_emulator, make_context, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MUREKA_DEFAULT", music_emulator.connection("mureka", max_cost=10))
    with pytest.raises(BudgetExceededError, match="connection 'mureka_default' extra max_cost=10"):
        generate().execute(make_context())
    assert generate(max_cost=30).execute(make_context())["cost"]["amount"] == 24  # the argument wins
    monkeypatch.setenv("AIRFLOW_CONN_MUREKA_DEFAULT",
                       music_emulator.connection("mureka", max_cost=50, price_per_song=30))
    with pytest.raises(BudgetExceededError, match=r"estimated cost 60 Gold"):  # the connection's price per song
        generate(model="O2").execute(make_context())
    assert music_emulator.state.count("POST", CREATE) == 1


def test_unknown_estimate_checks_the_balance_only(music_emulator, make_context, caplog, capsys):
    with caplog.at_level(logging.INFO):
        out = generate(model="O2", max_cost=1).execute(make_context())  # no price: max_cost compares nothing
    assert out["cost"]["amount"] == "unknown" and "not compared" in caplog.text + capsys.readouterr().out


def test_resumed_job_is_not_refused(music_emulator, make_context):
    settings(music_emulator, job_seconds=30)
    store = FakeTaskStateStore()
    with pytest.raises(TaskDeferred):
        generate(deferrable=True).execute(make_context(store))  # try 1 paid and was killed while waiting
    settings(music_emulator, job_seconds=0.01)
    out = generate(max_cost=1).execute(make_context(store))  # try 2: nothing new is paid, so no refusal
    assert out["cost"]["amount"] == 24 and music_emulator.state.count("POST", CREATE) == 1


def test_price_rules_are_pure():
    assert price.song_account("user:777-mureka:12345678901234-song:33445566") == ACCOUNT
    assert price.song_account(123456789) is None and price.song_account("clip:x") is None
    assert price.submission("create", "v9.5")[0] == 24 and price.submission("advanced", None)[0] == 24
    assert price.submission("create", "V8")[0] is None and price.submission("extend", None)[0] is None
    assert price.submission("create", "V8", override=5)[0] == 10 and price.submission("edit", None, override=5)[0] == 20
    assert price.submission("stems", None, all_stems=False)[0] == 20


def test_no_secret_in_cost_results_logs_or_errors(music_emulator, make_context, set_connection, caplog, capsys):
    music_emulator.state.tokens.add(SECRET_TOKEN)
    set_connection("mureka_default", "mureka", host=music_emulator.url + "/v1/mureka/", password=SECRET_TOKEN)
    with caplog.at_level(logging.DEBUG):
        out = generate(max_cost=30).execute(make_context())
        with pytest.raises(BudgetExceededError) as exc:
            generate(max_cost=1).execute(make_context())
    assert SECRET_TOKEN not in json.dumps(out) + str(exc.value) + caplog.text + capsys.readouterr().out
