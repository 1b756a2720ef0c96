"""The one lost-answer rule end to end against the emulator: create-prompt is processed (fault
``after=True``) and answered 408, 499 or 504 - the songs are found again by ``replyRef``, never created twice;
a definite refusal (409, 429, 503) is not a lost answer and the next try creates exactly once."""

from __future__ import annotations

import pytest

from airflow_provider_music.core.errors import LostAnswerError
from airflow_provider_music.operators.riffusion import RiffusionComposeOperator
from tests.conftest import FakeTaskStateStore

CREATE = "/v1/riffusion/music/create-prompt"


def _op() -> RiffusionComposeOperator:
    return RiffusionComposeOperator(task_id="compose", prompt="calm piano", poll_interval=0.05, timeout=20)


@pytest.mark.parametrize("status", [408, 499, 504])
def test_ambiguous_create_answer_finds_the_songs(music_emulator, make_context, status):
    music_emulator.add_fault(path="music/create-prompt", method="POST", status=status, after=True, times=1)
    result = _op().execute(make_context(FakeTaskStateStore()))
    assert len(result["song_ids"]) == 2
    assert music_emulator.count("POST", CREATE) == 1


@pytest.mark.parametrize("status", [409, 429, 503])
def test_definite_create_answer_is_not_lost(music_emulator, make_context, status, monkeypatch):
    monkeypatch.setattr("airflow_provider_music.core._sleep", lambda _s: None)
    music_emulator.add_fault(path="music/create-prompt", method="POST", status=status, retry_after="0", times=10)
    store = FakeTaskStateStore()
    with pytest.raises(Exception) as err:  # noqa: PT011 - the class is what is checked
        _op().execute(make_context(store))
    assert not isinstance(err.value, LostAnswerError)
    assert not store.get("riffusion_compose_jobs_attempt")  # no "may have been created" note for the next try
    music_emulator.state.faults.clear()
    ctx = make_context(store)
    ctx["ti"].try_number = 2
    assert len(_op().execute(ctx)["song_ids"]) == 2
