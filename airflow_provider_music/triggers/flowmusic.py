"""Typed status check and deferrable trigger of the FlowMusic (useapi.net) integration."""

from __future__ import annotations

from typing import Any

from airflow_provider_music.contract.flowmusic import normalize_ids
from airflow_provider_music.core.errors import InvalidInputError
from airflow_provider_music.hooks.flowmusic import FlowMusicHook
from airflow_provider_music.triggers.base import MusicPollTrigger, StatusCheck


def job_target(jobid: Any) -> dict[str, Any]:
    """The status target of one job: its ``jobid``, or a generate/edit result (a dict with ``jobid``)."""
    ids = normalize_ids(jobid, argument="jobid")
    if len(ids) != 1:
        raise InvalidInputError(f"jobid: one FlowMusic job per wait, got {len(ids)}")
    return {"jobid": ids[0]}


#: One FlowMusic job (song, edit) until ``completed`` or ``failed``. A user kill cancels it through
#: DELETE jobs/{jobid} (the slot is freed; Flow Music may still finish and the credits are spent).
JOB_STATUS: StatusCheck[FlowMusicHook] = StatusCheck(
    name="FlowMusic job",
    hook_class=FlowMusicHook,
    check=FlowMusicHook.job_status,
    acheck=FlowMusicHook.ajob_status,
    target=job_target,
    cancel=FlowMusicHook.cancel_job,
    acancel=FlowMusicHook.acancel_job,
)


class FlowMusicJobTrigger(MusicPollTrigger):
    """Wait until the job of ``target = {"jobid": ...}`` is completed or failed (pooled aiohttp session)."""

    status_check = JOB_STATUS
