"""One rule for lost answers (issue 12 §5): the same predicate and error class for every slice.

The class of defect: a slice deciding differently whether a create may have happened (one counting 408 as
lost, another not), or a slice error that Airflow would retry (paying twice).
"""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_music.core.errors import (
    ApiConnectionError,
    InvalidInputError,
    InvalidResponseError,
    LostAnswerError,
    MusicApiError,
    answer_lost,
    error_from_response,
)
from airflow_provider_music.hooks import audioshake_api, audioshake_jobs, audioshake_tasks
from airflow_provider_music.hooks import riffusion as riffusion_hook
from airflow_provider_music.hooks.riffusion import RiffusionHook, RiffusionLostAnswerError
from airflow_provider_music.operators import resume


def _answer(status: int) -> MusicApiError:
    return error_from_response("POST", "https://api.example/v1/create?token=x", status, {}, '{"error": "x"}')


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 410, 413, 422, 429, 503])
def test_a_definite_answer_is_not_lost(status):
    assert answer_lost(_answer(status)) is False


@pytest.mark.parametrize("status", [408, 499, 500, 502, 504, 520])
def test_an_ambiguous_answer_is_lost(status):
    assert answer_lost(_answer(status)) is True


def test_no_answer_at_all():
    assert answer_lost(ApiConnectionError("read timed out", request_may_have_been_processed=True)) is True
    assert answer_lost(ApiConnectionError("connect refused", request_may_have_been_processed=False)) is False
    assert answer_lost(InvalidResponseError("unreadable 2xx body", status=200)) is True
    assert answer_lost(InvalidInputError("prompt is required")) is False
    assert answer_lost(ValueError("not an API error")) is False
    assert answer_lost(LostAnswerError("x may have been created; ids unknown: check y")) is True


def test_riffusion_hook_uses_the_core_rule():
    """The hooks use the core's predicate object itself: no second copy with its own rule."""
    assert riffusion_hook.answer_lost is answer_lost
    assert audioshake_jobs.answer_lost is answer_lost and audioshake_tasks.answer_lost is answer_lost
    assert audioshake_api.answer_lost is answer_lost and resume.answer_lost is answer_lost


def test_one_error_class_never_retried():
    assert issubclass(RiffusionLostAnswerError, LostAnswerError)
    assert audioshake_api.LostAnswerError is LostAnswerError
    assert issubclass(LostAnswerError, AirflowFailException) and not LostAnswerError.retryable
    err = RiffusionLostAnswerError.after("Riffusion create-prompt", check="GET scheduler", cause=_answer(502),
                                         note="Not creating again.")
    assert str(err).startswith("Riffusion create-prompt may have been created; ids unknown: check GET scheduler.")
    assert "HTTP 502" in str(err) and "token=x" not in str(err)


def test_408_on_create_is_looked_up_not_resent(monkeypatch):
    """408 after the body was sent: the create is looked for, never blindly sent again."""
    hook = RiffusionHook(riffusion_conn_id="riffusion_default")
    sent: list[str] = []

    def post(mode, body):
        sent.append(mode)
        raise _answer(408)

    monkeypatch.setattr(hook, "_post_create", post)
    monkeypatch.setattr(hook, "find_created", lambda body, since: [])
    monkeypatch.setattr(hook, "create_body", lambda mode, **kw: {"replyRef": kw["reply_ref"], "prompt": "p"})
    with pytest.raises(RiffusionLostAnswerError, match="may have been created; ids unknown: check GET scheduler"):
        hook.create_with_recovery("prompt", reply_ref="r1", look_before=False, recovery_attempts=1, prompt="p")
    assert sent == ["prompt"]
