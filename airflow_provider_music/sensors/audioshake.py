"""Sensor waiting for AudioShake jobs (legacy Jobs API) or a task (Tasks API)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_music.contract.audioshake import normalise_ids
from airflow_provider_music.core import InvalidInputError, lineage
from airflow_provider_music.operators.audioshake import AudioShakeBaseOperator
from airflow_provider_music.sensors.base import MusicJobSensor
from airflow_provider_music.triggers.audioshake import SEPARATION_STATUS, separation_target


class AudioShakeJobSensor(AudioShakeBaseOperator, MusicJobSensor):
    """Wait until AudioShake jobs or a task are completed; any failure fails the task with AudioShake's message.

    Give exactly one of ``job_ids`` (legacy Jobs API: an id, a list of ids, a ``{stem: job_id}`` dict, or the
    same as a JSON / comma-separated string, e.g. pulled from XCom) or ``audioshake_task_id`` (Tasks API: every
    target of the task must complete). Works in ``poke``, ``reschedule`` and deferrable mode. On success the
    XCom return value is ``{"items": {label: {"id", "state", "message"}}}``.

    :param job_ids: legacy job ids to wait for.
    :param audioshake_task_id: Tasks API task id to wait for (``task_id`` is the Airflow task's own id).
    :param audioshake_conn_id: connection id (default ``audioshake_default``). Templated.
    """

    status_check = SEPARATION_STATUS
    template_fields: Sequence[str] = ("job_ids", "audioshake_task_id")
    ui_color = "#f2e6ff"

    def __init__(self, *, job_ids: Any = None, audioshake_task_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_ids = job_ids
        self.audioshake_task_id = audioshake_task_id

    def target(self) -> dict[str, Any]:
        """The status target: ``job_ids`` (legacy Jobs API) or ``audioshake_task_id`` (Tasks API), exactly one."""
        jobs = normalise_ids(self.job_ids, argument="job_ids")
        tasks = normalise_ids(self.audioshake_task_id, argument="audioshake_task_id")
        if bool(jobs) == bool(tasks):
            raise InvalidInputError("AudioShakeJobSensor needs exactly one of job_ids or audioshake_task_id")
        return separation_target(jobs=jobs, tasks=list(tasks.values()), wait_all=False)

    def report(self, payload: dict[str, Any] | None) -> None:
        """Lineage: the watched jobs/task (their final states as facts)."""
        target = self.target()
        jobs = target.get("jobs") or {}
        ids = [str(i) for i in [*(jobs.values() if isinstance(jobs, dict) else jobs), *(target.get("tasks") or [])]]
        lineage.add_datasets(self.task_report.inputs, *(lineage.audioshake_task(i) for i in ids))
        self.task_report.facts["ids"] = ids
        if payload:
            items = payload.get("items") or {}
            self.task_report.facts["states"] = {k: v.get("state") for k, v in items.items() if isinstance(v, dict)}
