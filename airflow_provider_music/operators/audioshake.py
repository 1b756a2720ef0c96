"""AudioShake operators: upload a source, and separate sources into stems (or lyrics) saved as files.

Both talk to AudioShake through the connection's API behind one interface (``AudioShakeHook.backend``:
legacy Jobs API or Tasks API); nothing here depends on which. The stem operator is a
:class:`~airflow_provider_music.operators.base.MusicJobOperator`: the base owns validate -> resume or
submit -> wait or defer -> finish; this module states the submit (upload once, one job per stem or one task
per source, nothing re-sent after a lost answer), the status target and the downloads.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_music.contract.audioshake import (
    DASHBOARD_URL,
    DEFAULT_STEMS,
    TASKS_MODELS,
    classify_source,
    is_url,
    model_list,
    source_label,
    stem_formats,
    validate_language,
    validate_write_destination,
)
from airflow_provider_music.core import lineage
from airflow_provider_music.core.content import check_upload_content
from airflow_provider_music.core.errors import InvalidInputError, JobFailedError, LostAnswerError, redact_url
from airflow_provider_music.core.files import (
    claim_folder,
    distinct_file_name,
    ensure_writable_destination,
    output_location,
    resolve_source,
    to_storage_path,
)
from airflow_provider_music.core.validation import flatten_paths, many_results
from airflow_provider_music.hooks.audioshake import AudioShakeHook
from airflow_provider_music.hooks.audioshake_api import UPLOAD_KINDS, WorkRequest
from airflow_provider_music.operators.audioshake_cost import SeparationCost
from airflow_provider_music.operators.base import (
    AttemptJournal,
    MusicJobOperator,
    MusicLink,
    MusicOperator,
    check_flag,
    job_marker,
)
from airflow_provider_music.triggers.audioshake import SEPARATION_STATUS, separation_target

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_music.core.parsing import PollResult
    from airflow_provider_music.hooks.audioshake_api import AudioShakeApi

LINK_XCOM_KEY = "audioshake_url"
#: ``task_state_store`` key of the submission ledger (ids and pending creates, saved before each create).
LEDGER_KEY = "audioshake_submission"
#: ``task_state_store`` key of the output folders this task instance claimed (``{label: folder name}``).
FOLDERS_KEY = "audioshake_output_folders"
#: ``task_state_store`` key prefix of the upload journal (one note per source, written before it is sent).
UPLOAD_JOURNAL_KEY = "audioshake_upload_attempt"


def obtain_journalled(backend: AudioShakeApi, journal: AttemptJournal, kind: str, value: Any, *, name: str | None,
                      marker: str, recreate_on_lost_answer: bool) -> dict[str, Any]:
    """``backend.obtain_source`` with a file upload journalled in ``task_state_store`` before it is sent.

    A later try that finds the note of an upload whose answer was lost looks the asset up (Tasks API: the
    upload path looks first) or, where the API cannot list assets (legacy Jobs API), fails with
    :class:`LostAnswerError` instead of uploading again, unless ``recreate_on_lost_answer``.
    """
    def obtain() -> dict[str, Any]:
        return backend.obtain_source(kind, value, name=name, marker=marker, recreate_on_lost_answer=recreate_on_lost_answer)

    if kind != "file":
        return obtain()
    earlier = journal.earlier()
    if earlier and earlier.get("source") == str(value) and not backend.can_list_assets and not recreate_on_lost_answer:
        sent = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(earlier.get("at") or 0)))
        raise LostAnswerError.after(
            f"AudioShake POST /{backend.upload_path} of {str(value)[:200]!r} (an earlier try sent it at {sent} and "
            "got no answer): the asset", check=backend.lost_upload_hint,
            note="Not uploading again automatically: nothing was uploaded by this try.",
            method="POST", path=f"/{backend.upload_path}",
        )
    return journal.send(obtain, source=str(value))


class AudioShakeLink(MusicLink):
    """Opens the AudioShake dashboard (tasks, usage, webhooks): AudioShake has no public page per job."""

    name = "AudioShake dashboard"
    key = LINK_XCOM_KEY


#: Old name of the link class.
AudioShakeJobLink = AudioShakeLink


def as_sources(value: Any) -> list[Any]:
    """One source, a list of them, a download result (``{"files": [...]}``) or a mapped upstream's list."""
    return flatten_paths(value, argument="source")


def labelled_sources(sources: Sequence[Any], source_name: str | None) -> list[tuple[str, Any, str]]:
    """``(kind, value, label)`` per source; equal labels get ``_2``, ``_3``... so outputs never collide."""
    out: list[tuple[str, Any, str]] = []
    seen: set[str] = set()
    for source in sources:
        kind, value = classify_source(source)
        base = source_label(kind, value, source_name if len(sources) == 1 else None)
        label, n = base, 2
        while label.lower() in seen:
            label, n = f"{base}_{n}", n + 1
        seen.add(label.lower())
        if kind == "file":
            check_upload_content(resolve_source(value), allowed=UPLOAD_KINDS)
        out.append((kind, value, label))
    return out


def _check_stems(argument: str, value: Any) -> list[str]:
    stems = model_list(value, argument=argument)
    unknown = [stem for stem in stems if stem not in TASKS_MODELS]
    if unknown:
        raise InvalidInputError(f"{argument} must be AudioShake models {sorted(TASKS_MODELS)}, got {unknown[0]!r}")
    return stems


def _optional(check: Any) -> Any:
    return lambda argument, value: None if value is None else check(argument, value)


def _check_dict(argument: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInputError(f"{argument} must be a dict, got {type(value).__name__}")
    return value


#: Arguments with rules: checked when the DAG file is parsed (values known then) and right after rendering.
ARGUMENT_CHECKS = {
    "stems": _check_stems,
    "language": _optional(lambda argument, value: validate_language(value, argument=argument)),
    "residual": _optional(check_flag),
    "job_options": _optional(_check_dict),
    "write_destination": _optional(lambda argument, value: validate_write_destination(value)),
}


class AudioShakeBaseOperator(MusicOperator):
    """Base of every AudioShake operator and sensor: the ``audioshake_conn_id`` argument and the typed hook.

    :param audioshake_conn_id: the AudioShake connection (templated; default ``audioshake_default``). Another API's
        connection argument, or ``conn_id=``, fails with an error naming this one.
    """

    hook_class = AudioShakeHook
    hook: AudioShakeHook

    def __init__(self, *, audioshake_conn_id: str = AudioShakeHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(audioshake_conn_id=audioshake_conn_id, **kwargs)


class AudioShakeUploadOperator(AudioShakeBaseOperator):
    """Upload a file to AudioShake, or register a public link (legacy Jobs API); return the asset id.

    :param source: local path, ``ObjectStoragePath`` (``s3://...``) or a public ``https://`` URL; or a list
        of them (a mapped upstream's output): then a list of asset ids is returned. URLs are registered with
        ``POST /upload/link`` on the legacy API; the Tasks API takes URLs directly in
        :class:`AudioShakeStemSeparationOperator` instead, so a URL is rejected there.
    :param name: asset name for a link upload (default: from the URL).
    :param recreate_on_lost_answer: upload again when an upload's answer was lost and the asset cannot be
        looked up (legacy API); default False: fail with a message saying what to check.
    :param audioshake_conn_id: AudioShake connection id.
    """

    template_fields: Sequence[str] = ("source", "name")
    ui_color = "#f2e6ff"

    def __init__(self, *, source: Any, name: str | None = None, recreate_on_lost_answer: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.name = name
        self.recreate_on_lost_answer = check_flag("recreate_on_lost_answer", recreate_on_lost_answer)

    def _sources(self) -> list[tuple[str, Any]]:
        sources = [classify_source(s) for s in as_sources(self.source)]
        for kind, value in sources:
            if kind == "asset":
                raise InvalidInputError(f"source: {value!r} is neither a file that exists nor a URL")
            if kind == "file":
                check_upload_content(resolve_source(value), allowed=UPLOAD_KINDS)
        return sources

    def validate(self) -> None:
        """The sources (paths, URLs or asset ids) are valid, before any request."""
        self._sources()

    def execute(self, context: Context) -> str | list[str]:
        """Upload each source (journalled: a lost answer is looked up, never uploaded twice); returns the
        asset id, or a list for many sources."""
        self.check_rendered()
        backend = self.hook.backend
        ids: list[str] = []
        for kind, value in self._sources():
            journal = AttemptJournal(self.state_store(context), f"{UPLOAD_JOURNAL_KEY}/{len(ids)}")
            found = obtain_journalled(backend, journal, kind, value, name=self.name, marker=job_marker(context),
                                      recreate_on_lost_answer=self.recreate_on_lost_answer)
            if not found.get("asset_id"):
                raise InvalidInputError(
                    "source: the Tasks API has no link upload; pass the URL as `source` of "
                    "AudioShakeStemSeparationOperator (it is sent as the task's `url`)"
                )
            ids.append(str(found["asset_id"]))
            lineage.add_datasets(self.task_report.inputs, source_dataset(kind, value))
            lineage.add_datasets(self.task_report.outputs, lineage.audioshake_asset(found["asset_id"]))
            self.task_report.facts["asset_ids"] = ids
            self.log.info("AudioShake asset %s from %s", found["asset_id"], redact_url(str(value)) if is_url(value) else value)
        self.push(context, "asset", {"id": ids[0]} if len(ids) == 1 else {"ids": ids})
        return ids if many_results(self.source) else ids[0]


class AudioShakeStemSeparationOperator(SeparationCost, AudioShakeBaseOperator, MusicJobOperator):
    """Separate sources into stems (or transcribe / align lyrics) and save every output as a file.

    Legacy Jobs API: one job per stem on each uploaded asset. Tasks API: one task per source with one target
    per stem. Outputs go to ``destination/<source name>/<output name>`` (names from the API are sanitised;
    distinct outputs never overwrite each other).

    :param source: local path, ``ObjectStoragePath``, public URL or an existing AudioShake asset id - or a
        list of them (e.g. a mapped download's paths): then the result is a list, one entry per source.
    :param destination: folder (path or ``ObjectStoragePath``) for the outputs: ``<destination>/<source name>/``,
        or ``<source name>-<hash>/`` when that folder already exists (never overwrites other outputs).
    :param stems: models to run, e.g. ``["vocals", "drums", "bass", "other"]`` or ``["transcription"]``.
    :param format: audio format of stems (``wav``, ``flac``, ``mp3``, ``aiff``, ``mp4``).
    :param lyrics_format: format of ``transcription`` / ``alignment`` outputs (``json``, ``txt``, ``srt``;
        legacy also ``all``).
    :param residual: also return a residual file per stem.
    :param language: language of lyric models (2-letter code or ``auto``).
    :param source_name: folder name for the outputs of a single source (default: the file name without
        extension).
    :param job_options: extra ``POST /job/`` options (legacy, e.g. ``{"max_track_length": 60}``) or extra
        target fields (Tasks, e.g. ``{"variant": "high_quality"}``).
    :param write_destination: Tasks API only: ``writeDestination`` (AudioShake writes outputs to your storage).
    :param recreate_on_lost_answer: create again when a create's answer was lost and the work cannot be
        looked up (legacy jobs, uploads); default False: fail saying what to check. Costs a second job.
    :param audioshake_conn_id: AudioShake connection id (extra ``api`` selects jobs or tasks).

    Waiting: ``wait_for_completion``, ``deferrable``, ``poll_interval`` (default 15 s), ``timeout`` (default
    3600 s). Returns ``{"asset_id", "url", "jobs"|"tasks": {stem: id}, "outputs": {stem: path},
    "files": {stem: [paths]}, "cost"}`` (a list of those for a list of sources, the cost then in XCom key
    ``cost``); local paths are plain paths. Cost and ``max_cost``: see operators/audioshake_cost.py.
    """

    status_check = SEPARATION_STATUS
    state_key = "audioshake_separation"
    default_poll_interval: ClassVar[float] = 15.0
    operator_extra_links = (AudioShakeLink(),)
    template_fields: Sequence[str] = (
        "source", "destination", "stems", "format", "lyrics_format", "residual", "language", "source_name",
        "job_options", "write_destination",
    )  # fmt: skip
    template_fields_renderers = {"job_options": "json", "write_destination": "json"}
    ui_color = "#f2e6ff"

    def __init__(
        self,
        *,
        source: Any,
        destination: Any,
        stems: Sequence[str] | str = DEFAULT_STEMS,
        format: str = "wav",  # noqa: A002 - the API's name
        lyrics_format: str = "json",
        residual: bool | None = None,
        language: str | None = None,
        source_name: str | None = None,
        job_options: dict[str, Any] | None = None,
        write_destination: dict[str, Any] | None = None,
        recreate_on_lost_answer: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.destination = destination
        self.stems = list(stems) if isinstance(stems, tuple) else stems
        self.format = format
        self.lyrics_format = lyrics_format
        self.residual = residual
        self.language = language
        self.source_name = source_name
        self.job_options = job_options
        self.write_destination = write_destination
        self.recreate_on_lost_answer = check_flag("recreate_on_lost_answer", recreate_on_lost_answer)
        for argument, check in ARGUMENT_CHECKS.items():  # at parse time when known, again after rendering
            self.check_argument(argument, check)

    # ---- validation ---------------------------------------------------------------------------
    def validate(self) -> None:
        """After rendering: every input against the connection's API, before any request."""
        backend = self.hook.backend
        self._formats = self.formats(backend.name)
        self._sources = labelled_sources(as_sources(self.source), self.source_name)
        for kind, value, _ in self._sources:
            if kind == "url":
                backend.validate_url_source(value)
        self._out_dir = ensure_writable_destination(self.destination)
        backend.validate_work(self._work({"asset_id": "x" * 8}, ""))

    def formats(self, api: str) -> dict[str, str]:
        """``{stem: output format}`` of the rendered arguments for ``api``."""
        return stem_formats(model_list(self.stems), api, audio_format=self.format, lyrics_format=self.lyrics_format)

    def _work(self, source: dict[str, Any], marker: str) -> WorkRequest:
        options = dict(self.job_options or {})
        return WorkRequest(source=source, formats=self._formats, options=options, residual=self.residual,
                           language=self.language, marker=marker, recreate_on_lost_answer=self.recreate_on_lost_answer,
                           write_destination=self.write_destination)

    # ---- lifecycle: what differs ---------------------------------------------------------------
    def submit(self, context: Context, previous: dict[str, Any] | None) -> dict[str, Any]:
        """Upload each source once and create the work its stems lack; the ledger is saved before each create."""
        backend = self.hook.backend
        store = context.get("task_state_store") if self.durable else None  # type: ignore[call-overload]
        ledger: Any = store.get(LEDGER_KEY) if store is not None else None
        if not (isinstance(ledger, dict) and ledger.get("api") == backend.name):
            ledger = previous if isinstance(previous, dict) and previous.get("api") == backend.name else None
        entries = ledger.get("sources") if isinstance(ledger, dict) else None
        old = {e.get("label"): e for e in (entries if isinstance(entries, list) else []) if isinstance(e, dict)}
        record: dict[str, Any] = {"api": backend.name, "sources": []}

        def save(_: Any = None) -> None:
            if store is not None:
                store.set(LEDGER_KEY, record)

        for kind, value, label in self._sources:
            entry = dict(old.get(label) or {"label": label})
            entry["units"] = backend.reusable({s: i for s, i in (entry.get("units") or {}).items() if s in self._formats})
            record["sources"].append(entry)
            marker = f"airflow:{job_marker(context)}/{label}"
            if not (entry.get("asset_id") or entry.get("url")):
                journal = AttemptJournal(store, f"{UPLOAD_JOURNAL_KEY}/{label}")
                found = obtain_journalled(backend, journal, kind, value, name=self.source_name, marker=marker,
                                          recreate_on_lost_answer=self.recreate_on_lost_answer)
                entry.update(asset_id=found.get("asset_id"), url=redact_url(found["url"]) if found.get("url") else None)
                save()
            source = {"asset_id": entry.get("asset_id"), "url": value if entry.get("url") else None}
            backend.submit(self._work(source, marker), entry, save)
        return record

    def find_existing(self, context: Context) -> dict[str, Any] | None:
        """Without a stored record (Airflow < 3.3): the work an earlier try created, when the API can list it."""
        backend = self.hook.backend
        record: dict[str, Any] = {"api": backend.name, "sources": []}
        for _, _, label in self._sources:
            units = backend.find_work(f"airflow:{job_marker(context)}/{label}", list(self._formats))
            if not units:
                return None
            record["sources"].append({"label": label, "units": units})
        return record

    def target(self, record: dict[str, Any]) -> dict[str, Any]:
        """The status target: every job/task id of every source, labelled ``<source>/<stem>``."""
        units = {f"{e['label']}/{stem}": ident for e in record["sources"] for stem, ident in e.get("units", {}).items()}
        return separation_target(**{record["api"]: units}, wait_all=True)

    def describe(self, record: dict[str, Any] | None = None) -> str:
        """How logs and errors name the separation: the API and the ids per source."""
        if record is None:
            return "AudioShake separation"
        units = {e["label"]: e.get("units", {}) for e in record.get("sources", [])}
        return f"AudioShake {record.get('api')} {units}"

    def announce(self, record: dict[str, Any], context: Context) -> None:
        """Push ``asset_id`` and the job/task ids (per source) and the dashboard link before waiting."""
        sources = record.get("sources", [])
        self.push(context, "asset_id", sources[0].get("asset_id") if len(sources) == 1 else [s.get("asset_id") for s in sources])
        units = [s.get("units", {}) for s in sources]
        self.push(context, record["api"], units[0] if len(units) == 1 else units)
        self.push_link(context, AudioShakeLink, DASHBOARD_URL)

    def finish(self, record: dict[str, Any], result: PollResult | None, context: Context) -> Any:
        """Download every stem of every source into ``destination``; returns the ids and ``outputs`` paths."""
        backend = self.hook.backend
        results = []
        for entry in record["sources"]:
            out: dict[str, Any] = {"asset_id": entry.get("asset_id"), "url": entry.get("url"),
                                   record["api"]: dict(entry.get("units", {}))}
            if result is not None:
                out.update(self._download(backend, entry, self._claim_folder(entry["label"], context)))
            results.append(out)
        return results if many_results(self.source) else results[0]

    def report(self, record: dict[str, Any], output: Any) -> None:
        """Lineage: each source (file, URL or asset) -> its stem files (the tasks/jobs until downloaded)."""
        report = self.task_report
        lineage.add_datasets(report.inputs, *(source_dataset(*classify_source(s)) for s in as_sources(self.source)))
        units = {e.get("label"): dict(e.get("units") or {}) for e in record.get("sources", [])}
        report.facts.update(api=record.get("api"), asset_ids=[e.get("asset_id") for e in record.get("sources", [])],
                            **{"tasks" if record.get("api") == "tasks" else "jobs": units})
        if output is None:
            return
        results = output if isinstance(output, list) else [output]
        lineage.add_paths(report.outputs, [r.get("files") for r in results])
        if not any(r.get("files") for r in results):  # not waited for: the sensor takes it from here
            ids = sorted({str(i) for u in units.values() for i in u.values()})
            lineage.add_datasets(report.outputs, *(lineage.audioshake_task(i) for i in ids))

    def summarize(self, record: dict[str, Any], output: Any) -> Sequence[str]:
        """Each stem and where it was written, for the summary line."""
        items = output if isinstance(output, list) else [output]
        return [f"{stem}: {path}" for item in items for stem, path in (item.get("outputs") or {}).items()]

    # ---- downloads ------------------------------------------------------------------------------
    def _claim_folder(self, label: str, context: Context) -> Any:
        """``destination/<label>``, or ``destination/<label>-<hash of this task instance>`` when that folder
        already exists: the outputs of another mapped instance, task or run with a same-named source are
        never overwritten (a local folder is claimed atomically; object stores have no such claim). The
        claim is kept in ``task_state_store`` (3.3+), so every try of this task instance writes to one place."""
        root = to_storage_path(self.destination)
        store = self.state_store(context)
        claims = store.get(FOLDERS_KEY) if store is not None else None
        claims = claims if isinstance(claims, dict) else {}
        name = claims.get(label)
        if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
            name = label
            if not claim_folder(root / label):
                name = f"{label}-{hashlib.sha256(job_marker(context).encode()).hexdigest()[:10]}"
                self.log.info("%s already holds other outputs: writing to %s instead", output_location(root / label), name)
            if store is not None:
                store.set(FOLDERS_KEY, {**claims, label: name})
        return root / name

    def _download(self, backend: AudioShakeApi, entry: dict[str, Any], folder: Any) -> dict[str, Any]:
        formats = self.formats(backend.name)
        outputs: dict[str, str] = {}
        files: dict[str, list[str]] = {}
        failures: list[str] = []
        used: set[str] = set()
        for stem, outcome in backend.outcomes(entry.get("units", {})).items():
            if outcome.state != "success" or not outcome.outputs:
                failures.append(f"{stem}: {outcome.message if outcome.state != 'success' else 'no output link'}")
                continue
            paths = []
            for item in outcome.outputs:
                name = distinct_name(item.get("name"), f"{stem}.{formats.get(stem, 'bin')}", used)
                self.log.info("Downloading %s output %s from %s", stem, name, redact_url(str(item["link"])))
                paths.append(output_location(self.hook.download_asset(str(item["link"]), folder / name)))
            files[stem] = paths
            main = [p for p in paths if os.path.splitext(os.path.basename(p))[0].split("-")[0] == stem]
            outputs[stem] = (main or paths)[0]
        if failures:
            raise JobFailedError(f"AudioShake {entry['label']}: {'; '.join(failures)} (downloaded: {list(outputs)})",
                                 details={"failed": failures, "outputs": outputs})
        return {"outputs": outputs, "files": files}


def source_dataset(kind: str, value: Any) -> Any:
    """The lineage dataset of a source: its file or URL, or the AudioShake asset it names."""
    return lineage.audioshake_asset(value) if kind == "asset" else lineage.path_dataset(value)


def distinct_name(name: Any, fallback: str, used: set[str]) -> str:
    """A safe file name, distinct for distinct API names and not yet in ``used`` (case-insensitive):
    ``x.wav``, ``x_2.wav``, ... (the result is added to ``used``)."""
    base = distinct_file_name(name, fallback) if name not in (None, "") else fallback
    stem, ext = os.path.splitext(base)
    candidate, n = base, 2
    while candidate.lower() in used:
        candidate, n = f"{stem}_{n}{ext}", n + 1
    used.add(candidate.lower())
    return candidate


__all__ = [
    "AudioShakeBaseOperator",
    "AudioShakeJobLink",
    "AudioShakeLink",
    "AudioShakeStemSeparationOperator",
    "AudioShakeUploadOperator",
]
