"""The one lost-answer rule (core.errors.answer_lost) end to end against the emulator, for every ambiguous
status: the server acted (fault ``after=True``) and answered 408, 499 or 504. Before the rule was shared,
AudioShake treated 408/499 as definite and failed while the paid job existed (a retry then paid twice)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_music.core.errors import LostAnswerError
from airflow_provider_music.operators.audioshake import AudioShakeStemSeparationOperator
from airflow_provider_music.testing.audio import write_sine_wav
from tests.conftest import FakeTaskStateStore

CREATE = {"jobs": "/job/", "tasks": "/tasks"}
AMBIGUOUS = [408, 499, 504]


def _op(tmp_path: Path, song: Path) -> AudioShakeStemSeparationOperator:
    return AudioShakeStemSeparationOperator(task_id="sep", source=str(song), destination=str(tmp_path / "out"),
                                            stems=["vocals"], poll_interval=0.02, timeout=20)


@pytest.mark.parametrize("status", AMBIGUOUS)
def test_ambiguous_create_answer_is_looked_for_never_resent(api, music_emulator, tmp_path, make_context, status):
    song = write_sine_wav(tmp_path / "in" / "song.wav", seconds=0.2, freq=330.0)
    music_emulator.state.add_fault(path=f"^{CREATE[api]}$", method="POST", status=status, after=True, times=1)
    store = FakeTaskStateStore()
    emulated = music_emulator.state.apis["audioshake"]
    if api == "tasks":  # the task's metadata marker finds it
        assert set(_op(tmp_path, song).execute(make_context(store))["outputs"]) == {"vocals"}
        assert len(emulated.tasks) == 1
        return
    for _try in (1, 2):  # legacy cannot list jobs: a clear error, on this try and the next
        with pytest.raises(LostAnswerError, match="may have been created; ids unknown: check the callbackUrl"):
            _op(tmp_path, song).execute(make_context(store))
    assert len(emulated.jobs) == 1


@pytest.mark.parametrize("status", [409, 429, 503])
def test_definite_create_answer_is_not_lost(api, music_emulator, tmp_path, make_context, status):
    """Refused before processing: not a lost answer; the next try creates normally (exactly once)."""
    song = write_sine_wav(tmp_path / "in" / "song.wav", seconds=0.2, freq=330.0)
    music_emulator.state.add_fault(path=f"^{CREATE[api]}$", method="POST", status=status, retry_after="0", times=6)
    store = FakeTaskStateStore()
    with pytest.raises(Exception) as err:  # noqa: PT011 - the class is what is checked
        _op(tmp_path, song).execute(make_context(store))
    assert not isinstance(err.value, LostAnswerError)
    music_emulator.state.faults.clear()
    assert set(_op(tmp_path, song).execute(make_context(store))["outputs"]) == {"vocals"}
    emulated = music_emulator.state.apis["audioshake"]
    assert len(emulated.jobs if api == "jobs" else emulated.tasks) == 1


# ---- issue 21 §3: a lost upload answer is journalled before sending, looked up (or refused) on retry ------
UPLOAD = {"jobs": "/upload/", "tasks": "/assets"}


@pytest.mark.parametrize("status", AMBIGUOUS)
@pytest.mark.parametrize("which", ["separation", "upload"])
def test_lost_upload_answer_is_never_uploaded_again_on_retry(api, music_emulator, tmp_path, make_context, status,
                                                             which):
    from airflow_provider_music.operators.audioshake import AudioShakeUploadOperator

    song = write_sine_wav(tmp_path / "in" / "song.wav", seconds=0.2, freq=330.0)
    music_emulator.state.add_fault(path=f"^{UPLOAD[api]}$", method="POST", status=status, after=True, times=1)
    store = FakeTaskStateStore()

    def run() -> object:
        op = (_op(tmp_path, song) if which == "separation"
              else AudioShakeUploadOperator(task_id="up", source=str(song)))
        return op.execute(make_context(store))

    if api == "tasks":  # the Tasks API lists assets: the upload is found, never sent twice
        run()
        assert music_emulator.count("POST", UPLOAD[api]) == 1
        return
    for attempt in (1, 2, 3):  # legacy cannot list assets: a clear error on this try and every next one
        with pytest.raises(LostAnswerError, match="may have been created; ids unknown: check your own records") as info:
            run()
        assert ("Nothing was uploaded a second time" if attempt == 1 else "nothing was uploaded by this try") in str(
            info.value)
        assert music_emulator.count("POST", UPLOAD[api]) == 1  # the message is true: one upload in all
