"""Cost per task and the budget guard (``max_cost``) of the paid operators.

What a task's work cost is kept in ``task_report.cost`` (:class:`~airflow_provider_music.core.report.Cost`) in
the unit the service reports (credits); ``amount=None`` means "unknown" (the service reports nothing), never a
made-up 0. The operator base adds it to the summary log line and, as a small ``cost`` key
``{"amount", "unit", "source"}``, to the XCom result (:func:`with_cost`); the lineage run facet and the asset
event extras read it from ``task_report``.

The budget guard (:func:`enforce_budget`) runs right before a paid create - never for a job a previous try
already created (nothing new is paid then). It is active when a budget is set: the operator's ``max_cost``
argument, else the connection extra ``max_cost``. It refuses with
:class:`~airflow_provider_music.core.errors.BudgetExceededError` (never retried) when the estimate is above the
budget or above the account's remaining credits. What cannot be estimated (the service publishes no price, the
input's duration is unknown) is said in the log and not checked.
"""

from __future__ import annotations

import wave
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_music.core.errors import BudgetExceededError
from airflow_provider_music.core.report import Cost
from airflow_provider_music.core.validation import non_negative_number

#: XCom key of the cost when the result is not a dict (a list of results: one per source).
COST_XCOM_KEY = "cost"


def check_max_cost(argument: str, value: Any) -> float | None:
    """``max_cost``: a finite number >= 0 (numeric strings from templates accepted), or None/empty (no budget)."""
    if value is None or value == "":
        return None
    return float(non_negative_number(value, argument))


@dataclass(frozen=True)
class Estimate:
    """What a submission is expected to cost, before it is sent.

    ``amount`` None: no estimate is possible (``basis`` says why); ``remaining`` is the account's credits left
    when the service tells them (FlowMusic GET accounts/{email}), else None; ``account`` names it (no secret)."""

    amount: float | None
    unit: str
    basis: str
    remaining: float | None = None
    account: str = ""


def enforce_budget(estimate: Estimate, limit: float, *, argument: str, what: str) -> list[str]:
    """Raise :class:`BudgetExceededError` when ``estimate`` is above ``limit`` or above the account's remaining
    credits; return what could not be checked (for the log)."""
    unchecked: list[str] = []
    unit = estimate.unit
    if estimate.amount is None:
        unchecked.append(f"no estimate ({estimate.basis}): {argument}={_num(limit)} not compared")
    elif estimate.amount > limit:
        raise BudgetExceededError(
            f"{what} refused before anything was paid: estimated cost {_num(estimate.amount)} {unit} "
            f"({estimate.basis}) exceeds {argument}={_num(limit)} {unit}. Raise {argument} (or the connection "
            f"extra 'max_cost') or ask for less work.")
    if estimate.remaining is None:
        unchecked.append("the account's remaining credits are not known")
    elif estimate.amount is not None and estimate.remaining < estimate.amount:
        raise BudgetExceededError(
            f"{what} refused before anything was paid: the account {estimate.account or ''} has "
            f"{_num(estimate.remaining)} {unit} left, below the estimated cost {_num(estimate.amount)} {unit} "
            f"({estimate.basis}); {argument}={_num(limit)}. Top up the account or use another one.")
    return unchecked


def _num(value: float) -> str:
    return f"{value:g}" if float(value) != int(value) else str(int(value))


def describe(cost: Cost | None) -> str:
    """``cost: 5 credits (accounts/usage)`` / ``cost: unknown credits (...)``, for the summary line."""
    if cost is None:
        return "cost: unknown"
    amount = "unknown" if cost.amount is None else _num(cost.amount)
    return f"cost: {amount} {cost.unit}" + (f" ({cost.source})" if cost.source else "")


def with_cost(output: Any, cost: Cost | None) -> Any:
    """``output`` with a ``cost`` key added when it is a dict (existing keys kept as they are)."""
    if cost is None or not isinstance(output, Mapping) or "cost" in output:
        return output
    return {**output, "cost": cost.as_dict()}


def free(source: str, unit: str = "credits") -> Cost:
    """A cost of 0 because the vendor documents the operation as free (``source`` says where)."""
    return Cost(0, unit, source)


def unknown(source: str, unit: str = "credits") -> Cost:
    """"Unknown": the service reports no cost for this work (``source`` says so)."""
    return Cost(None, unit, source)


def wav_duration(source: Any) -> float | None:
    """Seconds of a local PCM WAV file, else None (other formats and remote sources: unknown)."""
    path = str(source)
    if not isinstance(source, (str,)) and not hasattr(source, "__fspath__"):
        return None
    if "://" in path or not path.lower().endswith((".wav", ".wave")):
        return None
    try:
        with wave.open(path, "rb") as wav:
            rate = wav.getframerate()
            return wav.getnframes() / rate if rate else None
    except (OSError, EOFError, wave.Error):
        return None


def guard(op: Any, context: Any) -> None:
    """The budget guard of a paid operator ``op`` (a ``MusicJobOperator``), right before a new paid create.

    Active when ``op.max_cost`` or the connection extra ``max_cost`` is set (no extra request otherwise)."""
    limit, argument = op.max_cost, "max_cost"
    if limit is None:
        limit, argument = op.hook.settings.max_cost, f"connection {op.conn_id!r} extra max_cost"
    if limit is None:
        return
    estimate = op.estimate_cost(context)
    unchecked = enforce_budget(estimate, float(limit), argument=argument, what=op.status_check.name)
    amount = "unknown" if estimate.amount is None else _num(estimate.amount)
    op.log.info("Budget %s=%s: estimate %s %s (%s)%s", argument, _num(float(limit)), amount, estimate.unit,
                estimate.basis, f"; not checked: {'; '.join(unchecked)}" if unchecked else "")


def report(op: Any, record: Any, result: Any, output: Any, context: Any) -> Any:
    """Put ``op.work_cost(...)`` in ``op.task_report.cost`` and return ``output`` with its ``cost`` key (a
    result that is not a dict - a list per source - keeps its shape; the cost goes to XCom key ``cost``)."""
    spent = op.work_cost(record, result, output)
    if spent is None:
        return output
    op.task_report.cost = spent
    if not isinstance(output, Mapping):
        op.push(context, COST_XCOM_KEY, spent.as_dict())
    return with_cost(output, spent)


class UnknownCost:
    """Mixed in before ``MusicJobOperator`` by paid operators whose service reports no cost: "unknown"
    (``amount`` None, never a made-up 0) in ``cost_unit``, ``cost_why`` saying so; the budget guard has no
    estimate either (``max_cost`` then checks nothing and the log says so)."""

    cost_unit = "credits"
    cost_why = "the service reports no cost"

    def work_cost(self, record: dict[str, Any], result: Any, output: Any) -> Cost | None:
        """Unknown: the service reports nothing."""
        return unknown(self.cost_why, self.cost_unit)


class AcrCloudCost(UnknownCost):
    """ACRCloud bills per plan (recognition quotas ``day_limit``/``total_limit``, prices not published): unknown."""

    cost_unit = "ACRCloud plan quota"
    cost_why = "ACRCloud reports no cost per request (billed per plan)"


class RiffusionCost(UnknownCost):
    """Riffusion (useapi.net) spends account credits but reports no amount per song: unknown."""

    cost_why = "useapi.net Riffusion reports no credits per song"


def run_cost(results: Mapping[str, Any], pushed: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a DAG run cost: ``{"tasks": {task_id: {unit: amount}}, "total": {unit: amount}}`` from the tasks'
    XCom results (their ``cost`` key; ``pushed``: the XCom key ``cost`` of list results). A mapped task is summed
    over its instances; an amount is a number, ``"unknown"`` (nothing known) or ``"<n> + unknown"``."""
    tasks: dict[str, dict[str, list[Any]]] = {}
    for task_id, value in results.items():
        extra = (pushed or {}).get(task_id)
        values = value if isinstance(value, list) else [value]
        extras = extra if isinstance(extra, list) else [extra] * len(values)
        for item, side in zip(values, extras + [None] * (len(values) - len(extras)), strict=False):
            found = item.get("cost") if isinstance(item, Mapping) else side
            if isinstance(found, Mapping) and isinstance(found.get("unit"), str):
                tasks.setdefault(task_id, {}).setdefault(found["unit"], []).append(found.get("amount"))
    total: dict[str, list[Any]] = {}
    for units in tasks.values():
        for unit, amounts in units.items():
            total.setdefault(unit, []).extend(amounts)
    return {"tasks": {t: {u: _sum(a) for u, a in units.items()} for t, units in tasks.items()},
            "total": {u: _sum(a) for u, a in total.items()}}


def _sum(amounts: list[Any]) -> Any:
    known = [float(a) for a in amounts if isinstance(a, (int, float)) and not isinstance(a, bool)]
    if len(known) == len(amounts):
        return round(sum(known), 4)
    return f"{round(sum(known), 4):g} + unknown" if known else "unknown"
