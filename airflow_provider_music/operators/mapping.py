"""Mapped tasks get the checks of plain ones: ``.partial()`` and ``.expand()`` arguments at DAG parse time.

Airflow builds a mapped task without calling the operator's ``__init__``: ``partial()`` only stores the
keyword arguments, and the operator is built once per map index when the task runs - after its upstream
tasks were paid for. ``MusicOperator.partial`` (:class:`CheckedPartial`) therefore runs the operator's own
``__init__`` checks when the DAG file is parsed, on a *probe*: an instance of the operator class whose
``BaseOperator.__init__`` is skipped, so it never joins a DAG, a task group or an XCom dependency. The
same exception with the same message as a plain operator's, plus a note naming the call.

* ``.partial(...)`` arguments are checked at once (Airflow 3.0-3.3 alike: only public behaviour is used,
  the class's method resolution order and the ``OperatorPartial`` that ``BaseOperator.partial`` returns).
* Literal ``.expand(x=[...])`` items and ``.expand_kwargs([{...}])`` dicts are checked one by one with the
  ``.partial`` arguments, and a required argument that neither gives fails here, not on a worker.
* Values known only when the task runs (an upstream's ``.output``): Airflow builds the operator from them
  per map index, so its ``__init__`` checks run then, and ``check_rendered`` right after rendering - both
  before any request.

Arguments known only later are left at their default in the probe or, when required, replaced by a
:class:`LaterValue` that the checks treat like a template; an error such a stand-in causes is not reported
(the real value is checked when the task runs).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from airflow.providers.common.compat.sdk import BaseOperator

__all__ = ["MAX_LITERAL_ITEMS", "CheckedPartial", "LaterValue", "check_expand", "check_partial", "is_later"]

#: Literal ``.expand`` items checked per argument at parse time (later ones are checked when their task runs).
MAX_LITERAL_ITEMS = 1000


class LaterValue:
    """Stands for an argument known only when the task runs; checks skip it as they skip templates."""

    __slots__ = ("argument",)

    def __init__(self, argument: str) -> None:
        self.argument = argument

    def resolve(self, *args: Any, **kwargs: Any) -> Any:
        """Always raises: the value is known only when the task runs."""
        raise TypeError(f"LaterValue({self.argument!r}) is known only when the task runs")

    def __repr__(self) -> str:
        return f"LaterValue({self.argument!r})"


def is_later(value: Any) -> bool:
    """True for a value Airflow resolves when the task runs (an ``XComArg``, a :class:`LaterValue`)."""
    return not isinstance(value, str | bytes) and hasattr(value, "resolve")


class _ProbeBase(BaseOperator):
    """Sits right before ``BaseOperator`` in a probe's method resolution order and takes the place of its
    ``__init__``: the operator's own ``__init__`` checks run, nothing is added to a DAG or task group."""

    def __init__(self, **kwargs: Any) -> None:
        object.__setattr__(self, "task_id", kwargs.get("task_id"))


@functools.cache
def _probe_class(operator_class: type) -> type:
    return type(operator_class)(f"{operator_class.__name__}Probe", (operator_class, _ProbeBase), {"__module__": __name__})


@functools.cache
def operator_arguments(operator_class: type, *, required: bool) -> frozenset[str]:
    """Keyword arguments the operator's own ``__init__`` chain declares (``task_id`` aside): all of them, or
    only those without a default (``required=True``)."""
    names: set[str] = set()
    mro = operator_class.__mro__
    for klass in mro[: mro.index(BaseOperator)] if BaseOperator in mro else ():
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for parameter in inspect.signature(init).parameters.values():
            if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD) and (
                    not required or parameter.default is parameter.empty):
                names.add(parameter.name)
    return frozenset(names - {"self", "task_id"})


def required_arguments(operator_class: type) -> frozenset[str]:
    """Keyword arguments of ``operator_class`` without a default (``task_id`` aside)."""
    return operator_arguments(operator_class, required=True)


def _probe(operator_class: type, kwargs: Mapping[str, Any]) -> Exception | None:
    try:
        _probe_class(operator_class)(**kwargs, _airflow_from_mapped=True)  # no XCom dependencies either
    except Exception as exc:
        return exc
    return None


def check_arguments(operator_class: type, known: Mapping[str, Any], later: set[str] | frozenset[str], where: str) -> None:
    """Run ``operator_class``'s ``__init__`` checks on ``known``; ``later`` arguments are known when the task
    runs. Raises the operator's own exception (with a note naming ``where``); required arguments in neither
    fail with the ``TypeError`` a plain operator gives."""
    required = required_arguments(operator_class)
    stand_ins = {name: LaterValue(name) for name in later if name not in known}
    error = _probe(operator_class, {**known, **stand_ins})
    if error is None or "LaterValue(" in str(error):
        return
    if stand_ins:  # does a stand-in alone cause it? (a check that cannot skip values known later)
        baseline = _probe(operator_class, {"task_id": known.get("task_id"), **{n: LaterValue(n) for n in required},
                                           **stand_ins})
        if type(baseline) is type(error) and str(baseline) == str(error):
            return
    error.add_note(f"{operator_class.__name__}: {where} (checked when the DAG file is parsed)")
    raise error


def check_partial(operator_class: type, partial_kwargs: Mapping[str, Any]) -> None:
    """The ``.partial()`` arguments (required ones still missing come from ``.expand``)."""
    task_id = partial_kwargs.get("task_id")
    try:
        check_arguments(operator_class, partial_kwargs, required_arguments(operator_class),
                        f".partial(task_id={task_id!r}) arguments")
    except Exception as error:
        # A check that ties a given argument to one .expand() may still give, naming it as ``name=``
        # ("fail_on_ai=True needs ai_detection=True"), waits for it: check_expand runs with what is mapped.
        open_names = operator_arguments(operator_class, required=False) - set(partial_kwargs)
        if any(re.search(rf"\b{re.escape(name)}=", str(error)) for name in open_names):
            return
        raise


def _literal_items(value: Any) -> list[Any] | None:
    """The items of a literal list/tuple given to ``.expand`` (None for an ``XComArg`` or anything else)."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes) and not is_later(value):
        return list(value)[:MAX_LITERAL_ITEMS]
    return None


def _expand_cases(mapped: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], set[str], str]]:
    """``(known values, names known later, where)``: every mapped argument known later (are the required ones
    all given?), then each literal item with the other mapped arguments known later. Items are not repeated
    in the note (the operator's own message shows the value, as for a plain operator)."""
    names = set(mapped)
    literal = {name: items for name, value in mapped.items() if (items := _literal_items(value)) is not None}
    yield {}, names, ".expand() arguments"
    for name, items in literal.items():
        for index, item in enumerate(items):
            if not is_later(item):
                yield {name: item}, names - {name}, f".expand({name}=[...]) item {index}"


def check_expand(operator_class: type, partial_kwargs: Mapping[str, Any], mapped: Mapping[str, Any]) -> None:
    """The ``.expand()`` arguments with the ``.partial`` ones: literal items one by one, required ones present."""
    task_id = partial_kwargs.get("task_id")
    for known, later, where in _expand_cases(mapped):
        check_arguments(operator_class, {**partial_kwargs, **known}, later, f"task {task_id!r} {where}")


def check_expand_kwargs(operator_class: type, partial_kwargs: Mapping[str, Any], kwargs: Any) -> None:
    """Each literal dict of ``.expand_kwargs([...])`` with the ``.partial`` ones (an ``XComArg``: when run)."""
    items = _literal_items(kwargs)
    task_id = partial_kwargs.get("task_id")
    for index, item in enumerate(items or ()):
        if isinstance(item, Mapping):
            known = {k: v for k, v in item.items() if not is_later(v)}
            later = {str(k) for k, v in item.items() if is_later(v)}
            check_arguments(operator_class, {**partial_kwargs, **known}, later,
                            f"task {task_id!r} .expand_kwargs() item {index}")


def _mapped_or_refused(made: Any, check: Callable[[type, Mapping[str, Any], Any], None], value: Any) -> None:
    """Run ``check`` on an ``OperatorPartial``; when it refuses, no "was never mapped" warning on top."""
    try:
        check(made.operator_class, made.kwargs, value)
    except Exception:
        made._expand_called = True
        raise


@functools.cache
def _checked_partial_type(base: Any) -> Any:
    """``base`` (Airflow's ``OperatorPartial``) whose ``expand`` / ``expand_kwargs`` check before mapping."""

    def expand(self: Any, **mapped_kwargs: Any) -> Any:
        _mapped_or_refused(self, check_expand, mapped_kwargs)
        return base.expand(self, **mapped_kwargs)

    def expand_kwargs(self: Any, kwargs: Any, *, strict: bool = True) -> Any:
        _mapped_or_refused(self, check_expand_kwargs, kwargs)
        return base.expand_kwargs(self, kwargs, strict=strict)

    namespace = {"__slots__": (), "__module__": base.__module__, "expand": expand, "expand_kwargs": expand_kwargs}
    return type(base.__name__, (base,), namespace)


class CheckedPartial:
    """``Operator.partial``: Airflow's own, then the operator's parse-time checks of the arguments.

    Set as ``MusicOperator.partial``; on a task (not a class) it keeps Airflow's behaviour (a ``TypeError``).
    ``refuse(operator_class, hook_class, kwargs)`` runs first, before Airflow's own check of the argument
    names: it turns a connection argument of another API (which Airflow would call "unexpected") into an
    error naming the right one.
    """

    def __init__(self, refuse: Callable[[type, Any, Mapping[str, Any]], None] | None = None) -> None:
        self.refuse = refuse

    def __get__(self, obj: Any, owner: type | None = None) -> Callable[..., Any]:
        original = vars(BaseOperator)["partial"].__get__(obj, owner)
        if obj is not None or owner is None:
            return original  # type: ignore[no-any-return]
        refuse = self.refuse
        hook_class = next((k.__dict__["hook_class"] for k in owner.__mro__ if "hook_class" in k.__dict__), None)

        def partial(**kwargs: Any) -> Any:
            if refuse is not None and hook_class is not None:
                try:
                    refuse(owner, hook_class, kwargs)
                except Exception as error:
                    error.add_note(f"{owner.__name__}: .partial(task_id={kwargs.get('task_id')!r}) arguments "
                                   "(checked when the DAG file is parsed)")
                    raise
            made = original(**kwargs)
            _mapped_or_refused(made, lambda cls, partial_kwargs, _: check_partial(cls, partial_kwargs), None)
            base: Any = type(made)
            with contextlib.suppress(TypeError):  # an OperatorPartial that cannot be extended: checked when run
                made.__class__ = _checked_partial_type(base)
            return made

        return partial
