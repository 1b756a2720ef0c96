"""Typed status checks and deferrable triggers of the Riffusion (useapi.net) integration."""

from __future__ import annotations

from typing import Any

from airflow_provider_music.contract.riffusion import check_id, normalize_job_ids
from airflow_provider_music.core import InvalidInputError
from airflow_provider_music.hooks.riffusion import RiffusionHook
from airflow_provider_music.triggers.base import MusicPollTrigger, StatusCheck

#: GET scheduler / GET music accept at most this many ids per status check.
MAX_SONG_IDS = 50


def song_target(job_ids: Any, user_id: str | None = None) -> dict[str, Any]:
    """The status target of songs: one id, a list, or a compose result dict (``job_ids`` / ``song_ids``)."""
    ids = normalize_job_ids(job_ids)
    if len(ids) > MAX_SONG_IDS:
        raise InvalidInputError(f"job_ids: at most {MAX_SONG_IDS} ids per wait, got {len(ids)}")
    return {"job_ids": ids, "user_id": user_id}


def upload_target(upload_id: Any, user_id: str | None = None) -> dict[str, Any]:
    """The status target of one uploaded audio file."""
    return {"upload_id": check_id("upload_id", upload_id), "user_id": user_id}


#: Songs of compose jobs. useapi.net cannot stop a generation (DELETE scheduler only stops tracking it),
#: so there is no cancel call: a user kill leaves the songs running.
SONG_STATUS: StatusCheck[RiffusionHook] = StatusCheck(
    name="Riffusion songs", hook_class=RiffusionHook, target=song_target,
    check=RiffusionHook.song_status, acheck=RiffusionHook.asong_status,
)

#: One uploaded audio file until it is no longer ``pending``.
UPLOAD_STATUS: StatusCheck[RiffusionHook] = StatusCheck(
    name="Riffusion upload", hook_class=RiffusionHook, target=upload_target,
    check=RiffusionHook.upload_status, acheck=RiffusionHook.aupload_status,
)


class RiffusionSongTrigger(MusicPollTrigger):
    """Wait until every song of ``target = {"job_ids": [...], "user_id": ...}`` is completed (or one failed)."""
    status_check = SONG_STATUS


class RiffusionUploadAudioTrigger(MusicPollTrigger):
    """Wait until an uploaded audio file (``target = {"upload_id": ..., "user_id": ...}``) is no longer pending."""
    status_check = UPLOAD_STATUS
