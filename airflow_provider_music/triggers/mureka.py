"""Typed status check and deferrable trigger of the Mureka (useapi.net) integration."""

from __future__ import annotations

from typing import Any

from airflow_provider_music.contract.mureka import normalize_job
from airflow_provider_music.hooks.mureka import MurekaHook
from airflow_provider_music.triggers.base import MusicPollTrigger, StatusCheck


def job_target(jobid: Any) -> dict[str, Any]:
    """The status target of one job: its ``jobid``, or a generate/edit/stems result (a dict with ``jobid``)."""
    return {"jobid": normalize_job(jobid)}


#: One Mureka job (song, edit, stems) until ``completed`` or ``failed``. Mureka has no cancel call: a killed
#: task leaves the job running (and paid).
JOB_STATUS: StatusCheck[MurekaHook] = StatusCheck(
    name="Mureka job",
    hook_class=MurekaHook,
    check=MurekaHook.job_status,
    acheck=MurekaHook.ajob_status,
    target=job_target,
)


class MurekaJobTrigger(MusicPollTrigger):
    """Wait until the job of ``target = {"jobid": ...}`` is completed or failed (pooled aiohttp session)."""

    status_check = JOB_STATUS
