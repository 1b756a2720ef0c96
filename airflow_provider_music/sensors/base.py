"""The one sensor shape shared by every API: poke, reschedule or deferrable, one typed status check.

A concrete sensor declares ``status_check = SOME_STATUS`` (see :mod:`airflow_provider_music.triggers.base`)
and builds ``target()`` with that check's one target builder. ``poke`` calls the check's sync status
method; deferrable mode pokes once and then hands the same target to the check's trigger, whose
``async`` twin does the waiting. The connection argument is named after the hook
(``riffusion_conn_id``, ``acrcloud_conn_id``, ...), like every operator of the provider.
"""

from __future__ import annotations

import sys
import warnings
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import (
    AirflowSensorTimeout,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_provider_music.core.errors import JobTimeoutError, WatchedJobFailedError
from airflow_provider_music.core.parsing import PollResult
from airflow_provider_music.operators.base import MusicOperator, check_flag, check_seconds, without_queries
from airflow_provider_music.triggers.base import (
    Progress,
    StatusCheck,
    configured_settle_seconds,
    settle_seconds,
    validate_event,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


#: Shortest ``poke_interval`` in ``reschedule`` mode that does not warn (seconds).
RESCHEDULE_MIN_INTERVAL = 60.0
#: CPU seconds of Airflow's own work per reschedule poke (task start, execution-API calls, the reschedule),
#: measured in bench/README.md (issue 16: 0.3-0.37 s).
RESCHEDULE_POKE_CPU_SECONDS = 0.3


def _warn_at_dag_line(message: str, category: type[Warning]) -> None:
    """Warn at the first caller outside Airflow and this package (the DAG file's line), whatever the number of
    ``__init__`` wrappers in between."""
    frame = sys._getframe(1)
    while frame.f_back is not None and str(frame.f_globals.get("__name__", "")).startswith("airflow"):
        frame = frame.f_back
    warnings.warn_explicit(message, category, frame.f_code.co_filename, frame.f_lineno,
                           module=str(frame.f_globals.get("__name__", "")),
                           registry=frame.f_globals.setdefault("__warningregistry__", {}))


class RescheduleCostWarning(UserWarning):
    """A sensor in ``reschedule`` mode pokes more often than once a minute (each poke is a task start)."""


class MusicJobSensor(MusicOperator, BaseSensorOperator):
    """Wait until remote job(s) finish. Any failure fails the task without Airflow retries.

    :param <service>_conn_id: Airflow connection id (templated; default: the hook's default connection).
    :param deferrable: free the worker slot while waiting (default from ``[operators] default_deferrable``).
    :param poke_interval: seconds between status checks (also the trigger's poll interval; finite, > 0).
    :param timeout: seconds before the sensor gives up (``AirflowSensorTimeout``; finite, > 0).

    In ``reschedule`` mode the next poke is at least ``[music] settle_seconds`` away (default 20 s): an
    earlier reschedule date meets an Airflow scheduler race that fails the task (see triggers/base.py). Each
    reschedule poke costs ~0.3 CPU s of Airflow's own work (a task start; bench/README.md): a ``poke_interval``
    under 60 s in that mode warns (:class:`RescheduleCostWarning`) when the DAG file is parsed.
    """

    status_check: ClassVar[StatusCheck[Any]]
    default_timeout: ClassVar[float | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if "status_check" in cls.__dict__:
            cls.hook_class = cls.status_check.hook_class
        super().__init_subclass__(**kwargs)

    def __init__(
        self,
        *,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> None:
        # Declared here so that Airflow fills them from the DAG's default_args (it does so per signature).
        if timeout is None:
            timeout = self.default_timeout
        if timeout is not None:
            kwargs["timeout"] = timeout
        kwargs["poke_interval"] = 30 if poke_interval is None else poke_interval
        for argument in ("poke_interval", "timeout"):
            if argument in kwargs and not isinstance(kwargs[argument], timedelta):
                kwargs[argument] = check_seconds(argument, kwargs[argument], allow_none=False)
        super().__init__(**kwargs)
        self.deferrable = check_flag("deferrable", deferrable)
        self._progress: Progress | None = None
        self._last: PollResult | None = None
        self._warn_if_reschedule_is_costly()

    def _warn_if_reschedule_is_costly(self) -> None:
        """At DAG parse time: ``mode="reschedule"`` (not deferrable) with a poke interval under a minute warns."""
        if self.deferrable or self.mode != "reschedule":
            return
        interval = self.poke_interval.total_seconds() if isinstance(self.poke_interval, timedelta) else \
            float(self.poke_interval)
        if interval >= RESCHEDULE_MIN_INTERVAL:
            return
        settle = configured_settle_seconds()
        _warn_at_dag_line(
            f"{type(self).__name__} task {self.task_id!r}: mode='reschedule' with poke_interval={interval:g} s. "
            f"Each reschedule poke starts a task process: ~{RESCHEDULE_POKE_CPU_SECONDS} CPU s of Airflow's own "
            f"work per poke (measured, bench/README.md), so short intervals load workers and the scheduler; and "
            f"with [music] settle_seconds={settle:g} s the sensor pokes at most every {max(interval, settle):g} s. "
            f"Use poke_interval >= {RESCHEDULE_MIN_INTERVAL:g} s, or deferrable=True for short waits.",
            RescheduleCostWarning,
        )

    def target(self) -> dict[str, Any]:
        """The status target: call ``self.status_check.target(...)`` (the check's one builder) with the sensor's inputs."""
        raise NotImplementedError

    def describe(self) -> str:
        """How logs and errors name the watched job(s)."""
        return self.status_check.describe(self.target())

    def _handle(self, result: PollResult) -> PokeReturnValue:
        if result.state == "failed":
            raise WatchedJobFailedError(f"{self.describe()} failed: {result.message}", details=result.payload)
        if result.state == "success":
            self.log.info("%s finished: %s", self.describe(), without_queries(result.message or "success"))
            self.report(result.payload)
            return PokeReturnValue(is_done=True, xcom_value=result.payload)
        self._last = result
        if self._progress is None:
            self._progress = Progress(self.describe(), self.log, every=5)
        self._progress.seen(result)
        return PokeReturnValue(is_done=False)

    def poke(self, context: Context) -> PokeReturnValue:
        """One status check: done on success, :class:`WatchedJobFailedError` on failure, else not yet."""
        return self._handle(self.status_check.poll(self.hook, self.target()))

    def execute(self, context: Context) -> Any:
        """Checks after rendering, then poke/reschedule (Airflow's loop; a timeout names the last state) or,
        when deferrable, one poke and the status check's trigger."""
        self.check_rendered()
        self.report(None)
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSensorTimeout as exc:  # name the last state (e.g. one this package does not know)
                if self._last is None:
                    raise
                raise AirflowSensorTimeout(
                    f"{exc} Last state of {self.describe()}: {without_queries(self._last.message)}"
                ) from None
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        timeout = float(self.timeout) if self.timeout is not None else None
        self.defer(
            trigger=self.status_check.trigger(
                conn_id=self.conn_id, target=self.target(), poll_interval=float(self.poke_interval), timeout=timeout
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=timeout + 60) if timeout is not None else None,
        )

    def _get_next_poke_interval(self, started_at: Any, run_duration: Any, poke_count: int) -> float:
        """Airflow's next interval; in reschedule mode no shorter than the settle time (the scheduler race)."""
        interval = float(super()._get_next_poke_interval(started_at, run_duration, poke_count))
        return max(interval, settle_seconds()) if self.reschedule else interval

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume from the trigger: the event checked (timeout -> ``AirflowSensorTimeout``); returns its payload."""
        try:
            checked = validate_event(event, describe=self.describe())
        except JobTimeoutError as exc:
            raise AirflowSensorTimeout(str(exc)) from None
        except Exception as exc:
            if isinstance(event, dict) and event.get("status") == "failed":
                raise WatchedJobFailedError(str(exc), details=event.get("payload")) from None
            raise
        self.log.info("%s finished: %s", self.describe(), without_queries(str(checked.get("message") or "success")))
        self.report(None)
        self.report(checked.get("payload") or {})
        return checked.get("payload") or {}

    def report(self, payload: dict[str, Any] | None) -> None:
        """Fill ``task_report`` (lineage, facts): the watched objects (``payload`` None), then what the finished
        work gave (its final status payload). Called again with more; subclasses say what their API gives."""
