"""Sensors of the Riffusion (useapi.net) integration: poke, reschedule or deferrable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_music.core import lineage
from airflow_provider_music.operators.riffusion import RiffusionBaseOperator, upload_dataset, upload_facts
from airflow_provider_music.sensors.base import MusicJobSensor
from airflow_provider_music.triggers.riffusion import SONG_STATUS, UPLOAD_STATUS, song_target, upload_target

#: The docs: "if a file is still being processed after 10 minutes, it is likely that the processing will
#: never complete" - so the upload sensor gives up after 10 minutes unless told otherwise.
UPLOAD_DEFAULT_TIMEOUT = 600.0


class RiffusionUploadAudioSensor(RiffusionBaseOperator, MusicJobSensor):
    """Wait until an uploaded audio file is processed (status no longer ``pending``).

    ``failed`` fails the task. Returns (XCom) the normalised upload: ``id``, ``audio_upload_id``,
    ``status``, ``lyrics``, ``is_flagged``, ``matches``.

    :param upload_id: the ``id`` returned by upload-audio (``<audio_upload_id>:<transcription_job_id>``,
        or the legacy ``job_id``). Templated.
    :param user_id: Riffusion account (default: the connection's ``user_id`` extra). Templated.
    :param riffusion_conn_id: connection id (default ``riffusion_default``). Templated.
    """

    status_check = UPLOAD_STATUS
    default_timeout = UPLOAD_DEFAULT_TIMEOUT
    template_fields: Sequence[str] = ("upload_id", "user_id")

    def __init__(self, *, upload_id: str, user_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.upload_id = upload_id
        self.user_id = user_id

    def target(self) -> dict[str, Any]:
        """The status target: the upload (and its account's ``user_id``)."""
        return upload_target(self.upload_id, self.user_id)

    def report(self, payload: dict[str, Any] | None) -> None:
        """Lineage: the watched upload; its Audible Magic verdict as facts."""
        upload_id = self.target()["upload_id"]
        lineage.add_datasets(self.task_report.inputs, upload_dataset({"id": upload_id, **(payload or {})}))
        self.task_report.facts.update(upload_id=upload_id, account=self.user_id)
        if payload:
            self.task_report.facts.update(upload_facts(payload))


class RiffusionSongSensor(RiffusionBaseOperator, MusicJobSensor):
    """Wait until every song of the given job/song ids is ``completed``; any ``failed`` song fails the task.

    Returns (XCom) ``{"job_ids", "song_ids", "songs": [{id, title, duration_s, download_url, share_url, ...}]}``.

    :param job_ids: one id, a list of ids (at most 50), or the dict returned by ``RiffusionComposeOperator``.
        Templated.
    :param user_id: Riffusion account (default: the connection's ``user_id`` extra). Templated.
    :param riffusion_conn_id: connection id (default ``riffusion_default``). Templated.
    """

    status_check = SONG_STATUS
    template_fields: Sequence[str] = ("job_ids", "user_id")

    def __init__(self, *, job_ids: Any, user_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_ids = job_ids
        self.user_id = user_id

    def target(self) -> dict[str, Any]:
        """The status target: the job/song ids (and ``user_id``)."""
        return song_target(self.job_ids, self.user_id)

    def report(self, payload: dict[str, Any] | None) -> None:
        """Lineage: the jobs -> their songs (what a compose that did not wait left to this sensor)."""
        job_ids = self.target()["job_ids"]
        lineage.add_datasets(self.task_report.inputs, *(lineage.riffusion_job(j) for j in job_ids))
        self.task_report.facts.update(job_ids=job_ids, account=self.user_id)
        if payload:
            songs = [s for s in payload.get("song_ids") or [] if isinstance(s, str)]
            lineage.add_datasets(self.task_report.outputs, *(lineage.riffusion_song(s) for s in songs))
            self.task_report.facts["song_ids"] = songs
