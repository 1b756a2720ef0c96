"""Deferrable trigger for AudioShake jobs (legacy Jobs API) and tasks (Tasks API)."""

from __future__ import annotations

from airflow_provider_music.hooks.audioshake import AudioShakeHook
from airflow_provider_music.triggers.base import MusicPollTrigger


class AudioShakeJobTrigger(MusicPollTrigger):
    """Poll ``AudioShakeHook.aseparation_status(**target)`` until every job/target is terminal.

    ``target`` is ``{"jobs": {stem: job_id} | [job_id, ...], "tasks": {model: task_id} | [task_id],
    "wait_all": bool}``. AudioShake has no cancel endpoint, so killing the task leaves the jobs running.
    """

    hook_class = AudioShakeHook
    status_method = "aseparation_status"
