"""The one operator base of this provider: connection argument, wait arguments and the job lifecycle.

:class:`MusicOperator` gives every operator its connection argument, named after the hook
(``<hook_class.conn_name_attr>``: ``riffusion_conn_id``, ``acrcloud_conn_id``, ...), a cached hook and
the "validate after render" step. Each API's base operator (``FlowMusicBaseOperator``, ...) declares that
argument in its ``__init__`` signature, as Amazon's ``AwsBaseOperator`` declares ``aws_conn_id``, so
``.partial()`` / ``.expand()`` take it; another API's argument fails naming the right one.
:class:`MusicJobOperator` adds the lifecycle every paid remote job shares::

    validate (parse time, then after render) -> resume or submit -> store the record
      -> announce (XCom, links) -> poll once -> wait (sync) or defer (trigger)
      -> execute_complete (event checked) -> finish -> one summary line

A subclass states only what differs: ``hook_class``, ``status_check``, ``state_key`` and the methods
``validate``, ``submit``, ``find_existing`` (optional), ``target``, ``announce`` (optional), ``finish`` and
``summarize`` (optional). See ``docs/architecture.md`` and the guide in the repository's coordination notes.

Resume, per Airflow version:

* 3.3+: the job record is written to ``task_state_store`` (``state_key``) right after the submit; a later
  try reads it, polls once and reconnects (running), returns (succeeded) or submits again (failed) - the
  decision of 3.3's ``ResumableJobMixin``, applied to the deferrable path too.
* every version: a deferral carries the record in the ``defer`` kwargs (same try), so ``execute_complete``
  never needs a store.
* below 3.3 (or a crash between submit and store): ``find_existing`` asks the API (replyRef markers, job
  lists, the recorded request within a time window). XCom is no fallback: Airflow 3.0-3.3 delete a task
  instance's XComs when a new try starts (only a resume from deferral keeps them).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import BaseOperator, BaseOperatorLink, XCom, conf

from airflow_provider_music import core
from airflow_provider_music.core.deadline import deadline_scope
from airflow_provider_music.core.errors import (
    ConfigurationError,
    InvalidInputError,
    JobFailedError,
    JobTimeoutError,
    MusicApiError,
    NotFoundError,
    redact_url,
)
from airflow_provider_music.core.parsing import PollResult
from airflow_provider_music.core.report import Cost, TaskReport
from airflow_provider_music.core.validation import positive_number
from airflow_provider_music.hooks.base import MusicApiHook
from airflow_provider_music.operators import cost
from airflow_provider_music.operators.assets import fill_asset_events, keeps_result
from airflow_provider_music.operators.mapping import CheckedPartial
from airflow_provider_music.operators.resume import AttemptJournal, created_after, is_retry, job_marker
from airflow_provider_music.triggers.base import Progress, StatusCheck, server_hint, validate_event

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

#: Connection arguments of the provider's APIs: one given to the wrong operator is named in the error.
__all__ = [
    "AttemptJournal", "MusicJobOperator", "MusicLink", "MusicOperator", "check_flag", "check_seconds",
    "created_after", "is_retry", "is_templated", "job_marker", "wait_until_done", "without_queries",
]
KNOWN_CONN_ARGS = ("riffusion_conn_id", "acrcloud_conn_id", "audioshake_conn_id", "flowmusic_conn_id",
                   "mureka_conn_id")
#: Longest finite wait accepted (10 years): longer values would overflow ``timedelta`` in ``defer``.
MAX_TIMEOUT = 10 * 365 * 24 * 3600.0
WAIT_TEMPLATE_FIELDS = ("poll_interval", "timeout")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


class _Default:
    """Marks "the operator class's default" in a signature (``timeout=None`` already means "no limit")."""

    def __repr__(self) -> str:
        return "<class default>"


CLASS_DEFAULT: Any = _Default()


# --------------------------------------------------------------------------------------------------
# Argument checks (parse time when the value is known, right after rendering otherwise; same messages)
# --------------------------------------------------------------------------------------------------
def is_templated(value: Any) -> bool:
    """True when ``value`` is only known after rendering (a Jinja string, an XComArg, a mapped argument)."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    return value is not None and not isinstance(value, bool | int | float) and hasattr(value, "resolve")


def check_seconds(argument: str, value: Any, *, allow_none: bool, maximum: float = MAX_TIMEOUT) -> float | None:
    """A finite number of seconds > 0 (numeric strings from templates accepted); ``None`` when allowed.

    ``NaN``, infinities (``inf`` is refused: ``None`` is the way to say "no limit"), zero, negative
    numbers, booleans and non-numbers raise :class:`InvalidInputError` naming ``argument`` (the core's
    ``positive_number`` rule, so every slice words it alike).
    """
    if value is None and not allow_none:
        raise InvalidInputError(f"{argument} must be a number of seconds > 0, got None")
    seconds = positive_number(value, argument, optional=allow_none, maximum=maximum)
    return None if seconds is None else float(seconds)


def check_flag(argument: str, value: Any) -> bool:
    """A boolean (``"true"``/``"false"`` strings from templates accepted)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidInputError(f"{argument} must be True or False, got {value!r}")


def refuse_wrong_conn_id(owner: type, hook_class: type[MusicApiHook], kwargs: Mapping[str, Any]) -> None:
    """``conn_id=`` or another API's connection argument fails with an error naming the right one."""
    argument = hook_class.conn_name_attr
    wrong = [name for name in ("conn_id", *KNOWN_CONN_ARGS) if name != argument and name in kwargs]
    if wrong:
        raise InvalidInputError(
            f"{owner.__name__} takes {argument}= (the {hook_class.hook_name} connection), not {wrong[0]}="
        )


def pop_conn_id(owner: type, hook_class: type[MusicApiHook], kwargs: dict[str, Any]) -> tuple[str, Any]:
    """Take the connection argument named after ``hook_class.conn_name_attr`` out of ``kwargs``.

    Returns ``(argument name, value)``; the hook's default connection when not given. ``conn_id=`` or
    another API's argument fails with an error naming the right one.
    """
    refuse_wrong_conn_id(owner, hook_class, kwargs)
    argument = hook_class.conn_name_attr
    value = kwargs.pop(argument, None)
    if value is None:  # default_args={"riffusion_conn_id": ...} as with official providers
        value = (kwargs.get("default_args") or {}).get(argument)
    if value is None or value == "":
        value = hook_class.default_conn_name
    if not isinstance(value, str) and not is_templated(value):
        raise InvalidInputError(f"{argument} must be a connection id (a string), got {value!r}")
    return argument, value


def without_queries(text: str) -> str:
    """``text`` with every URL stripped of query string, fragment and userinfo (for logs and summaries)."""
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


def wait_until_done(
    poll: Callable[[], PollResult], *, first: PollResult | None, poll_interval: float, timeout: float | None,
    describe: str, logger: Any,
) -> PollResult:
    """The sync wait of every operator: sleep, poll, until a terminal result (returned) or ``timeout``.

    Each poll runs inside ``deadline_scope`` (the hook's retries end by the deadline too); retryable errors
    are logged and polled through; progress is logged on each state change and every 5 polls
    (:class:`Progress`); :class:`JobTimeoutError` names the last state. ``first`` is the poll made before.
    """
    progress = Progress(describe, logger, every=5)
    if first is not None:
        progress.seen(first)
    deadline = None if timeout is None else time.time() + timeout
    last = first
    pause = poll_interval
    while True:
        now = time.time()
        if deadline is not None and now >= deadline:
            state = f" (last state: {last.message or last.state})" if last else ""
            raise JobTimeoutError(f"Timed out after {timeout:.0f} s waiting for {describe}{state}")
        core._sleep(pause if deadline is None else max(0.0, min(pause, deadline - now)))
        pause = poll_interval
        try:
            with deadline_scope(deadline, poll_interval=poll_interval):
                last = poll()
        except MusicApiError as exc:
            if not exc.retryable and not (deadline is not None and time.time() >= deadline):
                raise
            pause = max(poll_interval, server_hint(exc.retry_after) or 0.0)  # a 429's back-off outlasting retries
            logger.warning("Polling %s failed, will poll again: %s", describe, exc)
            continue
        if last.done:
            return last
        progress.seen(last)


# --------------------------------------------------------------------------------------------------
# Extra links that never ask the API server for an XCom the task did not push
# --------------------------------------------------------------------------------------------------
class MusicLink(BaseOperatorLink):
    """An extra link whose URL the operator announces with :meth:`MusicOperator.push_link`.

    Airflow 3 calls ``get_link`` in the worker when the task ends (``finalize``), on the same operator
    object. Reading ``XCom.get_value`` there for a key the task never pushed (it failed before) makes
    the task SDK log ``XCom not found`` at ERROR. The URL is therefore taken from the operator's memory
    first; XCom is read only for operators that do not remember links (not built on this base). A mapped
    task refused while Airflow unmapped it ends with the ``MappedOperator`` itself: it never ran, so it
    announced nothing and XCom is not asked either.
    """

    name: ClassVar[str] = "Music API"
    key: ClassVar[str] = "music_link"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        """The URL the operator announced (from its memory; XCom only for operators not built on this base)."""
        remembered = operator.__dict__.get("_music_links") if hasattr(operator, "__dict__") else None
        if isinstance(remembered, dict):
            return str(remembered.get(self.key) or "")
        mapped_class = getattr(operator, "operator_class", None)  # a MappedOperator that was never unmapped
        if isinstance(mapped_class, type) and issubclass(mapped_class, MusicOperator):
            return ""
        return str(XCom.get_value(key=self.key, ti_key=ti_key) or "")


# --------------------------------------------------------------------------------------------------
# Operators
# --------------------------------------------------------------------------------------------------
class MusicOperator(BaseOperator):
    """Base of every operator of this provider: connection argument, cached hook, validate after render.

    Subclasses set ``hook_class``; the connection argument is ``hook_class.conn_name_attr`` (templated)
    and defaults to ``hook_class.default_conn_name``. Declare it in an ``__init__`` signature (each API's
    ``<Api>BaseOperator`` does) so that Airflow's ``.partial()`` / ``.expand()`` accept it.
    """

    hook_class: ClassVar[type[MusicApiHook]]
    conn_arg: ClassVar[str] = "conn_id"
    #: ``.partial()`` / ``.expand()`` arguments get the ``__init__`` checks at parse time (operators/mapping.py)
    partial = CheckedPartial(refuse_wrong_conn_id)  # type: ignore[assignment]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        hook_class = cls.__dict__.get("hook_class")
        if hook_class is not None:
            cls.conn_arg = hook_class.conn_name_attr
        if getattr(cls, "hook_class", None) is not None:
            extra = (cls.conn_arg, *cls._base_template_fields())
            cls.template_fields = tuple(dict.fromkeys((*cls.template_fields, *extra)))
        if "execute" in cls.__dict__:  # the return value is kept for the asset events (post_execute)
            cls.execute = keeps_result(cls.__dict__["execute"])  # type: ignore[method-assign]

    @classmethod
    def _base_template_fields(cls) -> tuple[str, ...]:
        return ()

    def __init__(self, **kwargs: Any) -> None:
        argument, value = pop_conn_id(type(self), self.hook_class, kwargs)
        super().__init__(**kwargs)
        setattr(self, argument, value)
        self._music_links: dict[str, str] = {}
        self._argument_checks: dict[str, Callable[[str, Any], Any]] = {}
        #: lineage datasets, vendor facts and cost of this run (core/report.py), filled while the task works
        self.task_report = TaskReport()

    @property
    def conn_id(self) -> str:
        """The (rendered) connection id, whatever the argument's name."""
        return str(self.__dict__.get(self.conn_arg) or self.hook_class.default_conn_name)

    @cached_property
    def hook(self) -> Any:
        """The API's hook for the rendered connection argument (built once per task)."""
        return self.hook_class(self.conn_id)

    def validate(self) -> None:
        """Check rendered arguments before any network call (subclasses extend; no I/O here)."""

    def check_argument(self, argument: str, check: Callable[[str, Any], Any]) -> None:
        """Check the attribute ``argument`` now if its value is known (DAG parse time), and again right after
        rendering (before :meth:`validate`), with the same ``check(argument, value) -> normalised value``.

        Call it at the end of ``__init__`` for every argument with rules (modes, formats, stems, numbers).
        """
        self._argument_checks[argument] = check
        value = self.__dict__.get(argument)
        if not is_templated(value):
            setattr(self, argument, check(argument, value))

    def check_rendered(self) -> None:
        """Run right after rendering: :meth:`check_argument` checks, connection argument, then :meth:`validate`."""
        for argument, check in self._argument_checks.items():
            setattr(self, argument, check(argument, self.__dict__.get(argument)))
        value = self.__dict__.get(self.conn_arg)
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputError(f"{self.conn_arg} must be a connection id (a string), got {value!r}")
        try:
            self.hook.settings  # noqa: B018 - resolves the connection (no API call), naming the argument
        except ConfigurationError as exc:
            raise ConfigurationError(f"{self.conn_arg}={value!r}: {exc}") from None
        self.validate()

    def push_link(self, context: Context, link: type[MusicLink], url: str | None) -> None:
        """Remember (and push to XCom) the URL of an extra link, without query string."""
        clean = redact_url(url) if url else ""
        self._music_links[link.key] = clean
        ti = context.get("ti")
        if ti is not None and clean:
            ti.xcom_push(key=link.key, value=clean)

    def state_store(self, context: Context) -> Any:
        """This task instance's ``task_state_store`` (Airflow 3.3+; survives tries), or None (older, or durable=False)."""
        if not getattr(self, "durable", True):
            return None
        return context.get("task_state_store")  # type: ignore[call-overload]

    # ---- asset events (operators/assets.py): after execute or execute_complete, for every operator ----
    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Airflow's resume from deferral; the return value is kept for the asset events."""
        self._asset_result = super().resume_execution(next_method, next_kwargs, context)
        return self._asset_result

    def post_execute(self, context: Any, result: Any = None) -> None:
        """Fill the ``extra`` of every ``Asset`` outlet's event from ``task_report`` and the return value."""
        super().post_execute(context, result)
        fill_asset_events(self, context, self.__dict__.get("_asset_result") if result is None else result)

    @staticmethod
    def push(context: Context, key: str, value: Any) -> None:
        """Push a small XCom value (ids, paths) when a task instance is there."""
        ti = context.get("ti")
        if ti is not None:
            ti.xcom_push(key=key, value=value)

    # ---- OpenLineage (docs/lineage.md): task_report -> datasets + the "music" run facet ------------
    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """What the task read and wrote (``task_report``) as OpenLineage datasets, with the ``music`` run facet
        (ids, model, account, verdicts, cost). None when the OpenLineage provider is not installed."""
        try:  # inside the method, as official providers do: the OpenLineage provider stays optional
            from airflow_provider_music.operators.lineage import to_operator_lineage
        except ImportError:
            return None
        return to_operator_lineage(self.task_report, self.hook_class.conn_type)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """What is known when the task failed: the inputs (and outputs already written), ids and cost so far."""
        return self.get_openlineage_facets_on_complete(task_instance)


class MusicJobOperator(MusicOperator):
    """Base of the operators that start a paid remote job and wait for it.

    :param wait_for_completion: wait until the job is terminal (default True); False returns after submit.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between status checks (templated; finite, > 0).
    :param timeout: seconds to wait (templated; finite, > 0), ``None`` (or an empty rendered template) for no
        limit; ``inf`` is refused - ``None`` says "no limit". On timeout the remote job keeps running and a
        retry reconnects to it.
    :param durable: resume from a previous try (``task_state_store`` / ``find_existing``); default True.
    :param max_cost: budget of a new submission in the service's cost unit (templated; a number >= 0; default:
        the connection extra ``max_cost``, else no guard): refused before anything is paid when the estimate is
        higher or above the account's credits left (``BudgetExceededError``); a resumed job is never refused.
        What the work cost is in ``task_report.cost``, the summary line and the result's ``cost`` key.
    """

    status_check: ClassVar[StatusCheck[Any]]
    #: ``task_state_store`` key of the job record. Renaming it on a deployed operator breaks in-flight retries.
    state_key: ClassVar[str] = "music_job"
    default_poll_interval: ClassVar[float] = 30.0
    default_timeout: ClassVar[float | None] = 3600.0

    @classmethod
    def _base_template_fields(cls) -> tuple[str, ...]:
        return (*WAIT_TEMPLATE_FIELDS, "max_cost")

    def __init__(
        self,
        *,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: Any = None,
        timeout: Any = CLASS_DEFAULT,
        durable: bool = True,
        max_cost: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_cost = max_cost  # budget guard (operators/cost.py): templated, checked like the wait arguments
        self.check_argument("max_cost", cost.check_max_cost)
        self.wait_for_completion = check_flag("wait_for_completion", wait_for_completion)
        self.deferrable = check_flag("deferrable", deferrable)
        self.durable = check_flag("durable", durable)
        self.poll_interval = self.default_poll_interval if poll_interval is None else poll_interval
        self.timeout = self.default_timeout if isinstance(timeout, _Default) else timeout
        self._check_wait_arguments(parse_time=True)
        self._record: dict[str, Any] | None = None
        self._started = time.monotonic()

    def _check_wait_arguments(self, *, parse_time: bool = False) -> None:
        """One check for ``poll_interval`` and ``timeout``: at parse time unless templated, else after render."""
        if not (parse_time and is_templated(self.poll_interval)):
            self.poll_interval = check_seconds("poll_interval", self.poll_interval, allow_none=False)
        if not (parse_time and is_templated(self.timeout)):
            self.timeout = check_seconds("timeout", self.timeout, allow_none=True)

    def check_rendered(self) -> None:
        """``poll_interval`` and ``timeout`` checked again after rendering, then the base checks."""
        self._check_wait_arguments()
        super().check_rendered()

    # ---- what a subclass states -----------------------------------------------------------------
    def submit(self, context: Context, previous: dict[str, Any] | None) -> dict[str, Any]:
        """Start the remote job; return its record (JSON-primitive: ids, never data or signed URLs).

        ``previous`` is the record of an earlier try whose job failed (reuse what is still good in it,
        e.g. an uploaded asset), or ``None``. Never re-send an ambiguous create blindly: look first.
        """
        raise NotImplementedError

    def find_existing(self, context: Context) -> dict[str, Any] | None:
        """The record of a job an earlier try created, found through the API (no stored record), or None."""
        return None

    def target(self, record: dict[str, Any]) -> dict[str, Any]:
        """The status target of ``record``: call ``self.status_check.target(...)`` (its one builder)."""
        raise NotImplementedError

    def announce(self, record: dict[str, Any], context: Context) -> None:
        """Push ids and links to XCom before waiting (called again on resume from deferral)."""

    def finish(self, record: dict[str, Any], result: PollResult | None, context: Context) -> Any:
        """The task's return value; ``result`` is None when not waiting, else a successful poll."""
        raise NotImplementedError

    def summarize(self, record: dict[str, Any], output: Any) -> Sequence[str]:
        """Items of the summary line (titles, durations, links); URLs lose their query strings."""
        return [str(record)]

    def report(self, record: dict[str, Any], output: Any) -> None:
        """Fill ``task_report`` (lineage inputs/outputs, facts) from the job record, and from the task's output
        once finished (``output`` None before: what a failure can still tell). Called again with more."""

    def attempts(self, context: Context) -> AttemptJournal:
        """The journal of paid requests of this task instance (``<state_key>_attempt``; no-op below 3.3)."""
        return AttemptJournal(self.state_store(context), f"{self.state_key}_attempt")

    def describe(self, record: dict[str, Any] | None = None) -> str:
        """How logs and errors name the job."""
        return self.status_check.name if record is None else self.status_check.describe(self.target(record))

    def estimate_cost(self, context: Context) -> cost.Estimate:
        """The budget guard's estimate of the next submission (operators/cost.py); default: none possible."""
        return cost.Estimate(None, "credits", "the service publishes no price")

    def work_cost(self, record: dict[str, Any], result: PollResult | None, output: Any) -> Cost | None:
        """What the finished work cost (amount None = unknown); None: the operator reports no cost."""
        return None

    # ---- the lifecycle ----------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        """The lifecycle: checks, resume or submit, announce, first poll, then wait (sync) or defer."""
        self.check_rendered()
        self._started = time.monotonic()
        record, result = self.resume_or_submit(context)
        self._record = record
        self.report(record, None)
        self.announce(record, context)
        if result is None and self.wait_for_completion:
            target = self.target(record)
            result = self._first_poll(record, target)
            if not result.done:
                if self.deferrable:
                    self._defer(record, target)
                result = self._wait(record, target, result)
        return self._end(record, result, context)

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, record: dict[str, Any] | None = None,
        started: float | None = None,
    ) -> Any:
        """Resume from the trigger: the job record (defer kwargs, event ``carry`` or the store), the
        event checked, then finish."""
        carry = event.get("carry") if isinstance(event, dict) else None
        if not isinstance(record, dict) and isinstance(carry, dict):  # `dags test` drops the defer kwargs
            record, started = carry.get("record"), carry.get("started")
        if not isinstance(record, dict):
            store = self.state_store(context)
            record = store.get(self.state_key) if store is not None else None
        if not isinstance(record, dict):
            raise MusicApiError(f"{self.status_check.name}: resumed from deferral without the job record ({record!r})")
        self._record = record
        self.report(record, None)
        self.announce(record, context)
        checked = validate_event(event, describe=self.describe(record))
        result = PollResult("success", str(checked.get("message") or ""), dict(checked.get("payload") or {}))
        if started is not None:
            self._started = time.monotonic() - max(0.0, time.time() - float(started))
        return self._end(record, result, context)

    def resume_or_submit(self, context: Context) -> tuple[dict[str, Any], PollResult | None]:
        """The record to wait for, and its terminal result when a previous try's job already finished."""
        store = self.state_store(context)
        previous = store.get(self.state_key) if store is not None else None
        how = "task_state_store"
        if not previous and self.durable:
            previous, how = self.find_existing(context), "API lookup"
        if isinstance(previous, dict) and previous:
            result = self._status_of_previous(previous)
            if result is not None and result.state == "running":
                self.log.info("Reconnecting to %s from a previous try (found via %s)", self.describe(previous), how)
                return previous, None
            if result is not None and result.state == "success":
                self.log.info("%s already finished in a previous try (found via %s)", self.describe(previous), how)
                return previous, result
            self.log.warning("%s of a previous try failed (%s): submitting again",
                             self.describe(previous), result.message if result else "gone")
        else:
            previous = None
        cost.guard(self, context)  # max_cost: only before a NEW paid create (a resumed job is never refused)
        record = self.submit(context, previous)
        if store is not None:
            store.set(self.state_key, record)
        return record, None

    def _status_of_previous(self, record: dict[str, Any]) -> PollResult | None:
        try:
            return self.status_check.poll(self.hook, self.target(record))
        except NotFoundError as exc:
            self.log.warning("%s is gone: %s", self.describe(record), exc)
            return None

    def _first_poll(self, record: dict[str, Any], target: dict[str, Any]) -> PollResult:
        try:
            return self.status_check.poll(self.hook, target)
        except MusicApiError as exc:
            if not exc.retryable:
                raise
            self.log.warning("Polling %s failed, will poll again: %s", self.describe(record), exc)
            return PollResult("running", "status unknown")

    def _defer(self, record: dict[str, Any], target: dict[str, Any]) -> None:
        assert isinstance(self.poll_interval, float)  # checked after rendering
        timeout = self.timeout if isinstance(self.timeout, float) else None
        started = time.time() - (time.monotonic() - self._started)
        self.log.info("Deferring: waiting for %s in the triggerer", self.describe(record))
        carry = {"record": record, "started": started}
        self.defer(
            trigger=self.status_check.trigger(
                conn_id=self.conn_id, target=target, poll_interval=self.poll_interval, timeout=timeout, carry=carry
            ),
            method_name="execute_complete",
            kwargs=carry,
            timeout=None if timeout is None else timedelta(seconds=timeout + 60),
        )

    def _wait(self, record: dict[str, Any], target: dict[str, Any], first: PollResult) -> PollResult:
        assert isinstance(self.poll_interval, float)  # checked after rendering
        return wait_until_done(
            lambda: self.status_check.poll(self.hook, target), first=first, poll_interval=self.poll_interval,
            timeout=self.timeout if isinstance(self.timeout, float) else None, describe=self.describe(record),
            logger=self.log,
        )

    def _end(self, record: dict[str, Any], result: PollResult | None, context: Context) -> Any:
        if result is not None and result.state == "failed":
            raise JobFailedError(f"{self.describe(record)} failed: {result.message}", details=result.payload)
        output = self.finish(record, result, context)
        self.report(record, output)
        output = cost.report(self, record, result, output, context)
        if result is not None:
            items = "; ".join(without_queries(str(item)) for item in self.summarize(record, output))
            elapsed = time.monotonic() - self._started
            self.log.info("%s finished in %.0f s: %s; %s", self.status_check.name, elapsed, items,
                          cost.describe(self.task_report.cost))
        return output

    def on_kill(self) -> None:
        """Cancel the remote job through the API's cancel call when it has one; else say it keeps running."""
        record = self._record
        if record is None:
            return
        if self.status_check.cancel is None:
            self.log.info("%s has no cancel call: %s keeps running", self.hook_class.hook_name, self.describe(record))
            return
        try:
            self.status_check.cancel_job(self.hook, self.target(record))
            self.log.info("Cancelled %s", self.describe(record))
        except Exception as exc:
            self.log.warning("Could not cancel %s: %s", self.describe(record), exc)

