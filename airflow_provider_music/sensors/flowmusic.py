"""Sensor of the FlowMusic (useapi.net) integration: poke, reschedule or deferrable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_music.core import lineage
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

    def report(self, payload: dict[str, Any] | None) -> None:
        """Lineage: the job -> its clips (what a generate/edit that did not wait left to this sensor)."""
        jobid = self.target()["jobid"]
        lineage.add_datasets(self.task_report.inputs, lineage.flowmusic_job(jobid))
        self.task_report.facts["jobid"] = jobid
        if payload:
            clip_ids = [c for c in payload.get("clip_ids") or [] if isinstance(c, str)]
            lineage.add_datasets(self.task_report.outputs, *(lineage.flowmusic_clip(c) for c in clip_ids))
            self.task_report.facts.update(clip_ids=clip_ids, account=payload.get("email"))
