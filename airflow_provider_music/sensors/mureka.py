"""Sensor of the Mureka (useapi.net) integration: poke, reschedule or deferrable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_music.contract.mureka_cost import song_account
from airflow_provider_music.core import lineage
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

    def report(self, payload: dict[str, Any] | None) -> None:
        """Lineage: the job -> its songs (or its stems), what a generate/edit/stems operator that did not wait left
        to this sensor; facts: the job id, song ids, stems id, account."""
        jobid = self.target()["jobid"]
        report = self.task_report
        lineage.add_datasets(report.inputs, lineage.mureka_job(jobid))
        report.facts["jobid"] = jobid
        if not isinstance(payload, Mapping) or not payload:
            return
        song_ids = [s for s in payload.get("song_ids") or [] if isinstance(s, (str, int)) and not isinstance(s, bool)]
        lineage.add_datasets(report.outputs, *(lineage.mureka_song(s) for s in song_ids))
        report.facts["song_ids"] = song_ids
        if payload.get("stems_id"):
            lineage.add_datasets(report.outputs, lineage.mureka_stems(payload["stems_id"]))
            report.facts["stems_id"] = payload["stems_id"]
        account = payload.get("account") or next((a for a in map(song_account, song_ids) if a), None)
        if account:
            report.facts["account"] = account
