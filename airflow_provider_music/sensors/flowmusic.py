"""Sensor of the FlowMusic (useapi.net) integration: poke, reschedule or deferrable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_music.operators.flowmusic import FlowMusicBaseOperator
from airflow_provider_music.sensors.base import MusicJobSensor
from airflow_provider_music.triggers.flowmusic import JOB_STATUS, job_target


class FlowMusicJobSensor(FlowMusicBaseOperator, MusicJobSensor):
    """Wait until a FlowMusic job is ``completed``; ``failed`` (including ``user_cancelled``) fails the task.

    Returns (XCom) the job summary: ``{jobid, email, status, operation, clip_ids, clips: [{clip, title,
    duration_s, audio_url, wav_url, image_url}]}`` (URLs without query strings).

    :param jobid: the ``jobid``, or the dict returned by a FlowMusic generate/edit operator. Templated.
    :param flowmusic_conn_id: connection id (default ``flowmusic_default``). Templated.
    """

    status_check = JOB_STATUS
    template_fields: Sequence[str] = ("jobid",)

    def __init__(self, *, jobid: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobid = jobid

    def target(self) -> dict[str, Any]:
        """The status target: the one ``jobid``."""
        return job_target(self.jobid)
