"""The legacy AudioShake Jobs API ("Groovy"): ``POST /upload/`` -> ``POST /job/`` (one model per job) -> ``GET /job/{id}``.

The legacy API cannot list assets or jobs: a create whose answer was lost cannot be looked up, so it is
never sent again blindly (:class:`~airflow_provider_music.core.errors.LostAnswerError`, unless the
caller opts in with ``recreate_on_lost_answer``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from airflow_provider_music.contract.audioshake import (
    StateItem,
    build_job_body,
    job_item,
    job_options_for,
    job_outputs,
    job_state,
    parse_asset,
    parse_created_job,
    unwrap_job,
    validate_job_id,
    validate_public_url,
)
from airflow_provider_music.core.errors import (
    ClientRequestError,
    InvalidInputError,
    LostAnswerError,
    MusicApiError,
    NotFoundError,
    answer_lost,
    redact_url,
)
from airflow_provider_music.core.validation import path_segment
from airflow_provider_music.hooks.audioshake_api import AudioShakeApi, Save, StemOutcome, WorkRequest

CALLBACK_HINT = (
    "the callbackUrl deliveries or ask support@audioshake.ai (the legacy Jobs API cannot list jobs); "
    "pass recreate_on_lost_answer=True to create it again"
)


class JobsApi(AudioShakeApi):
    """Legacy Jobs API (``Authorization: Bearer``); one job per stem on one asset."""

    name = "jobs"
    unit = "job"
    upload_path = "upload/"
    lost_upload_hint: ClassVar[str] = (
        "your own records (the legacy Jobs API cannot list assets; an unused asset costs nothing); pass "
        "recreate_on_lost_answer=True to upload again"
    )

    # ---- endpoints ------------------------------------------------------------------------------
    def upload_file(self, source: Any, *, filename: str | None = None, recreate_on_lost_answer: bool = False) -> dict[str, Any]:
        """``POST /upload/``: stream a local path / ``ObjectStoragePath`` / binary file object as multipart."""
        return self.upload(source, filename=filename, recreate_on_lost_answer=recreate_on_lost_answer)

    def upload_link(self, link: str, name: str | None = None, *, audio: bool = False) -> dict[str, Any]:
        """``POST /upload/link`` (or ``/upload/audio-link`` with ``audio=True``): register a public URL."""
        validate_public_url(link, argument="link")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise InvalidInputError(f"name must be a non-empty string, got {name!r}")
        path = "upload/audio-link" if audio else "upload/link"
        self.log.info("Registering AudioShake asset from %s", redact_url(link))
        return self.hook.request_json("POST", path, json_body={"link": link, **({"name": name} if name else {})},
                                      parse=lambda body: parse_asset(body, call=f"POST /{path}"))

    def create_job(self, asset_id: str, *, name: str, format: str, **options: Any) -> dict[str, Any]:  # noqa: A002
        """``POST /job/``: one model on one asset; returns the job (``{"job": ...}`` unwrapped).

        ``options``: ``callback_url``, ``residual``, ``language``, ``max_track_length``, ``preview``,
        ``watermark_interval``, ``custom_property``, ``other_source_assets``, ``extra_metadata``. An error
        raised after the create may have reached AudioShake has ``request_may_have_been_processed=True``.
        """
        body = build_job_body(asset_id, name=name, format=format, **options)
        job = self.hook.request_json("POST", "job/", json_body=body, parse=parse_created_job)
        self.log.info("Created AudioShake job %s (%s, %s) on asset %s", job["id"], name, format, asset_id)
        return job

    def get_job(self, job_id: str) -> dict[str, Any]:
        """``GET /job/{id}``: the seed's job model (unwrapped from ``{"job": ...}``)."""
        return self.hook.request_json("GET", self._job_path(job_id), parse=lambda body: unwrap_job(body, job_id=job_id))

    async def aget_job(self, job_id: str) -> dict[str, Any]:
        """Async twin of :meth:`get_job` (same checks, same parser)."""
        return await self.hook.arequest_json("GET", self._job_path(job_id), parse=lambda body: unwrap_job(body, job_id=job_id))

    @staticmethod
    def _job_path(job_id: str) -> str:
        return f"job/{path_segment(validate_job_id(job_id), 'job_id')}"

    def usage(self) -> dict[str, Any]:
        """``GET /usage`` (the doc's curl uses POST; public clients GET): the last three months."""
        try:
            body = self.hook.request_json("GET", "usage")
        except (NotFoundError, ClientRequestError) as exc:
            if exc.status not in (404, 405):
                raise
            body = self.hook.request_json("POST", "usage", idempotent=True)
        return dict(body) if isinstance(body, Mapping) else {"usage": body}

    def check_connection(self) -> None:
        """``GET /usage``: raises when the token is refused."""
        self.usage()

    # ---- interface ------------------------------------------------------------------------------
    def find_uploaded(self, *, name: str, size: int | None, since: float) -> dict[str, Any] | None:
        """Always None: the legacy API cannot list assets, so a lost upload cannot be found again."""
        return None  # the legacy API cannot list assets

    def obtain_source(self, kind: str, value: Any, *, name: str | None, marker: str,
                      recreate_on_lost_answer: bool) -> dict[str, Any]:
        """The asset id for ``value``: an asset id as given, a URL uploaded as a link, a file uploaded
        (``recreate_on_lost_answer`` decides whether a lost upload is sent again)."""
        if kind == "asset":
            return {"asset_id": value, "url": None}
        if kind == "url":
            return {"asset_id": str(self.upload_link(value, name=name)["id"]), "url": None}
        asset = self.upload(value, marker=marker, recreate_on_lost_answer=recreate_on_lost_answer)
        return {"asset_id": str(asset["id"]), "url": None}

    def validate_url_source(self, url: str) -> None:
        """A public http(s) URL (no private or loopback host), before anything is sent."""
        validate_public_url(url, argument="source")

    def find_work(self, marker: str, stems: Sequence[str]) -> dict[str, str] | None:
        """Always None: the legacy API cannot list jobs (a lost create is never re-sent blindly)."""
        return None  # the legacy API cannot list jobs

    def validate_work(self, work: WorkRequest) -> None:
        """Check every job body of ``work`` without sending it; ``write_destination`` needs the Tasks API."""
        if work.write_destination is not None:
            raise InvalidInputError("write_destination needs the Tasks API (connection extra api='tasks')")
        for stem, fmt in work.formats.items():
            build_job_body("x" * 8, name=stem, format=fmt, **self._options(work, stem))

    @staticmethod
    def _options(work: WorkRequest, stem: str) -> dict[str, Any]:
        return job_options_for(stem, work.options, residual=work.residual, language=work.language)

    def submit(self, work: WorkRequest, ledger: dict[str, Any], save: Save) -> dict[str, str]:
        """One ``POST /job/`` per stem not yet in ``ledger["units"]``, the ledger saved (``save``) before each
        create; returns ``{stem: job id}``. A create whose answer was lost fails with :class:`LostAnswerError`
        (the legacy API cannot look); one an earlier attempt lost is sent again only with
        ``recreate_on_lost_answer``."""
        units: dict[str, str] = ledger.setdefault("units", {})
        pending: dict[str, str] = ledger.setdefault("pending", {})
        for stem, fmt in work.formats.items():
            if stem in units:
                continue
            if stem in pending and not work.recreate_on_lost_answer:
                raise self._lost_job(stem, units, "an earlier attempt sent it and its answer was lost")
            pending[stem] = work.marker
            save(ledger)
            try:
                job = self.create_job(str(work.source["asset_id"]), name=stem, format=fmt, **self._options(work, stem))
            except MusicApiError as exc:
                if answer_lost(exc):
                    raise self._lost_job(stem, units, str(exc)) from None
                pending.pop(stem, None)
                save(ledger)
                raise
            units[stem] = str(job["id"])
            pending.pop(stem, None)
            save(ledger)
        return units

    def _lost_job(self, stem: str, units: Mapping[str, str], why: str) -> LostAnswerError:
        return LostAnswerError.after(
            f"AudioShake POST /job/ for {stem!r}", check=CALLBACK_HINT,
            note=f"Why: {why}. Jobs created so far: {dict(units)}",
            method="POST", path="/job/",
        )

    def fetch(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``{job id: job record}`` for ``ids`` (one ``GET /job/{id}`` each)."""
        return {ident: self.get_job(ident) for ident in ids}

    async def afetch_one(self, ident: str) -> dict[str, Any]:
        """Async ``GET /job/{id}`` of one job."""
        return await self.aget_job(ident)

    def state_items(self, units: Mapping[str, str], fetched: Mapping[str, Mapping[str, Any]]) -> list[StateItem]:
        """One state item per stem (label, id, state) from the fetched job records."""
        return [job_item(label, ident, fetched[ident]) for label, ident in units.items()]

    def outcome(self, stem: str, ident: str, fetched: Mapping[str, Mapping[str, Any]]) -> StemOutcome:
        """The state, message and outputs (when done) of ``stem``'s job ``ident``."""
        job = fetched[ident]
        state, message = job_state(job)
        return StemOutcome(state, message, job_outputs(job) if state == "success" else [])
