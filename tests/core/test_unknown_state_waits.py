"""Issue 21 §5 at the depth every API shares: ``PollResult.unknown`` (``core.parsing.unknown_state``) keeps a wait
going with one WARNING per state per wait - ``triggers.base.Progress`` (operators, sensors, triggers) and
the operators' sync wait (``operators.base.wait_until_done``) alike - and the timeout names the state."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from airflow_provider_music.core.errors import JobTimeoutError
from airflow_provider_music.core.parsing import PollResult, unknown_state
from airflow_provider_music.operators.base import wait_until_done
from airflow_provider_music.triggers.base import Progress


class Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda msg, *args: self.lines.append((level, msg % args if args else msg))

    def warnings(self) -> list[str]:
        return [text for level, text in self.lines if level == "warning"]


def _unknown(*states: str) -> PollResult:
    notes = tuple(unknown_state(f"job j{n}", s, ("queued", "done")) for n, s in enumerate(states))
    return PollResult("running", "; ".join(notes), unknown=notes)


def test_unknown_state_note_names_the_state_and_never_success():
    note = unknown_state("upload u1", "rejected", ("pending", "complete"))
    assert "upload u1: unknown state 'rejected' (known: pending, complete)" in note and "not a success" in note
    assert unknown_state("", None).startswith("unknown state 'None'")


def test_progress_warns_once_per_state_per_wait():
    log = Recorder()
    progress = Progress("Toy job", log, every=5)
    for _ in range(20):
        progress.seen(_unknown("mastering"))
    progress.seen(_unknown("mastering", "reviewing"))
    progress.seen(_unknown("mastering", "reviewing"))
    assert len(log.warnings()) == 2
    other = Recorder()  # a new wait (a new Progress) warns again
    Progress("Toy job", other).seen(_unknown("mastering"))
    assert len(other.warnings()) == 1


def test_sync_wait_warns_once_and_times_out_naming_the_state():
    log = Recorder()
    with pytest.raises(JobTimeoutError, match="unknown state 'mastering'"):
        wait_until_done(lambda: _unknown("mastering"), first=None, poll_interval=0.01, timeout=0.2, describe="toy",
                        logger=log)
    assert len(log.warnings()) == 1


def test_sync_wait_goes_on_through_an_unknown_state_to_success():
    answers = itertools.chain([_unknown("mastering")] * 5, itertools.repeat(PollResult("success", "done")))
    log = Recorder()
    result = wait_until_done(lambda: next(answers), first=None, poll_interval=0.01, timeout=5, describe="toy",
                             logger=log)
    assert result.state == "success"
    assert len(log.warnings()) == 1
