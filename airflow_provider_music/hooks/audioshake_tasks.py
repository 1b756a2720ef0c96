"""The AudioShake Tasks API: ``POST /assets`` -> ``POST /tasks`` (many targets per task) -> ``GET /tasks/{id}``.

Lost answers are looked up before anything is sent again: an upload in ``GET /assets`` (by its marked name,
size and time window), a task in ``GET /tasks`` (by the ``metadata`` marker it was created with).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from airflow_provider_music.contract.audioshake import (
    STATISTICS_NAMES,
    StateItem,
    build_task_body,
    job_options_for,
    matching_assets,
    parse_asset,
    parse_created_task,
    parse_list,
    parse_statistics,
    parse_task,
    parse_time,
    target_state,
    task_items,
    task_outputs,
    task_targets,
    validate_job_id,
    validate_public_url,
)
from airflow_provider_music.core.errors import InvalidInputError, LostAnswerError, MusicApiError, answer_lost
from airflow_provider_music.core.validation import path_segment, validate_number
from airflow_provider_music.hooks.audioshake_api import AudioShakeApi, Save, StemOutcome, WorkRequest

#: How far back (seconds) a lookup after a lost answer searches the task list.
LOOKUP_WINDOW = 6 * 3600.0


class TasksApi(AudioShakeApi):
    """Tasks API (``x-api-key``); one task with one target per stem."""

    name = "tasks"
    unit = "task"
    upload_path = "assets"
    can_list_assets: ClassVar[bool] = True
    lost_upload_hint: ClassVar[str] = "GET /assets (the dashboard's asset list) for it"

    # ---- endpoints ------------------------------------------------------------------------------
    def upload_asset(self, source: Any, *, filename: str | None = None, marker: str | None = None) -> dict[str, Any]:
        """``POST /assets``: stream a file as multipart ``file``; returns ``{id, format, link, name}``."""
        return self.upload(source, filename=filename, marker=marker)

    def list_assets(self) -> list[dict[str, Any]]:
        """``GET /assets``: the account's assets ``[{id, format, name, ...}]``."""
        return self.hook.request_json("GET", "assets", parse=lambda body: parse_list(body, key="assets", call="GET /assets"))

    def create_task(
        self,
        asset_id_or_url: str,
        targets: Sequence[Mapping[str, Any]],
        *,
        metadata: str | None = None,
        write_destination: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``POST /tasks`` with an asset id (or a public HTTPS URL) and 1..20 targets; returns the Task.

        ``write_destination``: the customer storage AudioShake writes the outputs to (``writeDestination``).
        """
        body = build_task_body(asset_id_or_url, targets, metadata=metadata, write_destination=write_destination)
        task = self.hook.request_json("POST", "tasks", json_body=body, parse=parse_created_task)
        self.log.info("Created AudioShake task %s with %d target(s)", task["id"], len(body["targets"]))
        return task

    def get_task(self, task_id: str) -> dict[str, Any]:
        """``GET /tasks/{id}``: the flat Task object."""
        return self.hook.request_json("GET", self._task_path(task_id), parse=lambda body: parse_task(body, task_id))

    async def aget_task(self, task_id: str) -> dict[str, Any]:
        """Async twin of :meth:`get_task` (same checks, same parser)."""
        return await self.hook.arequest_json("GET", self._task_path(task_id), parse=lambda body: parse_task(body, task_id))

    @staticmethod
    def _task_path(task_id: str) -> str:
        return f"tasks/{path_segment(validate_job_id(task_id, argument='task_id'), 'task_id')}"

    def list_tasks(self, skip: Any = 0, take: Any = 10) -> list[dict[str, Any]]:
        """``GET /tasks?skip=&take=`` (skip >= 0, take 1..100), newest first."""
        skip = validate_number(skip, "skip", minimum=0, integer=True)
        take = validate_number(take, "take", minimum=1, maximum=100, integer=True)
        return self.hook.request_json("GET", "tasks", params={"skip": skip, "take": take},
                                      parse=lambda body: parse_list(body, key="tasks", call="GET /tasks"))

    def find_task(self, metadata: str, *, max_pages: int = 3, since: float | None = None) -> dict[str, Any] | None:
        """The newest task whose ``metadata`` equals ``metadata`` (used after an ambiguous create).

        Pages back at most ``max_pages`` x 100 tasks, and stops at tasks created before ``since`` (epoch s).
        """
        for page in range(max_pages):
            tasks = self.list_tasks(skip=page * 100, take=100)
            for task in tasks:
                if task.get("metadata") == metadata:
                    return parse_created_task(task)  # its id is held to the rule of a create's answer
            created = [parse_time(t.get("createdAt")) for t in tasks]
            if len(tasks) < 100 or (since is not None and any(c is not None and c < since for c in created)):
                break
        return None

    def list_models(self) -> list[dict[str, Any]]:
        """``GET /models``: the models the account can use (``{"models": [...]}`` unwrapped)."""
        return self.hook.request_json("GET", "models", parse=lambda body: parse_list(body, key="models", call="GET /models"))

    def statistics(self, name: str = "usage") -> list[dict[str, Any]]:
        """``GET /tasks/statistics?name=usage|distribution``: ``[{month, totalTargets, totalMinutes}]``."""
        if name not in STATISTICS_NAMES:
            raise InvalidInputError(f"name must be one of {list(STATISTICS_NAMES)}, got {name!r}")
        return self.hook.request_json("GET", "tasks/statistics", params={"name": name}, parse=parse_statistics)

    def check_connection(self) -> None:
        """``GET /tasks`` (one item): raises when the API key is refused."""
        self.list_tasks(skip=0, take=1)

    # ---- interface ------------------------------------------------------------------------------
    def upload_name(self, name: str, marker: str | None, size: int | None) -> str:
        """``song.af-<hash of marker and size>.wav``: this task's upload of this file, found again by name."""
        if not marker:
            return name
        stem, ext = os.path.splitext(name)
        tag = hashlib.sha256(f"{marker}|{size}".encode()).hexdigest()[:10]
        return f"{stem}.af-{tag}{ext}"

    def find_uploaded(self, *, name: str, size: int | None, since: float) -> dict[str, Any] | None:
        """The asset this task uploaded under ``name`` (and ``size``) since ``since``, or None; more than one
        match fails with :class:`LostAnswerError` naming them."""
        found = matching_assets(self.list_assets(), name=name, size=size, since=since)
        if len(found) > 1:
            ids = [a.get("id") for a in found]
            raise LostAnswerError.after(
                f"AudioShake POST /assets of {name!r}: the answer was lost and {len(found)} assets match {ids}; the asset",
                check="GET /assets and pass the right one as source", method="POST", path="/assets",
            )
        return parse_asset(found[0], call="GET /assets") if found else None

    def obtain_source(self, kind: str, value: Any, *, name: str | None, marker: str,
                      recreate_on_lost_answer: bool) -> dict[str, Any]:
        """What a task needs for ``value``: an asset id as given, a URL passed in the task itself, a file
        uploaded (``recreate_on_lost_answer`` decides whether a lost upload is sent again)."""
        if kind == "asset":
            return {"asset_id": value, "url": None}
        if kind == "url":
            return {"asset_id": None, "url": value}  # the Tasks API takes the URL in the task itself
        asset = self.upload(value, marker=marker, recreate_on_lost_answer=recreate_on_lost_answer)
        return {"asset_id": str(asset["id"]), "url": None}

    def validate_url_source(self, url: str) -> None:
        """A public https URL (the Tasks API fetches it itself), before anything is sent."""
        validate_public_url(url, argument="source", https_only=True)

    def find_work(self, marker: str, stems: Sequence[str]) -> dict[str, str] | None:
        """``{stem: task id}`` of the task carrying ``marker`` (an earlier try's), for the stems it has; or None."""
        task = self.find_task(marker)
        if task is None:
            return None
        models = {t.get("model") for t in task_targets(task)}
        return {stem: str(task["id"]) for stem in stems if stem in models} or None

    @staticmethod
    def _targets(work: WorkRequest, stems: Sequence[str]) -> list[dict[str, Any]]:
        options = {stem: job_options_for(stem, work.options, residual=work.residual, language=work.language) for stem in stems}
        return [{"model": stem, "formats": [work.formats[stem]], **options[stem]} for stem in stems]

    def validate_work(self, work: WorkRequest) -> None:
        """Check the task body of ``work`` without sending it."""
        build_task_body("x" * 8, self._targets(work, list(work.formats)), write_destination=work.write_destination)

    def submit(self, work: WorkRequest, ledger: dict[str, Any], save: Save) -> dict[str, str]:
        """One ``POST /tasks`` with a target per stem not yet in ``ledger["units"]`` (the ledger saved before the
        create, a lost answer looked up by its marker); returns ``{stem: task id}``."""
        units: dict[str, str] = ledger.setdefault("units", {})
        missing = [stem for stem in work.formats if stem not in units]
        if not missing:
            return units
        pending = ledger.get("pending") or {}
        marker = next(iter(pending.values()), None)
        task = self.find_task(marker) if marker else None  # an earlier attempt's create whose answer was lost
        if task is not None:
            self.log.info("Found AudioShake task %s created by an earlier attempt", task["id"])
        else:
            ledger["pending"] = dict.fromkeys(missing, work.marker)
            save(ledger)
            task = self._create(work, missing)
        for stem in missing:
            units[stem] = str(task["id"])
        ledger["pending"] = {}
        save(ledger)
        return units

    def _create(self, work: WorkRequest, missing: Sequence[str]) -> dict[str, Any]:
        source = work.source.get("asset_id") or work.source.get("url")
        try:
            return self.create_task(str(source), self._targets(work, missing), metadata=work.marker,
                                    write_destination=work.write_destination)
        except MusicApiError as exc:
            if not answer_lost(exc):
                raise
            found = self.find_task(work.marker)
            if found is None:
                raise LostAnswerError.after(
                    f"AudioShake POST /tasks (no task with metadata {work.marker!r} is listed yet): the task",
                    check="GET /tasks (the dashboard) for that metadata", cause=exc,
                    note="A later run looks for it again before creating one.", method="POST", path="/tasks",
                    status=exc.status,
                ) from None
            self.log.warning("POST /tasks failed (%s) but the task was created: %s", exc, found["id"])
            return found

    def fetch(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``{task id: task record}`` for ``ids`` (one ``GET /tasks/{id}`` each)."""
        return {ident: self.get_task(ident) for ident in ids}

    async def afetch_one(self, ident: str) -> dict[str, Any]:
        """Async ``GET /tasks/{id}`` of one task."""
        return await self.aget_task(ident)

    def state_items(self, units: Mapping[str, str], fetched: Mapping[str, Mapping[str, Any]]) -> list[StateItem]:
        """One state item per target (label, id, state) from the fetched task records."""
        return task_items(units, fetched)

    def outcome(self, stem: str, ident: str, fetched: Mapping[str, Mapping[str, Any]]) -> StemOutcome:
        """The state, message and outputs (when done) of ``stem``'s target in task ``ident``."""
        targets = task_targets(fetched[ident], stem)
        if not targets:
            return StemOutcome("failed", "no target for this model")
        state, message = target_state(targets[0])
        return StemOutcome(state, message, task_outputs(targets[0]) if state == "success" else [])
