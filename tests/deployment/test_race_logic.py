"""The scheduler-race measurement (tests/deployment/race.py) on hand-made logs, without servers (fast)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from tests.deployment import race

RUN = "manual__2026-12-06T13:22:18.133128+00:00"
TI = "01a24b85-0421-75df-ac95-155dcd9b9031"


def _task_log(home: Path, task: str, stamp: str, event: str) -> None:
    folder = home / "logs" / "dag_id=scheduler_race" / f"run_id={RUN}" / f"task_id={task}" / "map_index=0"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "attempt=1.log").open("a") as log:
        log.write(json.dumps({"timestamp": stamp, "level": "info", "event": event}) + "\n")


def _finished(stamp: str, state: str) -> str:
    return (f"{stamp} [info     ] TaskInstance Finished: dag_id=scheduler_race, task_id=compose, run_id={RUN}, "
            f"map_index=0, ti_id={TI}, run_start_date=x, run_end_date=y, run_duration=1, state={state}, "
            f"executor=LocalExecutor(parallelism=4), executor_state=success, try_number=1, max_tries=0, pool=p")


def _queued(stamp: str) -> list[str]:
    return [f"{stamp} [info     ] Setting the following tasks to queued state (scheduler job_id=1):",
            f"\t<TaskInstance: scheduler_race.compose {RUN} map_index=0 [scheduled] ti_id={TI}> (id={TI}, try_number=1)"]


def _deployment(tmp_path: Path, scheduler: list[str]) -> SimpleNamespace:
    logs = tmp_path / "process-logs"
    logs.mkdir()
    (logs / "scheduler.log").write_text("\n".join(scheduler) + "\n")
    return SimpleNamespace(home=tmp_path / "home", logs=logs)


def test_a_report_taken_before_the_task_is_back_is_no_race(tmp_path):
    _task_log(tmp_path / "home", "compose", "2026-12-06T13:22:20.000000Z", "Pausing task as DEFERRED. ")
    dep = _deployment(tmp_path, [*_queued("2026-12-06T13:22:10.000000Z"),
                                 _finished("2026-12-06T13:22:23.500000Z", "deferred"),
                                 *_queued("2026-12-06T13:22:41.000000Z")])
    (found,) = race.exits(dep, race.DAGS)
    assert found.kind == "compose deferral" and found.state == "deferred" and not found.raced and not found.merged
    assert round(found.window, 1) == 3.5 and round(found.requeued - found.reported, 1) == 17.5
    assert "report taken after median 3.5 s" in race.summary([found])


def test_a_report_that_meets_the_task_back_is_the_race(tmp_path):
    _task_log(tmp_path / "home", "compose", "2026-12-06T13:22:20.000000Z", "Pausing task as DEFERRED. ")
    dep = _deployment(tmp_path, [*_queued("2026-12-06T13:22:25.000000Z"),
                                 _finished("2026-12-06T13:22:27.000000Z", "queued"),
                                 "2026-12-06T13:22:27.1Z [error    ] Executor LocalExecutor reported that the task "
                                 f"instance <TaskInstance: scheduler_race.compose {RUN} [queued]> finished with state "
                                 "success, but the task instance's state attribute is queued."])
    (found,) = race.exits(dep, race.DAGS)
    assert found.raced and found.window == 7.0
    tally = race.tally(SimpleNamespace(task_instances=lambda dag_id, run_id: [{"task_id": "compose", "state": "failed"}],
                                       logs=dep.logs), "scheduler_race", [RUN], {RUN: "failed"})
    assert (tally.failed, tally.failed_runs, tally.mismatches) == (1, 1, 1)


def test_a_report_replaced_by_a_later_one_is_left_out_of_the_times(tmp_path):
    """Celery keeps one result per task key: the exit's own report may never be seen."""
    _task_log(tmp_path / "home", "compose", "2026-12-06T13:22:20.000000Z",
              "Rescheduling task, marking task as UP_FOR_RESCHEDULE")
    dep = _deployment(tmp_path, [*_queued("2026-12-06T13:22:26.000000Z"),
                                 _finished("2026-12-06T13:22:50.000000Z", "success")])
    (found,) = race.exits(dep, race.DAGS)
    assert found.kind == "compose reschedule" and found.merged and not found.raced
    assert "1 without a report of their own" in race.summary([found])
