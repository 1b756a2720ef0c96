"""Polling results shared by operators, sensors and triggers (the sync wait is ``operators.base.wait_until_done``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

PollState = Literal["running", "success", "failed"]


@dataclass
class PollResult:
    """The state of one or more remote jobs at one poll. ``payload`` must stay small and JSON-primitive.

    ``unknown`` lists states this package does not know (see :func:`unknown_state`): such a result is
    ``running`` - never a success, never a failure the service may still turn into one - and every wait
    (operator, sensor, trigger: ``triggers.base.Progress``) warns once per note; a timeout names them, as
    the message holds them too.
    """

    state: PollState
    message: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        return self.state != "running"


def unknown_state(what: str, value: Any, known: Any = ()) -> str:
    """The note for a state this package does not know: ``upload u1: unknown state 'rejected' (known: ...)``.

    The one convention of every API: an unknown state keeps the wait going (with a warning) until the job
    reaches a known state or the deadline, whose timeout error names the state.
    """
    shown = f" (known: {', '.join(str(k) for k in known)})" if known else ""
    where = f"{what}: " if what else ""
    return f"{where}unknown state {str(value)[:50]!r}{shown}: not a success, polling on until the deadline"
