"""Cost and budget of :class:`~airflow_provider_music.operators.audioshake.AudioShakeStemSeparationOperator`.

* Tasks API: the cost is the ``cost`` AudioShake reports on each task (``GET /tasks/{id}``; summed over the
  task instance's tasks, one per source), in credits. The budget estimate is ``creditsPerMinute`` of each
  model (``GET /models``) x the input's duration, per stem and source - the duration is known for local PCM
  WAV files only; for other sources (URLs, asset ids, mp3/flac...) no estimate is possible and the guard checks
  nothing (the log says so). AudioShake documents no balance read: the remaining credits are not checked.
* Legacy Jobs API: the jobs report no cost (``cost`` is unknown) and publish no price (no estimate).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_music.core.errors import MusicApiError
from airflow_provider_music.core.report import Cost
from airflow_provider_music.operators.cost import Estimate, unknown, wav_duration

UNIT = "credits"
SOURCE = "GET /tasks/{id} cost"
#: Credits per minute of a ``high_quality`` variant (contract price list; GET /models lists models, not variants).
HIGH_QUALITY_PER_MINUTE = 1.5


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def task_cost(tasks: Mapping[str, Mapping[str, Any]]) -> Cost:
    """The summed ``cost`` of ``{task id: task record}`` (a task without a number: its targets' ``cost``)."""
    total = 0.0
    for ident, task in tasks.items():
        amount = _number(task.get("cost"))
        if amount is None:
            targets = task.get("targets")
            parts = [_number(t.get("cost")) for t in targets if isinstance(t, Mapping)] if isinstance(targets, list) else []
            if not parts or any(p is None for p in parts):
                return unknown(f"task {ident} reports no cost", UNIT)
            amount = sum(p for p in parts if p is not None)
        total += amount
    return Cost(round(total, 4), UNIT, SOURCE)


class SeparationCost:
    """Mixed in before ``MusicJobOperator``: the separation's estimate and reported cost."""

    def estimate_cost(self, context: Any) -> Estimate:
        """``creditsPerMinute`` (GET /models) x duration, per stem and source (Tasks API, local WAV files)."""
        op: Any = self
        if op.hook.backend.name != "tasks":
            return Estimate(None, UNIT, "the legacy Jobs API publishes no price")
        minutes = []
        for kind, value, label in op._sources:
            seconds = wav_duration(value) if kind == "file" else None
            if seconds is None:
                return Estimate(None, UNIT, f"duration of {label!r} unknown (only local WAV files are measured)")
            minutes.append(seconds / 60.0)
        rates = {m.get("id"): _number(m.get("creditsPerMinute")) for m in op.hook.tasks.list_models()}
        missing = [stem for stem in op._formats if rates.get(stem) is None]
        if missing:
            return Estimate(None, UNIT, f"GET /models gives no creditsPerMinute for {missing}")
        floor = HIGH_QUALITY_PER_MINUTE if (op.job_options or {}).get("variant") == "high_quality" else 0.0
        per_minute = sum(max(rates[stem] or 0.0, floor) for stem in op._formats)
        amount = round(per_minute * sum(minutes), 4)
        return Estimate(amount, UNIT, f"{per_minute:g} credits/min (GET /models creditsPerMinute of "
                                      f"{sorted(op._formats)}) x {sum(minutes):.3g} min")

    def work_cost(self, record: dict[str, Any], result: Any, output: Any) -> Cost | None:
        """The tasks' ``cost`` (Tasks API); unknown on the legacy Jobs API."""
        op: Any = self
        if record.get("api") != "tasks":
            return unknown("the legacy Jobs API reports no cost", UNIT)
        if result is None:
            return unknown("not waited for (wait_for_completion=False): see GET /tasks/{id}", UNIT)
        ids = sorted({i for e in record.get("sources", []) for i in (e.get("units") or {}).values()})
        try:
            return task_cost(op.hook.tasks.fetch(ids))
        except MusicApiError as exc:  # the work is done: an unreadable cost does not fail the task
            return unknown(f"GET /tasks/{{id}} failed: {exc}"[:200], UNIT)
