"""The AudioShake interface: what operators, the sensor and the trigger need, whatever API the connection uses.

:class:`AudioShakeApi` is implemented twice: :class:`~airflow_provider_music.hooks.audioshake_jobs.JobsApi`
(legacy Jobs API) and :class:`~airflow_provider_music.hooks.audioshake_tasks.TasksApi` (Tasks API).
``AudioShakeHook.backend`` picks one from the connection's ``api`` extra. Callers never branch on the API.

Both implementations share here: the streamed upload with its content check and its lost-answer handling,
the status of a set of jobs/targets (sync and async through the same parser), and the outputs of each stem.
"""

from __future__ import annotations

import asyncio
import mimetypes
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_music.contract.audioshake import (
    DASHBOARD_URL,
    StateItem,
    combine_states,
    parse_asset,
)
from airflow_provider_music.core.content import AUDIO, VIDEO, check_upload_content
from airflow_provider_music.core.errors import CLOCK_SKEW, LostAnswerError, MusicApiError, answer_lost
from airflow_provider_music.core.files import resolve_source

if TYPE_CHECKING:
    from airflow_provider_music.core.parsing import PollResult
    from airflow_provider_music.hooks.audioshake import AudioShakeHook

#: Assets expire after 72 hours (Tasks API): older uploads are never looked for.
ASSET_LIFETIME = 72 * 3600.0
#: What AudioShake takes: audio, and video containers (their audio stream is separated).
UPLOAD_KINDS = (AUDIO, VIDEO)
#: ``save(ledger)`` persists the submission ledger (ids and pending markers) before and after each create.
Save = Callable[[dict[str, Any]], None]
#: The provider's one lost-answer error and rule (:mod:`airflow_provider_music.core.errors`), kept importable here.
__all__ = ["ASSET_LIFETIME", "AudioShakeApi", "LostAnswerError", "StemOutcome", "UPLOAD_KINDS", "WorkRequest", "answer_lost"]


@dataclass
class StemOutcome:
    """The outcome of one stem: ``state`` (running|success|failed), a message and its downloadable outputs."""

    state: str
    message: str
    outputs: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class WorkRequest:
    """What to create: the source (``asset_id`` or ``url``), ``{stem: format}`` and per-stem options."""

    source: Mapping[str, Any]
    formats: Mapping[str, str]
    options: Mapping[str, Any] = field(default_factory=dict)
    residual: Any = None
    language: Any = None
    marker: str = ""
    recreate_on_lost_answer: bool = False
    write_destination: Mapping[str, Any] | None = None


class AudioShakeApi(ABC):
    """One AudioShake API: upload, create work for stems, status, outputs, lookups after a lost answer."""

    #: ``jobs`` or ``tasks`` (the connection's ``api`` extra).
    name: ClassVar[str]
    #: ``job`` or ``task``: the unit of work, for messages.
    unit: ClassVar[str]
    #: The multipart upload endpoint.
    upload_path: ClassVar[str]

    def __init__(self, hook: AudioShakeHook) -> None:
        self.hook = hook
        self.log = hook.log

    # ---- upload ---------------------------------------------------------------------------------
    def upload(self, source: Any, *, filename: str | None = None, marker: str | None = None,
               recreate_on_lost_answer: bool = False) -> dict[str, Any]:
        """Stream a file (path, ``ObjectStoragePath`` or binary file object) as multipart ``file``.

        The content is checked first (any file, whatever its name: audio or video containers only). When the
        answer is lost after the upload may have reached AudioShake, the asset is looked for before any second
        upload (:meth:`find_uploaded`); when it cannot be found, a :class:`LostAnswerError` says what to check,
        unless ``recreate_on_lost_answer`` allows one more upload.
        """
        upload = resolve_source(source)
        check_upload_content(upload, allowed=UPLOAD_KINDS)
        name = self.upload_name(filename or upload.name, marker, upload.size)
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        since = time.time() - CLOCK_SKEW  # the lookup window of a lost upload
        if marker and self.can_list_assets:  # look first: an earlier try of this task may have uploaded it
            earlier = self.find_uploaded(name=name, size=upload.size, since=time.time() - ASSET_LIFETIME)
            if earlier is not None:
                self.log.info("Reusing AudioShake asset %s uploaded by an earlier try", earlier["id"])
                return earlier
        for attempt in (1, 2):
            self.log.info("Uploading %s (%s bytes) to AudioShake", name, upload.size if upload.size is not None else "?")
            try:
                body = self.hook.upload_multipart("POST", self.upload_path, fields={}, file_field="file",
                                                  source=upload, filename=name, content_type=content_type)
                return parse_asset(body, call=f"POST /{self.upload_path}")
            except MusicApiError as exc:
                if not answer_lost(exc):
                    raise
                found = self.find_uploaded(name=name, size=upload.size, since=since)
                if found is not None:
                    self.log.warning("Upload answer lost (%s); found the uploaded asset %s", exc, found["id"])
                    return found
                if attempt == 2 or not (self.can_list_assets or recreate_on_lost_answer):
                    raise self.lost_upload_error(name, exc) from None
                self.log.warning("Upload answer lost (%s) and no such asset exists; uploading again", exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def upload_name(self, name: str, marker: str | None, size: int | None) -> str:
        """The name the asset gets (an API that can look assets up marks it to find it again)."""
        return name

    #: Whether :meth:`find_uploaded` can see assets (an empty answer then proves the upload did not happen).
    can_list_assets: ClassVar[bool] = False

    @abstractmethod
    def find_uploaded(self, *, name: str, size: int | None, since: float) -> dict[str, Any] | None:
        """The asset an upload whose answer was lost created, or ``None``."""

    def lost_upload_error(self, name: str, exc: MusicApiError) -> LostAnswerError:
        """The :class:`LostAnswerError` of an upload of ``name`` whose answer was lost (``exc``), naming where
        to look (:attr:`lost_upload_hint`)."""
        return LostAnswerError.after(
            f"AudioShake POST /{self.upload_path} of {name!r}: the asset", check=self.lost_upload_hint, cause=exc,
            note="Nothing was uploaded a second time.", method="POST", path=f"/{self.upload_path}", status=exc.status,
        )

    lost_upload_hint: ClassVar[str] = "the assets of the account"

    @abstractmethod
    def obtain_source(self, kind: str, value: Any, *, name: str | None, marker: str,
                      recreate_on_lost_answer: bool) -> dict[str, Any]:
        """``{"asset_id": ..., "url": ...}`` for a source of ``kind`` ``file`` | ``url`` | ``asset``."""

    @abstractmethod
    def validate_url_source(self, url: str) -> None:
        """Fail before any request when ``url`` cannot be a source of this API."""

    # ---- work -----------------------------------------------------------------------------------
    @abstractmethod
    def find_work(self, marker: str, stems: Sequence[str]) -> dict[str, str] | None:
        """``{stem: id}`` of the work created with ``marker`` by an earlier try, or ``None`` (not found, or the
        API cannot list its work)."""

    @abstractmethod
    def submit(self, work: WorkRequest, ledger: dict[str, Any], save: Save) -> dict[str, str]:
        """Create work for the stems of ``work`` that ``ledger["units"]`` lacks; returns ``{stem: id}``.

        ``ledger`` holds ``units`` (``{stem: id}``) and ``pending`` (creates sent whose answer is unknown);
        ``save(ledger)`` is called before each create and after each answer.
        """

    @abstractmethod
    def validate_work(self, work: WorkRequest) -> None:
        """Build (and so validate) every create body of ``work`` without sending anything."""

    # ---- status ---------------------------------------------------------------------------------
    @abstractmethod
    def fetch(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``{id: job | task}`` (sync)."""

    @abstractmethod
    async def afetch_one(self, ident: str) -> dict[str, Any]:
        """One job / task (async; parsed exactly as :meth:`fetch` parses it)."""

    @abstractmethod
    def state_items(self, units: Mapping[str, str], fetched: Mapping[str, Mapping[str, Any]]) -> list[StateItem]:
        """``(label, id, state, message)`` of every unit."""

    @abstractmethod
    def outcome(self, stem: str, ident: str, fetched: Mapping[str, Mapping[str, Any]]) -> StemOutcome:
        """State and outputs of one stem."""

    def status(self, units: Mapping[str, str], *, wait_all: bool = True) -> PollResult:
        """State of ``{label: id}`` units (see :func:`~airflow_provider_music.contract.audioshake.combine_states`)."""
        fetched = self.fetch(list(dict.fromkeys(units.values())))
        return combine_states(self.state_items(units, fetched), wait_all=wait_all)

    async def astatus(self, units: Mapping[str, str], *, wait_all: bool = True) -> PollResult:
        """Async twin of :meth:`status`: same ids, same parsing, same combination."""
        ids = list(dict.fromkeys(units.values()))
        if len(ids) == 1:  # one id (one task for every stem): no gather, no extra task per poll
            bodies = [await self.afetch_one(ids[0])]
        else:
            bodies = await asyncio.gather(*(self.afetch_one(ident) for ident in ids))
        return combine_states(self.state_items(units, dict(zip(ids, bodies, strict=True))), wait_all=wait_all)

    def outcomes(self, units: Mapping[str, str]) -> dict[str, StemOutcome]:
        """``{stem: StemOutcome}`` for each ``{stem: id}``."""
        fetched = self.fetch(list(dict.fromkeys(units.values())))
        return {stem: self.outcome(stem, ident, fetched) for stem, ident in units.items()}

    def reusable(self, units: Mapping[str, str]) -> dict[str, str]:
        """The units that did not fail (still running or done): reused instead of paid for again."""
        keep: dict[str, str] = {}
        fetched = {}
        for ident in dict.fromkeys(units.values()):
            try:
                fetched.update(self.fetch([ident]))
            except MusicApiError as exc:
                if exc.status != 404:
                    raise
        for stem, ident in units.items():
            state = self.outcome(stem, ident, fetched).state if ident in fetched else "failed"
            if state != "failed":
                keep[stem] = ident
            else:
                self.log.warning("AudioShake %s %s for %r failed earlier; submitting it again", self.unit, ident, stem)
        return keep

    # ---- misc -----------------------------------------------------------------------------------
    @abstractmethod
    def check_connection(self) -> None:
        """A cheap authenticated call."""

    def web_url(self, units: Mapping[str, str]) -> str:
        """A page a person can open for this work (AudioShake has no per-job page: the dashboard)."""
        return DASHBOARD_URL
