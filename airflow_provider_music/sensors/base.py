"""The one sensor shape shared by every API: poke, reschedule or deferrable, same status method.

A concrete sensor names its hook class, its trigger class and builds ``target`` (the JSON-primitive
keyword arguments of the hook's status method). ``poke`` calls the sync status method; deferrable mode
pokes once and then hands the same ``target`` to the trigger, whose ``async`` twin does the waiting.
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

from airflow_provider_music.core import JobTimeoutError, MusicApiHook, PollResult, WatchedJobFailedError
from airflow_provider_music.triggers.base import MusicPollTrigger, deadline_after, validate_event

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class MusicJobSensor(BaseSensorOperator):
    """Wait until remote job(s) finish. Any failure fails the task without Airflow retries.

    :param conn_id: Airflow connection id.
    :param deferrable: free the worker slot while waiting (default from ``[operators] default_deferrable``).
    :param poke_interval: seconds between status checks (also the trigger's poll interval).
    :param timeout: seconds before the sensor gives up (``AirflowSensorTimeout``).
    """

    hook_class: ClassVar[type[MusicApiHook]]
    trigger_class: ClassVar[type[MusicPollTrigger]]
    status_method: ClassVar[str]
    default_timeout: ClassVar[float | None] = None

    def __init__(
        self,
        *,
        conn_id: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        if self.default_timeout is not None and "timeout" not in kwargs:
            kwargs["timeout"] = self.default_timeout
        kwargs.setdefault("poke_interval", 30)
        super().__init__(**kwargs)
        self.conn_id = conn_id or self.hook_class.default_conn_name
        self.deferrable = deferrable

    def target(self) -> dict[str, Any]:
        """JSON-primitive keyword arguments of the hook's status method."""
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.hook_class.hook_name} {self.target()}"

    def _hook(self) -> MusicApiHook:
        return self.hook_class(conn_id=self.conn_id)

    def _handle(self, result: PollResult) -> PokeReturnValue:
        if result.state == "failed":
            raise WatchedJobFailedError(f"{self.describe()} failed: {result.message}", details=result.payload)
        if result.state == "success":
            return PokeReturnValue(is_done=True, xcom_value=result.payload)
        self.log.info("%s: %s", self.describe(), result.message or "still running")
        return PokeReturnValue(is_done=False)

    def poke(self, context: Context) -> PokeReturnValue:
        result: PollResult = getattr(self._hook(), self.status_method)(**self.target())
        return self._handle(result)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        self.defer(
            trigger=self.trigger_class(
                conn_id=self.conn_id,
                target=self.target(),
                poll_interval=self.poke_interval,
                deadline=deadline_after(self.timeout),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout + 60) if self.timeout is not None else None,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        try:
            checked = validate_event(event, describe=self.describe())
        except JobTimeoutError as exc:
            raise AirflowSensorTimeout(str(exc)) from None
        except Exception as exc:
            if isinstance(event, dict) and event.get("status") == "failed":
                raise WatchedJobFailedError(str(exc), details=event.get("payload")) from None
            raise
        return checked.get("payload") or {}
