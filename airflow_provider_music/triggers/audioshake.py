"""Typed status check and deferrable trigger for AudioShake jobs (legacy Jobs API) and tasks (Tasks API)."""

from __future__ import annotations

from typing import Any

from airflow_provider_music.hooks.audioshake import AudioShakeHook
from airflow_provider_music.triggers.base import MusicPollTrigger, StatusCheck


def separation_target(jobs: Any = None, tasks: Any = None, wait_all: bool = True) -> dict[str, Any]:
    """``{"jobs": {stem: job_id} | [job_id, ...], "tasks": {model: task_id} | [task_id], "wait_all": bool}``."""
    return {"jobs": jobs or None, "tasks": tasks or None, "wait_all": bool(wait_all)}


#: Legacy jobs and/or Tasks API targets until every one is terminal. AudioShake has no cancel endpoint,
#: so killing the task leaves the jobs running.
SEPARATION_STATUS: StatusCheck[AudioShakeHook] = StatusCheck(
    name="AudioShake separation", hook_class=AudioShakeHook, target=separation_target,
    check=AudioShakeHook.separation_status, acheck=AudioShakeHook.aseparation_status,
)


class AudioShakeJobTrigger(MusicPollTrigger):
    """Poll ``AudioShakeHook.aseparation_status(**target)`` until every job/target is terminal."""
    status_check = SEPARATION_STATUS
