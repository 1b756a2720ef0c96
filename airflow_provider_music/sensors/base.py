"""The one sensor shape shared by every API: poke, reschedule or deferrable, one typed status link.

A concrete sensor declares ``link = SOME_STATUS_LINK`` (see :mod:`airflow_provider_music.triggers.base`)
and builds ``target()`` with that link's one target builder. ``poke`` calls the link's sync status
method; deferrable mode pokes once and then hands the same target to the link's trigger, whose
``async`` twin does the waiting. The connection argument is named after the hook
(``riffusion_conn_id``, ``acrcloud_conn_id``, ...), like every operator of the provider.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import (
    AirflowSensorTimeout,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_provider_music.core.errors import JobTimeoutError, WatchedJobFailedError
from airflow_provider_music.core.polling import PollResult
from airflow_provider_music.operators.base import MusicOperator, check_flag, check_seconds, without_queries
from airflow_provider_music.triggers.base import Progress, StatusLink, settle_seconds, validate_event

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class MusicJobSensor(MusicOperator, BaseSensorOperator):
    """Wait until remote job(s) finish. Any failure fails the task without Airflow retries.

    :param <service>_conn_id: Airflow connection id (templated; default: the hook's default connection).
    :param deferrable: free the worker slot while waiting (default from ``[operators] default_deferrable``).
    :param poke_interval: seconds between status checks (also the trigger's poll interval; finite, > 0).
    :param timeout: seconds before the sensor gives up (``AirflowSensorTimeout``; finite, > 0).

    In ``reschedule`` mode the next poke is at least ``[music] settle_seconds`` away (default 20 s): an
    earlier reschedule date meets an Airflow scheduler race that fails the task (see triggers/base.py).
    """

    link: ClassVar[StatusLink[Any]]
    default_timeout: ClassVar[float | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if "link" in cls.__dict__:
            cls.hook_class = cls.link.hook_class
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

    def target(self) -> dict[str, Any]:
        """The status target: call ``self.link.target(...)`` (the link's one builder) with the sensor's inputs."""
        raise NotImplementedError

    def describe(self) -> str:
        return self.link.describe(self.target())

    def _handle(self, result: PollResult) -> PokeReturnValue:
        if result.state == "failed":
            raise WatchedJobFailedError(f"{self.describe()} failed: {result.message}", details=result.payload)
        if result.state == "success":
            self.log.info("%s finished: %s", self.describe(), without_queries(result.message or "success"))
            return PokeReturnValue(is_done=True, xcom_value=result.payload)
        self._last = result
        if self._progress is None:
            self._progress = Progress(self.describe(), self.log, every=5)
        self._progress.seen(result)
        return PokeReturnValue(is_done=False)

    def poke(self, context: Context) -> PokeReturnValue:
        return self._handle(self.link.poll(self.hook, self.target()))

    def execute(self, context: Context) -> Any:
        self.check_rendered()
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
            trigger=self.link.trigger(
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
        try:
            checked = validate_event(event, describe=self.describe())
        except JobTimeoutError as exc:
            raise AirflowSensorTimeout(str(exc)) from None
        except Exception as exc:
            if isinstance(event, dict) and event.get("status") == "failed":
                raise WatchedJobFailedError(str(exc), details=event.get("payload")) from None
            raise
        self.log.info("%s finished: %s", self.describe(), without_queries(str(checked.get("message") or "success")))
        return checked.get("payload") or {}
