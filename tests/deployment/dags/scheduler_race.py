"""The scheduler race of issue 19 §1 (apache/airflow issues 66374, 67287, 72716): short jobs whose trigger event
or reschedule date comes seconds after the worker exit that deferred or rescheduled the task.

``scheduler_race`` (20 runs at once): mapped deferrable compose tasks on 2-second Riffusion jobs (each trigger's
first poll finds its job done), and a deferrable sensor and a reschedule sensor (poke 5 s) on a FlowMusic job of
60 s: with 20 runs sharing 4 worker slots the sensors start 15-55 s after it, so the reschedule sensor comes
back every 5 s several times and the deferrable sensor's event often comes at its trigger's first polls.
``scheduler_race_60`` (the small case): a reschedule sensor poking every 60 s.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_music.operators.flowmusic import FlowMusicGenerateOperator
from airflow_provider_music.operators.riffusion import RiffusionComposeOperator
from airflow_provider_music.sensors.flowmusic import FlowMusicJobSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
RUNS = 20
#: task instances of one scheduler_race run: compose x2 (mapped), submit, deferred_sensor, reschedule_sensor
TASKS_PER_RUN = 5

with DAG("scheduler_race", schedule=None, start_date=START, catchup=False, max_active_runs=RUNS,
         max_active_tasks=100, tags=["test"]):
    RiffusionComposeOperator.partial(
        task_id="compose", deferrable=True, poll_interval=5, timeout=900,
    ).expand(prompt=["race song a", "race song b"])
    submit = FlowMusicGenerateOperator(task_id="submit", prompt="race sensor song", wait_for_completion=False)
    FlowMusicJobSensor(task_id="deferred_sensor", jobid=submit.output, deferrable=True, poke_interval=5,
                       timeout=900)
    FlowMusicJobSensor(task_id="reschedule_sensor", jobid=submit.output, mode="reschedule", deferrable=False,
                       poke_interval=5, timeout=900)

with DAG("scheduler_race_60", schedule=None, start_date=START, catchup=False, max_active_runs=RUNS,
         tags=["test"]):
    slow = FlowMusicGenerateOperator(task_id="submit", prompt="race sensor song (60 s)", wait_for_completion=False)
    FlowMusicJobSensor(task_id="reschedule_sensor_60", jobid=slow.output, mode="reschedule", deferrable=False,
                       poke_interval=60, timeout=900)
