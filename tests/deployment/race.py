"""The scheduler race of issue 19 §1, measured on a running deployment: how many task instances the scheduler
failed, and how long after each deferral or reschedule the scheduler took the executor's report of that exit.

That delay is the race window (apache/airflow issues 66374, 67287, 72716): a trigger event or reschedule date
inside it lets the scheduler queue the task again before it sees the stale report, and then fail it.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow_provider_music.triggers.base import DEFAULT_SETTLE_SECONDS

MISMATCH = "but the task instance's state attribute is"
#: what the task runner logs when a try leaves the worker to come back later
EXITS = ("Pausing task as DEFERRED", "Rescheduling task, marking task as UP_FOR_RESCHEDULE")
# Keyed by (dag, task, run, map index): Airflow 3.1 prints no ``ti_id=`` in the "Finished" line, 3.0 no
# ``(id=...)`` after a queued task instance
_FINISHED = re.compile(r"TaskInstance Finished: dag_id=(?P<dag>[^,]+), task_id=(?P<task>[^,]+), run_id=(?P<run>[^,]+), "
                       r"map_index=(?P<map>-?\d+),.*? state=(?P<state>[a-z_]+), executor=")
_QUEUED = re.compile(r"^\s+<TaskInstance: (?P<dag>[^.\s]+)\.(?P<task>\S+) (?P<run>\S+)(?: map_index=(?P<map>\d+))? "
                     r"\[[a-z_]+\][^>]*>")  # then " (id=..., try_number=N)" except on 3.0
_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)")


DAGS = ("scheduler_race", "scheduler_race_60")
RUNS, SLOW_RUNS = 20, 3
#: what the deployments run with unless ``DEPLOYMENT_SETTLE_SECONDS`` says otherwise
DEFAULT_SETTLE = DEFAULT_SETTLE_SECONDS
#: task instances per run of each DAG (tests/deployment/dags/scheduler_race.py)
TASKS = {"scheduler_race": 5, "scheduler_race_60": 2}


def run(dep: Any, *, settle: str | None, runs: int = RUNS, slow_runs: int = SLOW_RUNS, timeout: float = 900) -> Outcome:
    """20 runs at once of mapped deferrable compose tasks (2-second jobs), a deferrable sensor and a reschedule
    sensor (poke 5 s), plus a few runs of a reschedule sensor poking every 60 s; the tallies, printed with the
    measured exit timelines."""
    _flowmusic_capacity(dep, runs + slow_runs)
    dep.emulator_settings(**{"riffusion.job_seconds": 2, "flowmusic.job_seconds": 60})
    try:
        started = time.monotonic()
        fast = dep.trigger_many(DAGS[0], runs)
        slow = dep.trigger_many(DAGS[1], slow_runs)
        fast_states = dep.wait_runs(DAGS[0], fast, timeout=timeout)
        slow_states = dep.wait_runs(DAGS[1], slow, timeout=max(60.0, timeout - (time.monotonic() - started)))
        took = time.monotonic() - started
    finally:
        dep.emulator_settings(**{"riffusion.job_seconds": 5, "flowmusic.job_seconds": 5})
    tallies = [tally(dep, DAGS[0], fast, fast_states), tally(dep, DAGS[1], slow, slow_states)]
    found = exits(dep, DAGS)
    print(f"{type(dep).__name__}, settle {settle or 'default'}, {took:.0f} s:", *(t.line() for t in tallies),
          summary(found), sep="\n  ")
    return Outcome(tallies, found, DEFAULT_SETTLE if settle is None else float(settle))


@dataclass
class Outcome:
    tallies: list[Tally]
    exits: list[Exit]
    settle: float


def _flowmusic_capacity(dep: Any, jobs: int) -> None:
    """Enough FlowMusic accounts (16 jobs each, the API's maximum) for ``jobs`` jobs at once: every run's job
    lasts 60 s, and a create finding every account busy is a 429."""
    import requests

    url = f"{dep.emulator}/v1/flowmusic/accounts"
    headers = {"Authorization": f"Bearer {dep.token}"}
    accounts = requests.get(url, headers=headers, timeout=30).json()
    emails = list(accounts) if isinstance(accounts, dict) else [a["email"] for a in accounts]
    for n in range(len(emails), -(-jobs // 16)):
        requests.post(url, headers=headers, json={"refresh_token": f"race-account-{n}-refresh-token", "maxJobs": 16},
                      timeout=30).raise_for_status()
    for email in emails:
        requests.post(url, headers=headers, json={"email": email, "maxJobs": 16}, timeout=30).raise_for_status()


def check(outcome: Outcome) -> None:
    """Every task instance succeeded, and none came back sooner than the settle time after it left."""
    for t in outcome.tallies:
        assert t.task_instances == t.runs * TASKS[t.dag_id], t.line()
        assert t.failed == 0 and t.mismatches == 0, t.line()
    kinds = {e.kind for e in outcome.exits}
    assert {"compose deferral", "deferred_sensor deferral", "reschedule_sensor reschedule"} <= kinds, kinds
    back = sorted(e.requeued - e.left for e in outcome.exits if e.requeued is not None)
    assert back and back[0] >= outcome.settle - 1, f"a task came back {back[0]:.1f} s after leaving the worker"


@dataclass
class Tally:
    """Runs x task instances x failures of one experiment, and the scheduler's state-mismatch lines."""

    dag_id: str
    runs: int = 0
    task_instances: int = 0
    failed: int = 0
    failed_runs: int = 0
    mismatches: int = 0
    states: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        return (f"{self.dag_id}: {self.runs} runs x {self.task_instances} task instances: {self.failed} failed "
                f"({self.failed_runs} runs failed, {self.mismatches} state-mismatch lines); {dict(self.states)}")


def tally(dep: Any, dag_id: str, run_ids: list[str], run_states: dict[str, str]) -> Tally:
    result = Tally(dag_id, runs=len(run_ids))
    for run_id in run_ids:
        for ti in dep.task_instances(dag_id, run_id):
            result.task_instances += 1
            result.states[f"{ti['task_id']}:{ti['state']}"] += 1
            result.failed += ti["state"] != "success"
    result.failed_runs = sum(state != "success" for state in run_states.values())
    result.mismatches = sum(MISMATCH in line and f"TaskInstance: {dag_id}." in line for line in scheduler_lines(dep))
    return result


def scheduler_lines(dep: Any) -> list[str]:
    return [line for path in sorted(dep.logs.glob("scheduler*.log"))
            for line in path.read_text(errors="replace").splitlines()]


def _when(text: str) -> float | None:
    found = _STAMP.search(text)
    if not found:
        return None
    return datetime.fromisoformat(found.group(1)).timestamp()


def _exits(home: Path, dag_ids: tuple[str, ...]) -> list[tuple[tuple[str, str, str, int, int], float, str]]:
    """(dag, task, run, map index, try) and the time of every deferral/reschedule in the task logs."""
    found = []
    for dag_id in dag_ids:
        for path in (home / "logs" / f"dag_id={dag_id}").rglob("attempt=*.log"):
            parts = {p.split("=", 1)[0]: p.split("=", 1)[1] for p in path.parts if "=" in p}
            try_number = int(path.name.split("=", 1)[1].split(".")[0])
            key = (dag_id, parts["task_id"], parts["run_id"], int(parts.get("map_index", -1)), try_number)
            for line in path.read_text(errors="replace").splitlines():
                kind = next((k for k, text in zip(("deferral", "reschedule"), EXITS, strict=True) if text in line), None)
                if kind:
                    try:
                        stamp = _when(json.loads(line).get("timestamp", ""))
                    except ValueError:
                        stamp = _when(line)
                    if stamp is not None:
                        found.append((key, stamp, f"{parts['task_id']} {kind}"))
    return found


@dataclass
class Exit:
    """One deferral or reschedule: when the task left the worker, when the scheduler next took an executor
    report for it and the task's state then, and when the scheduler queued it again (None: not again)."""

    kind: str
    left: float
    reported: float
    state: str
    requeued: float | None

    @property
    def window(self) -> float:
        return self.reported - self.left

    @property
    def raced(self) -> bool:
        """The stale report met the task back in play: the scheduler's state-mismatch path (3.3.2 spares only
        ``scheduled`` after a deferral)."""
        return self.state in ("scheduled", "queued", "running")

    @property
    def merged(self) -> bool:
        """No report of this exit of its own (Celery keeps one result per task key: a later run's replaced it)."""
        return not self.raced and self.requeued is not None and self.requeued < self.reported


def exits(dep: Any, dag_ids: tuple[str, ...]) -> list[Exit]:
    """Every deferral/reschedule of ``dag_ids`` with its timeline (task logs + the scheduler's log)."""
    reported: dict[tuple[str, str, str, int], list[tuple[float, str]]] = {}
    queued: dict[tuple[str, str, str, int], list[float]] = {}
    header: float | None = None
    for line in scheduler_lines(dep):
        stamp = _when(line[:40])
        if stamp is not None:
            header = stamp if "Setting the following tasks to queued state" in line else None
        match = _FINISHED.search(line)
        if match and stamp is not None:
            key = (match["dag"], match["task"], match["run"], int(match["map"]))
            reported.setdefault(key, []).append((stamp, match["state"]))
        queued_match = _QUEUED.match(line)
        if queued_match and header is not None:
            key = (queued_match["dag"], queued_match["task"], queued_match["run"], int(queued_match["map"] or -1))
            queued.setdefault(key, []).append(header)
    found = []
    for key, at, kind in _exits(dep.home, dag_ids):
        later = sorted(r for r in reported.get(key[:4], []) if r[0] >= at - 0.5)
        if not later:
            continue
        again = [t for t in queued.get(key[:4], []) if t > at]
        found.append(Exit(kind, at, later[0][0], later[0][1], min(again) if again else None))
    return found


def summary(found: list[Exit]) -> str:
    """Per task and kind: how long the scheduler took the report of an exit, how close the task came back."""
    if not found:
        return "no deferral/reschedule exits found in the logs"
    lines = []
    for kind in sorted({e.kind for e in found}):
        group = [e for e in found if e.kind == kind]
        times = sorted(e.window for e in group if not e.merged)
        margins = sorted(e.requeued - e.reported for e in group if e.requeued is not None and not e.merged)
        p95 = times[max(0, int(len(times) * 0.95) - 1)] if times else float("nan")
        lines.append(f"{kind}: {len(group)} exits ({sum(e.merged for e in group)} without a report of their own); "
                     f"report taken after median {statistics.median(times) if times else float('nan'):.1f} s, "
                     f"p95 {p95:.1f} s, max {times[-1] if times else float('nan'):.1f} s; back "
                     f"{margins[0] if margins else float('nan'):+.1f} s after the report at the closest; "
                     f"{sum(e.raced for e in group)} reports met the task back")
    return "\n  ".join(lines)
