"""Deferrable triggers of the Riffusion (useapi.net) integration: thin configurations of the shared poll loop."""

from __future__ import annotations

from airflow_provider_music.hooks.riffusion import RiffusionHook
from airflow_provider_music.triggers.base import MusicPollTrigger


class RiffusionSongTrigger(MusicPollTrigger):
    """Wait until every song of ``target = {"job_ids": [...], "user_id": ...}`` is completed (or one failed).

    useapi.net has no way to stop a generation (DELETE scheduler only stops tracking it), so a user kill
    leaves the songs running.
    """

    hook_class = RiffusionHook
    status_method = "asong_status"


class RiffusionUploadAudioTrigger(MusicPollTrigger):
    """Wait until an uploaded audio file (``target = {"upload_id": ..., "user_id": ...}``) is no longer pending."""

    hook_class = RiffusionHook
    status_method = "aupload_status"
