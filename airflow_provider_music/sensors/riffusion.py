"""Sensors of the Riffusion (useapi.net) integration: poke, reschedule or deferrable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_music.core import InvalidInputError
from airflow_provider_music.hooks.riffusion import RiffusionHook, _check_id, normalize_job_ids
from airflow_provider_music.sensors.base import MusicJobSensor
from airflow_provider_music.triggers.riffusion import RiffusionSongTrigger, RiffusionUploadAudioTrigger

#: The docs: "if a file is still being processed after 10 minutes, it is likely that the processing will
#: never complete" - so the upload sensor gives up after 10 minutes unless told otherwise.
UPLOAD_DEFAULT_TIMEOUT = 600.0


class RiffusionUploadAudioSensor(MusicJobSensor):
    """Wait until an uploaded audio file is processed (status no longer ``pending``).

    ``failed`` fails the task. Returns (XCom) the normalised upload: ``id``, ``audio_upload_id``,
    ``status``, ``lyrics``, ``is_flagged``, ``matches``.

    :param upload_id: the ``id`` returned by upload-audio (``<audio_upload_id>:<transcription_job_id>``,
        or the legacy ``job_id``). Templated.
    :param user_id: Riffusion account (default: the connection's ``user_id`` extra). Templated.
    :param conn_id: connection id (default ``riffusion_default``).
    """

    hook_class = RiffusionHook
    trigger_class = RiffusionUploadAudioTrigger
    status_method = "upload_status"
    default_timeout = UPLOAD_DEFAULT_TIMEOUT
    template_fields: Sequence[str] = ("upload_id", "user_id", "conn_id")

    def __init__(self, *, upload_id: str, user_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.upload_id = upload_id
        self.user_id = user_id

    def target(self) -> dict[str, Any]:
        return {"upload_id": _check_id("upload_id", self.upload_id), "user_id": self.user_id}


class RiffusionSongSensor(MusicJobSensor):
    """Wait until every song of the given job/song ids is ``completed``; any ``failed`` song fails the task.

    Returns (XCom) ``{"job_ids", "song_ids", "songs": [{id, title, duration_s, download_url, share_url, ...}]}``.

    :param job_ids: one id, a list of ids, or the dict returned by ``RiffusionComposeOperator``. Templated.
    :param user_id: Riffusion account (default: the connection's ``user_id`` extra). Templated.
    """

    hook_class = RiffusionHook
    trigger_class = RiffusionSongTrigger
    status_method = "song_status"
    template_fields: Sequence[str] = ("job_ids", "user_id", "conn_id")

    def __init__(self, *, job_ids: Any, user_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_ids = job_ids
        self.user_id = user_id

    def target(self) -> dict[str, Any]:
        ids = normalize_job_ids(self.job_ids)
        if len(ids) > 50:
            raise InvalidInputError(f"job_ids: at most 50 ids per sensor, got {len(ids)}")
        return {"job_ids": ids, "user_id": self.user_id}
