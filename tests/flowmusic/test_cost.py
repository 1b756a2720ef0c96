"""Issue 22 §3: what a FlowMusic task cost (GET accounts/usage per song) and the budget guard (``max_cost``),
against the emulator's prices per model and balances per account."""

from __future__ import annotations

import json
import logging

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_music.core.errors import BudgetExceededError, InvalidInputError
from airflow_provider_music.operators.flowmusic import (
    FlowMusicDownloadOperator,
    FlowMusicEditOperator,
    FlowMusicGenerateOperator,
    FlowMusicLyricsOperator,
    FlowMusicStemsOperator,
)
from tests.conftest import SECRET_TOKEN, FakeTaskStateStore
from tests.flowmusic.test_operators import resume

MUSIC = "/v1/flowmusic/music"
EDIT = "/v1/flowmusic/music/edit"
WAIT = {"poll_interval": 0.05, "timeout": 20}
ACCOUNT = "composer@example.com"


def generate(**kwargs):
    return FlowMusicGenerateOperator(task_id="compose", prompt=kwargs.pop("prompt", "lo-fi piano"), **{**WAIT, **kwargs})


def run(op, ctx, deferrable):
    if not deferrable:
        return op.execute(ctx)
    with pytest.raises(TaskDeferred) as exc:
        op.execute(ctx)
    return resume(op, ctx, exc)


def settings(emulator, **values):
    emulator.state.settings.update({f"flowmusic.{k}": v for k, v in values.items()})
    emulator.state.settings_changed()


def spent(emulator, email=ACCOUNT) -> float:
    return sum(i["tokens"] for i in emulator.state.apis["flowmusic"].store.accounts[email].spent) / 12


# ---- cost reported ------------------------------------------------------------------------------------
@pytest.mark.parametrize("deferrable", [False, True])
@pytest.mark.parametrize("model, price", [(None, 5.0), ("lyria-3.5", 8.0)])
def test_generate_reports_its_charge(music_emulator, make_context, caplog, capsys, deferrable, model, price):
    settings(music_emulator, prices={"lyria-3.5": 8})
    op = generate(model=model, deferrable=deferrable)
    with caplog.at_level(logging.INFO):
        out = run(op, make_context(), deferrable)
    assert out["cost"] == {"amount": price, "unit": "credits", "source": "GET accounts/usage per_conversation"}
    assert op.task_report.cost.amount == price == spent(music_emulator)
    assert {"jobid", "email", "status", "clips", "clip_ids"} <= set(out)  # the existing keys stay
    logged = caplog.text + capsys.readouterr().out
    summary = [line for line in logged.splitlines() if "FlowMusic job finished in" in line]
    assert len(summary) == 1 and f"cost: {price:g} credits" in summary[0]


def test_edit_reports_the_growth_of_its_song(music_emulator, make_context):
    song = generate().execute(make_context())
    cover = FlowMusicEditOperator(task_id="cover", operation="cover", clip=song, edit_params={"instruction": "jazz"},
                                  **WAIT)
    out = cover.execute(make_context())
    assert out["cost"]["amount"] == 5.0 and "edited song" in out["cost"]["source"]
    effect = FlowMusicEditOperator(task_id="fx", operation="effect", clip=song,
                                   edit_params={"effect": "Gain", "gain_db": 3}, **WAIT).execute(make_context())
    assert effect["cost"]["amount"] == 0.0  # measured: the song did not grow
    assert spent(music_emulator) == 10.0


def test_two_tasks_on_one_account_at_once_report_their_own_spend(music_emulator, make_context):
    settings(music_emulator, prices={"lyria-3.5": 8}, job_seconds=30)
    first, second = generate(prompt="calm ocean waves", deferrable=True), \
        generate(prompt="angry punk riff", model="lyria-3.5", deferrable=True)
    waiting = []
    for op in (first, second):  # two tasks, both submitted before either finishes
        ctx = make_context()
        ctx["ti"].task_id = op.prompt
        with pytest.raises(TaskDeferred) as exc:
            op.execute(ctx)
        waiting.append((op, ctx, exc))
    settings(music_emulator, job_seconds=0.01)
    outs = [resume(op, ctx, exc) for op, ctx, exc in waiting]
    assert [o["cost"]["amount"] for o in outs] == [5.0, 8.0]
    assert spent(music_emulator) == 13.0


def test_same_titled_songs_at_once_are_unknown_never_the_other_ones(music_emulator, make_context):
    settings(music_emulator, job_seconds=30)
    waiting = []
    for n in range(2):
        op, ctx = generate(deferrable=True), make_context()
        ctx["ti"].task_id = f"take{n}"
        with pytest.raises(TaskDeferred) as exc:
            op.execute(ctx)
        waiting.append((op, ctx, exc))
    settings(music_emulator, job_seconds=0.01)
    for op, ctx, exc in waiting:
        out = resume(op, ctx, exc)
        assert out["cost"]["amount"] == "unknown" and "cannot tell" in out["cost"]["source"]
        assert op.task_report.cost.amount is None  # unknown, never a made-up 0 or the sum


def test_not_waited_for_is_unknown_and_free_operations_are_documented_zero(music_emulator, make_context, tmp_path):
    pending = generate(wait_for_completion=False).execute(make_context())
    assert pending["cost"]["amount"] == "unknown"
    song = generate().execute(make_context())
    stems = FlowMusicStemsOperator(task_id="stems", clip=song, destination=str(tmp_path / "s"))
    assert stems.execute(make_context())["cost"]["amount"] == 0 and "free" in stems.task_report.cost.source
    files = FlowMusicDownloadOperator(task_id="dl", clips=song, destination=str(tmp_path / "d")).execute(make_context())
    assert files["cost"]["amount"] == 0
    lyrics = FlowMusicLyricsOperator(task_id="lyrics", prompt="a road trip").execute(make_context())
    assert lyrics["cost"] == {"amount": 0, "unit": "credits", "source": "free: POST music/lyrics credits_burned"}


# ---- budget guard -------------------------------------------------------------------------------------
def test_estimate_above_max_cost_is_refused_before_any_paid_request(music_emulator, make_context):
    with pytest.raises(BudgetExceededError, match=r"estimated cost 5 credits .*exceeds max_cost=4 credits"):
        generate(max_cost=4).execute(make_context())
    with pytest.raises(BudgetExceededError, match=r"estimated cost 5 credits .*max_cost=4\.5"):
        generate(model="lyria-3.5", max_cost="4.5").execute(make_context())  # templated strings accepted
    assert music_emulator.count("POST", MUSIC) == 0 and not music_emulator.state.apis["flowmusic"].store.jobs
    assert not BudgetExceededError("x").retryable  # an Airflow retry would be refused the same way
    out = generate(max_cost=5).execute(make_context())  # exactly the budget: allowed
    assert out["cost"]["amount"] == 5.0


def test_remaining_credits_below_the_estimate_are_refused(music_emulator, make_context):
    settings(music_emulator, accounts={ACCOUNT: 3, "second@example.com": 100})
    with pytest.raises(BudgetExceededError, match=rf"account {ACCOUNT} has 3 credits left, below the estimated"):
        generate(max_cost=50, account_email=ACCOUNT).execute(make_context())
    assert music_emulator.count("POST", MUSIC) == 0
    out = generate(max_cost=50, account_email="second@example.com").execute(make_context())
    assert out["email"] == "second@example.com" and out["cost"]["amount"] == 5.0
    song = {"clips": [{"clip": out["clip_ids"][0], "title": out["clips"][0]["title"]}]}
    settings(music_emulator, accounts={ACCOUNT: 3, "second@example.com": 4})
    with pytest.raises(BudgetExceededError, match="second@example.com has 4 credits left"):  # the clip's account
        FlowMusicEditOperator(task_id="cover", operation="cover", clip=song, max_cost=50, **WAIT).execute(make_context())
    assert music_emulator.count("POST", EDIT) == 0


def test_connection_default_and_argument(music_emulator, make_context, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_FLOWMUSIC_DEFAULT", music_emulator.connection("flowmusic", max_cost=2))
    with pytest.raises(BudgetExceededError, match="connection 'flowmusic_default' extra max_cost=2"):
        generate().execute(make_context())
    assert music_emulator.count("POST", MUSIC) == 0
    assert generate(max_cost=6).execute(make_context())["cost"]["amount"] == 5.0  # the argument wins
    monkeypatch.setenv("AIRFLOW_CONN_FLOWMUSIC_DEFAULT",
                       music_emulator.connection("flowmusic", max_cost=20, price_per_song=30))
    with pytest.raises(BudgetExceededError, match=r"estimated cost 30 credits"):  # the connection's price
        generate().execute(make_context())


def test_max_cost_is_checked_like_other_numbers(music_emulator, make_context):
    for bad in ("abc", -1, float("nan"), True):
        with pytest.raises(InvalidInputError, match="max_cost"):
            generate(max_cost=bad)
    from airflow.sdk import DAG

    with DAG("mapped", schedule=None), pytest.raises(InvalidInputError, match="max_cost"):  # .partial(): at parse time too
        FlowMusicGenerateOperator.partial(task_id="m", max_cost="abc").expand(prompt=["a", "b"])
    op = generate(max_cost="{{ params.budget }}")  # templated: checked after rendering
    assert "max_cost" in op.template_fields
    op.max_cost = "1"
    with pytest.raises(BudgetExceededError, match="max_cost=1"):
        op.execute(make_context())


def test_resumed_job_is_not_refused(music_emulator, make_context):
    settings(music_emulator, job_seconds=30)
    store = FakeTaskStateStore()
    ctx = make_context(store)
    with pytest.raises(TaskDeferred):
        generate(deferrable=True).execute(ctx)  # try 1 paid and was killed while waiting
    settings(music_emulator, job_seconds=0.01)
    out = generate(max_cost=1).execute(make_context(store))  # try 2: nothing new is paid, so no refusal
    assert out["cost"]["amount"] == 5.0 and music_emulator.count("POST", MUSIC) == 1


def test_no_secret_in_cost_results_logs_or_errors(music_emulator, make_context, monkeypatch, caplog, capsys):
    music_emulator.state.tokens.add(SECRET_TOKEN)
    monkeypatch.setenv("AIRFLOW_CONN_FLOWMUSIC_DEFAULT", music_emulator.connection("flowmusic", token=SECRET_TOKEN))
    with caplog.at_level(logging.DEBUG):
        out = generate(max_cost=10, account_email=ACCOUNT).execute(make_context())
        with pytest.raises(BudgetExceededError) as exc:
            generate(max_cost=1, account_email=ACCOUNT).execute(make_context())
    assert SECRET_TOKEN not in json.dumps(out) + str(exc.value) + caplog.text + capsys.readouterr().out
