"""Sensor of the Mureka (useapi.net) integration: poke, reschedule or deferrable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_music.operators.mureka import MurekaBaseOperator
from airflow_provider_music.sensors.base import MusicJobSensor
from airflow_provider_music.triggers.mureka import JOB_STATUS, job_target


class MurekaJobSensor(MurekaBaseOperator, MusicJobSensor):
    """Wait until a Mureka job is ``completed``; ``failed`` (or ``response.state`` 4) fails the task.

    Returns (XCom) the job summary: ``{jobid, account, status, verb, song_ids, songs: [{song_id, title,
    version, duration_s, mp3_url, cover}]}`` (URLs without query strings), or ``stems_id``/``stems`` for a
    stems job.

    :param jobid: the ``jobid``, or the dict returned by a Mureka generate/edit/stems operator. Templated.
    :param mureka_conn_id: connection id (default ``mureka_default``). Templated.
    """

    status_check = JOB_STATUS
    template_fields: Sequence[str] = ("jobid",)

    def __init__(self, *, jobid: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobid = jobid

    def target(self) -> dict[str, Any]:
        """The status target: the one ``jobid``."""
        return job_target(self.jobid)
