"""Ids an API sends back are held to the rule of ids users give (issue 12: ids with ``..``, ``/``, ``?``).

The class of defect: a create answered with an id a later step refuses (the trigger target, the download, a
file name) used to be accepted, stored and then fail *after* the paid create as a bad *user* argument. Now
such an answer is an unusable answer: the work is looked for, never created again, and the task fails with
the one ``LostAnswerError`` ("may have been created; ids unknown: check ...") - on this try and the next.
"""

from __future__ import annotations

import json
import traceback

import pytest

from airflow_provider_music.core.errors import InvalidResponseError, LostAnswerError, answer_lost
from airflow_provider_music.hooks.riffusion import RiffusionHook, RiffusionLostAnswerError
from airflow_provider_music.operators.riffusion import RiffusionComposeOperator
from tests.support.hostile import HostileServer, json_body, raw_body

TOKEN = "user:9911-HOSTILE-ids-token"
BAD_IDS = ["../x", "a/b", "a?b=1", "..", "a#b", "x" * 300, "a b", "%2e%2e", "a\\b", "", "null"]


@pytest.fixture
def api(set_connection):
    with HostileServer() as server:
        server.route("/v1/riffusion/scheduler", json_body([]), method="GET")
        server.route("/v1/riffusion/music/", json_body([]), method="GET")
        set_connection("riffusion_default", "riffusion", host=server.url + "/v1/riffusion/", password=TOKEN,
                       extra={"retry_limit": 2})
        yield server


def _posts(server: HostileServer) -> int:
    return sum(1 for r in server.requests if r.method == "POST")


@pytest.mark.parametrize("bad", BAD_IDS)
def test_create_answered_with_an_unusable_id_is_a_lost_answer(api, bad):
    api.route("/v1/riffusion/music/create-prompt", raw_body(json.dumps({"jobs": [{"id": bad}]})), method="POST")
    with pytest.raises(RiffusionLostAnswerError, match="may have been created; ids unknown: check GET scheduler") as info:
        RiffusionHook().create_with_recovery("prompt", reply_ref="ref-1", prompt="x", look_before=False, recovery_wait=0.01)
    assert _posts(api) == 1  # looked for, never sent again
    assert isinstance(info.value, LostAnswerError) and TOKEN not in "".join(traceback.format_exception(info.value))


@pytest.mark.parametrize("bad", ["../x", "a/b", "a?b", "x" * 300])
def test_a_lookup_listing_an_unusable_id_fails_instead_of_creating(api, bad):
    """GET scheduler shows our replyRef with a hostile job id: neither trusted nor ignored (ignoring it would
    create a second, paid generation)."""
    api.route("/v1/riffusion/scheduler", json_body([{"job_id": bad, "replyRef": "ref-1"}]), method="GET")
    with pytest.raises(InvalidResponseError, match="unusable job id"):
        RiffusionHook().find_created({"replyRef": "ref-1", "prompt": "x"}, since=None)
    assert _posts(api) == 0


@pytest.mark.parametrize("bad", ["../x", "a/b?c"])
def test_operator_with_an_unusable_create_answer_never_pays_twice(api, make_context, bad):
    api.route("/v1/riffusion/music/create-prompt", raw_body(json.dumps({"job_id": bad})), method="POST")
    ctx = make_context()
    for _try in (1, 2):  # the next Airflow try (same task_state_store) does not create again either
        op = RiffusionComposeOperator(task_id="c", prompt="x", poll_interval=0.05, timeout=5)
        with pytest.raises(LostAnswerError, match="may have been created; ids unknown"):
            op.execute(ctx)
        ctx["ti"].try_number = 2
    assert _posts(api) == 1
    captured = json.dumps([ctx["ti"].xcom_pushed, ctx["task_state_store"].data], default=str)
    assert TOKEN not in captured and bad not in json.dumps(ctx["ti"].xcom_pushed, default=str)


def test_user_ids_given_to_hook_downloads_are_input_errors(api, tmp_path):
    """A bad id given by the caller is the caller's error (InvalidInputError naming it), not the API's."""
    from airflow_provider_music.core.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="music_id"):
        RiffusionHook().download_music("../etc", tmp_path / "x.mp3")
    with pytest.raises(InvalidInputError, match="music_id"):
        RiffusionHook().get_stems("a/b")
    assert not api.requests


def test_unusable_id_error_is_ambiguous_for_the_rule():
    err = InvalidResponseError("Riffusion sent an unusable job id: '../x'")
    assert answer_lost(err)
