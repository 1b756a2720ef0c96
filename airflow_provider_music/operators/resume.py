"""What a ``find_existing`` needs to find an earlier try's work, the same for every API.

* :func:`job_marker` - a marker of this task instance, the same on every try (replyRef, user_defined...).
* :func:`is_retry` - whether an earlier try of this task instance may have created work.
* :func:`created_after` - the start of the time window in which an earlier try's work was created.
* :func:`look_for_lost_job` - right after a create whose answer was lost: ask the API a few times for the job.
* :class:`AttemptJournal` - on Airflow 3.3+, a note in ``task_state_store`` written *before* a paid request
  is sent and removed once a definite answer came back. A later try that finds the note knows a create
  may have happened although no record was stored (the answer was lost, or the worker died): it must look
  for the work (or fail with "may have been created; ids unknown") instead of creating again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_music import core
from airflow_provider_music.core.errors import CLOCK_SKEW, MusicApiError, answer_lost

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

T = TypeVar("T")


def job_marker(context: Context) -> str:
    """A deterministic marker of this task instance (``<dag>/<task>/<run>/<map_index>``), the same on every try.

    Stored with a created job where the API keeps such data (replyRef, user_defined), so
    ``find_existing`` can find the job an earlier try created.
    """
    ti = context.get("ti")
    run_id = context.get("run_id") or getattr(ti, "run_id", "")
    map_index = getattr(ti, "map_index", -1)
    if not isinstance(map_index, int):
        map_index = -1
    return f"{getattr(ti, 'dag_id', '')}/{getattr(ti, 'task_id', '')}/{run_id}/{map_index}"


def is_retry(context: Context) -> bool:
    """True on a second or later try (a retry or a clear): earlier tries may have created work."""
    number = getattr(context.get("ti"), "try_number", 1)
    return isinstance(number, int) and number > 1


#: Looks for a job whose create answer was lost: attempts and the pause between them.
LOOKUP_ATTEMPTS = 3
LOOKUP_PAUSE = 2.0


def look_for_lost_job(find: Callable[[], str | None]) -> str | None:
    """The job id ``find()`` returns within :data:`LOOKUP_ATTEMPTS` tries, :data:`LOOKUP_PAUSE` s apart (the job
    may show up in the API's listing a moment after the create), or None: then never re-send blindly."""
    for attempt in range(LOOKUP_ATTEMPTS):
        jobid = find()
        if jobid:
            return jobid
        if attempt + 1 < LOOKUP_ATTEMPTS:
            core._sleep(LOOKUP_PAUSE)  # patched by tests
    return None


def created_after(context: Context, skew: float = CLOCK_SKEW) -> float | None:
    """Epoch seconds before which no try of this DAG run created anything (run start, less clock skew)."""
    for source in (context.get("dag_run"), context.get("ti")):
        started: Any = getattr(source, "start_date", None)
        if hasattr(started, "timestamp"):
            return float(started.timestamp()) - skew
    return None


class AttemptJournal:
    """A note in ``task_state_store`` that a paid request is being sent (no store: does nothing).

    ``send`` writes ``{"at": time, **facts}`` first, runs the request, and removes the note when a
    definite answer came back - an answer, or an error saying the request was not processed. The note
    stays when the answer may have been lost (:func:`~airflow_provider_music.core.errors.answer_lost`).
    """

    def __init__(self, store: Any, key: str) -> None:
        self.store = store
        self.key = key

    def earlier(self) -> dict[str, Any] | None:
        """The note an earlier try left (its request's answer was lost), or None."""
        found = self.store.get(self.key) if self.store is not None else None
        return found if isinstance(found, dict) and found else None

    def send(self, request: Callable[[], T], *, keep_on_answer: bool = False, **facts: Any) -> T:
        """Run ``request`` with the note written first; see the class. ``keep_on_answer=True`` keeps the note
        after a successful answer too (until the next ``send``): the caller stores its job record right after,
        and a worker that dies in between leaves a later try the note instead of nothing."""
        if self.store is not None:
            self.store.set(self.key, {"at": time.time(), **facts})
        try:
            answer = request()
        except MusicApiError as exc:
            if not answer_lost(exc):  # a definite answer: nothing was created
                self.clear()
            raise
        except Exception:
            self.clear()
            raise
        if not keep_on_answer:
            self.clear()
        return answer

    def clear(self) -> None:
        """Remove the note (a definite answer came back)."""
        if self.store is not None:
            self.store.set(self.key, {})
