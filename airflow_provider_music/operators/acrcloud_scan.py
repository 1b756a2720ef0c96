"""The ACRCloud copyright check: scan audio files against ACRCloud Music and/or your buckets.

The scan is checked against exactly the ``buckets`` and ``engine`` asked for: the container is named after
a hash of that configuration, found or created, and verified
(:meth:`~airflow_provider_music.hooks.acrcloud_fs.AcrCloudFileScanningMixin.ensure_scan_container`); a
container that scans anything else fails the task before any upload. Every result names the file it
scanned and the buckets it was checked against.

With ``ai_detection=True`` the container also detects AI-generated music (the flag is part of the
configuration, verified like the buckets before and after the scan) and every result names the AI verdict,
its probability and the likely source; an unreadable AI result fails the task (never "not AI"), and
``fail_on_ai`` fails it when a file's AI probability reaches ``ai_threshold``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_music.contract.acrcloud import MAX_PER_PAGE, to_int
from airflow_provider_music.contract.acrcloud_ai import (
    DEFAULT_AI_THRESHOLD,
    ai_summary,
    check_ai_threshold,
    require_ai_verdict,
)
from airflow_provider_music.contract.acrcloud_fs import (
    FS_DATA_TYPES,
    ScanConfig,
    ai_flag_problem,
    container_buckets,
    container_id_of,
    scan_verdict,
)
from airflow_provider_music.core import (
    InvalidInputError,
    JobFailedError,
    MusicApiError,
    PollResult,
    check_audio_content,
    lineage,
    redact_url,
    resolve_source,
    to_storage_path,
)
from airflow_provider_music.core.errors import LostAnswerError, answer_lost
from airflow_provider_music.core.validation import flatten_paths, many_results
from airflow_provider_music.hooks.acrcloud import ScanContainerMismatchError
from airflow_provider_music.operators.acrcloud import (
    AcrCloudBaseOperator,
    AcrCloudConsoleLink,
    console_url,
    is_retry,
    known,
)
from airflow_provider_music.operators.base import MusicJobOperator, job_marker
from airflow_provider_music.operators.cost import AcrCloudCost
from airflow_provider_music.triggers.acrcloud import SCAN_STATUS, scan_target

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


def flatten_sources(value: Any) -> list[Any]:
    """One path, a list of paths, a download result (``{"files": [...]}``) or a mapped download's list
    of them -> a flat list (order kept); nothing for an unset source."""
    if value is None or value == "":
        return []
    return flatten_paths(value, argument="source")


def _display(value: Any) -> str | None:
    """A path or URL fit for logs and XCom (URLs without query string or credentials)."""
    if value is None or value == "":
        return None
    text = str(value)
    return redact_url(text) if "://" in text else text


class AcrCloudScanFileOperator(AcrCloudCost, AcrCloudBaseOperator, MusicJobOperator):
    """Scan audio against ACRCloud Music and/or your buckets (the copyright check for generated songs).

    :param source: the audio: a path / ``ObjectStoragePath`` / URL-style path, or a list of them (a mapped
        download's output); or ``url`` with ``data_type="audio_url"``.
    :param buckets: bucket ids or names to check against (default ``["ACRCloud Music"]``); with ``region``,
        ``engine`` (1 fingerprinting, 2 cover songs, 3 both) and ``audio_type`` they select the container,
        named ``<container_name>-<hash of the configuration>``.
    :param container_id: an existing container instead; verified against ``buckets``/``engine`` when
        ``buckets`` is given, otherwise its own buckets are reported.
    :param fail_on_match: fail the task when anything matched.
    :param ai_detection: also detect AI-generated music (part of the container configuration: a container
        without it is never used, nor one with it for a scan without it).
    :param ai_threshold: the AI probability (0-1) from which a file's verdict is ``"ai"``. Default ``None``: the
        service's own ``prediction`` of ``ai`` or a probability >= 0.5 (either one) makes it ``"ai"``.
    :param fail_on_ai: fail the task when a file's verdict is ``"ai"`` (needs ``ai_detection=True``).

    Returns, per scanned file, ``{"source", "name", "file_id", "container_id", "container_name", "buckets",
    "engine", "state", "matched", "music", "custom_files", "cover_songs"}`` (with ``ai_detection``, also
    ``"ai_verdict"`` (``"ai"``/``"human"``), ``"ai_probability"``, ``"ai_likely_source"``, ``"ai_prediction"``
    and ``"ai_detection"``, the readable entries): one dict for one source, a list for a list of sources.
    """

    status_check = SCAN_STATUS
    state_key = "acrcloud_scan_file"
    default_poll_interval = 15.0
    default_timeout = 3600.0
    template_fields: Sequence[str] = ("source", "url", "container_id", "buckets", "name")
    operator_extra_links = (AcrCloudConsoleLink(),)
    _stale: frozenset[str] = frozenset()

    def __init__(
        self, *, source: Any = None, source_conn_id: str | None = None, url: str | None = None,
        data_type: str | None = None, container_id: Any = None, buckets: Sequence[Any] | None = None,
        region: str = "eu-west-1", container_name: str | None = None, engine: int = 1, audio_type: str = "linein",
        name: str | None = None, fail_on_match: bool = False, ai_detection: bool = False, fail_on_ai: bool = False,
        ai_threshold: float | None = None, **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for argument, flag in (("ai_detection", ai_detection), ("fail_on_ai", fail_on_ai)):
            if not isinstance(flag, bool):
                raise InvalidInputError(f"{argument} must be True or False, got {str(flag)[:40]!r}")
        if fail_on_ai and not ai_detection:
            raise InvalidInputError("fail_on_ai=True needs ai_detection=True (without it no scan says what is AI)")
        self.ai_detection, self.fail_on_ai = ai_detection, fail_on_ai
        self.ai_threshold = check_ai_threshold(ai_threshold)
        self.source, self.source_conn_id, self.url = source, source_conn_id, url
        self.data_type = data_type or ("audio_url" if url and not source else "audio")
        self.container_id, self.buckets, self.region = container_id, buckets, region
        self.container_name, self.engine, self.audio_type = container_name, engine, audio_type
        self.name, self.fail_on_match = name, fail_on_match
        if self.data_type not in FS_DATA_TYPES:
            raise InvalidInputError(f"data_type must be one of {', '.join(FS_DATA_TYPES)}, got {self.data_type!r}")
        if (self.buckets is None or known(self.buckets)) and (self.container_id in (None, "") or self.buckets is not None):
            self._config()

    def _config(self, region: Any = None) -> ScanConfig:
        return ScanConfig.build(
            region=region or self.region, buckets=self.buckets, engine=self.engine, audio_type=self.audio_type,
            ai_detection=self.ai_detection,
        )

    def _sources(self) -> list[Any]:
        items = flatten_sources(self.source)
        return [to_storage_path(s, self.source_conn_id) if isinstance(s, str) and "://" in s else s for s in items]

    def validate(self) -> None:
        """The sources (or ``url``) the ``data_type`` needs, and the scan configuration, before any request."""
        if self.data_type in ("audio", "fingerprint") and not self._sources():
            raise InvalidInputError("source is required to scan a file (or pass url= with data_type='audio_url')")
        if self.data_type in ("audio_url", "platforms") and not self.url:
            raise InvalidInputError(f"url is required for data_type={self.data_type!r}")
        if self.container_id in (None, "") or self.buckets is not None:
            self._config()
        if self.data_type in ("audio", "fingerprint"):  # every file is checked before any request
            for source in self._sources():
                upload = resolve_source(source, argument="source")
                if self.data_type == "audio":
                    check_audio_content(upload)

    def _container(self) -> dict[str, Any]:
        """The verified container: exactly the asked buckets and engine, or the task fails here."""
        container = scan_container(self.hook, container_id=self.container_id, buckets=self.buckets,
                                   config_for=self._config, container_name=self.container_name,
                                   ai_detection=self.ai_detection)
        self.log.info(
            "Scanning in container %s (%r, region %s, engine %s%s) against buckets %s", container.get("id"),
            container.get("name"), container.get("region"), container.get("engine"),
            ", AI detection on" if self.ai_detection else "", self._bucket_names(container),
        )
        return container

    @staticmethod
    def _bucket_names(container: dict[str, Any]) -> list[Any]:
        return bucket_names(container)

    def _items(self, context: Context) -> list[tuple[Any, str]]:
        """(source, scan name) per file; names carry the task marker so a retry finds earlier uploads."""
        marker = job_marker(context)
        sources = self._sources() if self.data_type in ("audio", "fingerprint") else [None]
        out = []
        for index, source in enumerate(sources):
            base = os.path.basename(str(source or self.url or "scan").split("?")[0])
            suffix = f" #{index}" if len(sources) > 1 else ""
            out.append((source, f"{self.name}{suffix}" if self.name else f"{base} [{marker}]{suffix}"))
        return out

    def _upload(self, cid: int, region: Any, source: Any, name: str, done: dict[str, str]) -> str:
        if name in done:
            self.log.info("Scan %r was uploaded by an earlier try (file %s); not uploading again", name, done[name])
            return done[name]
        try:
            record = self.hook.upload_fs_file(cid, data_type=self.data_type, source=source, url=self.url, name=name,
                                              region=region)
        except MusicApiError as exc:
            if not answer_lost(exc):
                raise
            lost = LostAnswerError.after(
                f"scan {name!r} of container {cid}", check=f"the files of container {cid} in the ACRCloud console",
                cause=exc, note="Not uploaded again.",
            )
            if self.name:  # a fixed name also names earlier runs' scans: a file found by it may be another audio
                raise lost from None
            self.log.warning("Scan upload answer lost (%s); looking for the file before uploading again", exc)
            found = self._uploaded(cid, region, name, exclude=self._stale).get(name)
            if not found:
                raise lost from None
            return found
        return str(record["id"])

    def _uploaded(self, cid: int, region: Any, search: str, exclude: frozenset[str] = frozenset()) -> dict[str, str]:
        """Scans named with ``search`` (the run's marker); a name held by two files is no proof of either."""
        page = self.hook.list_fs_files(cid, search=search, per_page=MAX_PER_PAGE, region=region)
        out: dict[str, str] = {}
        twice: set[str] = set()
        for f in page["data"]:
            fid, name = f.get("id"), f.get("name")
            if fid is None or not isinstance(name, str) or str(fid) in exclude:
                continue
            if name in out and out[name] != str(fid):
                twice.add(name)
            out[name] = str(fid)
        return {n: i for n, i in out.items() if n not in twice}

    def submit(self, context: Context, previous: dict[str, Any] | None) -> dict[str, Any]:
        """Upload each source to the scan container (created or verified first); an earlier try's scans
        are looked up by marker, never uploaded twice, and a failed job's scans are not reused."""
        container = self._container()
        cid, region = container_id_of(container), container.get("region")
        items = self._items(context)
        retry = previous is not None or is_retry(context)
        # the scans of a failed earlier job are not reused (nor taken for a lost upload's answer)
        self._stale = frozenset(str(f.get("file_id")) for f in (previous or {}).get("files", ()))
        done = self._uploaded(cid, region, job_marker(context), exclude=self._stale) if retry and not self.name else {}
        files = [{"file_id": self._upload(cid, region, source, name, done), "name": name, "source": _display(source)}
                 for source, name in items]
        return {
            "container_id": cid, "region": region, "container_name": container.get("name"),
            "engine": to_int(container.get("engine")), "buckets": self._bucket_names(container), "files": files,
            "many": self.source is not None and many_results(self.source),
        }

    def find_existing(self, context: Context) -> dict[str, Any] | None:
        """On a retry with a container this operator names itself: the scans an earlier try uploaded, or None."""
        if self.container_id not in (None, "") or self.name or not is_retry(context):
            return None
        config = self._config()
        name = config.container_name(self.container_name) if self.container_name else config.container_name()
        containers = self.hook.find_scan_containers(name)
        if not containers:
            return None
        container = self.hook.verify_scan_container(containers[0], config)
        cid, region = container_id_of(container), container.get("region")
        uploaded = self._uploaded(cid, region, job_marker(context))
        items = self._items(context)
        if not items or any(n not in uploaded for _, n in items):
            return None
        return {
            "container_id": cid, "region": region, "container_name": container.get("name"),
            "engine": to_int(container.get("engine")), "buckets": self._bucket_names(container),
            "files": [{"file_id": uploaded[n], "name": n, "source": _display(s)} for s, n in items],
            "many": self.source is not None and many_results(self.source),
        }

    def target(self, record: dict[str, Any]) -> dict[str, Any]:
        """The status target: the scanned files in their container (and region)."""
        return scan_target(record["container_id"], [f["file_id"] for f in record["files"]], record.get("region"))

    def announce(self, record: dict[str, Any], context: Context) -> None:
        """Push ``container_id``, ``file_id`` (a list for many sources) and the console link."""
        self.push(context, "container_id", record["container_id"])
        ids = [f["file_id"] for f in record["files"]]
        self.push(context, "file_id", ids if record.get("many") else ids[0])
        self.push_link(context, AcrCloudConsoleLink, console_url(self.hook, "fs-containers", record["container_id"]))

    def finish(self, record: dict[str, Any], result: PollResult | None, context: Context) -> Any:
        """The results per source (matches, cover songs, the AI verdict when asked), after checking the
        container still scans what was asked; ``fail_on_*`` rules fail the task here."""
        verify_container_after(self.hook, record["container_id"], container_id=self.container_id,
                               buckets=self.buckets, config_for=self._config, ai_detection=self.ai_detection)
        out = scan_summaries(self.hook, record, ai_detection=self.ai_detection, ai_threshold=self.ai_threshold)
        for summary in out:
            summary["url"] = _display(self.url)
        self.report(record, out)  # the verdicts reach lineage even when a fail_on_* rule fails the task
        self._gate(out)
        return out if record.get("many") else out[0]

    def report(self, record: dict[str, Any], output: Any) -> None:
        """Lineage: each scanned file (or URL) -> its scan result in the container; the verdicts as facts."""
        cid = record["container_id"]
        for item in record["files"]:
            lineage.add_datasets(self.task_report.inputs, lineage.path_dataset(item.get("source")))
            lineage.add_datasets(self.task_report.outputs, lineage.acrcloud_container_file(cid, item["file_id"]))
        self.task_report.facts.update(container_id=cid, region=record.get("region"), engine=record.get("engine"),
                                      buckets=record.get("buckets"), file_ids=[f["file_id"] for f in record["files"]])
        if output is not None:
            self.task_report.facts["verdicts"] = [scan_facts(s) for s in (output if isinstance(output, list) else [output])]

    def _gate(self, out: list[dict[str, Any]]) -> None:
        """``fail_on_match`` / ``fail_on_ai``: one error naming every reason (and the files)."""
        matched, generated = gated(out, fail_on_match=self.fail_on_match, fail_on_ai=self.fail_on_ai)
        reasons = []
        if matched:
            n = sum(len(s["music"]) + len(s["custom_files"]) + len(s["cover_songs"]) for s in matched)
            reasons.append(f"Scan of {matched[0]['source'] or matched[0]['name']} matched {n} known recording(s)")
        if generated:
            top = generated[0]
            reasons.append(
                f"{len(generated)} file(s) detected as AI-generated ({self.ai_rule()}), e.g. "
                f"{top['source'] or top['name']}: {top['ai_probability']:.2f}, likely source {top['ai_likely_source']}"
            )
        if reasons:
            raise JobFailedError("; ".join(reasons), details={
                "matched": [s["file_id"] for s in matched], "ai_generated": [s["file_id"] for s in generated]})

    def ai_rule(self) -> str:
        """What made a file "ai" (for messages)."""
        return ai_rule(self.ai_threshold)

    def summarize(self, record: dict[str, Any], output: Any) -> Sequence[str]:
        """Matches per source (and the AI verdict), for the summary line."""
        items = output if isinstance(output, list) else [output]
        return [
            f"{s['source'] or s['url'] or s['name']}: "
            f"{len(s['music']) + len(s['custom_files']) + len(s['cover_songs'])} match(es) against {s['buckets']}"
            + (f"; AI: {s['ai_verdict']} ({s['ai_probability']:.2f}, likely source {s['ai_likely_source']})"
               if "ai_verdict" in s else "")
            for s in items
        ]


# ---- shared with the catalog sync's scan step (operators/acrcloud_sync_scan.py) -----------------------------
def bucket_names(container: dict[str, Any]) -> list[Any]:
    """The names (else ids) of the buckets a container scans against."""
    return [b.get("name") or b.get("id") for b in container_buckets(container)]


def check_ai_flag(container: dict[str, Any], ai_detection: bool) -> None:
    """An explicit container without ``buckets``: only an AI scan needs its ``ai_detection`` flag on."""
    problem = ai_flag_problem(container, True) if ai_detection else None
    if problem:
        raise ScanContainerMismatchError(
            f"file-scanning container {container.get('id')} ({container.get('name')!r}): {problem}. "
            "It gives no AI verdict: pass a container with ai_detection on, or buckets= to get one.",
            request_may_have_been_processed=False,
        )


def scan_container(
    hook: Any, *, container_id: Any, buckets: Any, config_for: Callable[[Any], ScanConfig],
    container_name: str | None, ai_detection: bool,
) -> dict[str, Any]:
    """The verified container of a scan: ``container_id`` (checked against ``config_for(its region)`` when
    ``buckets`` is given, else only its AI flag when ``ai_detection``), or the one named after the
    configuration (found or created, then verified). A container that scans anything else raises
    :class:`ScanContainerMismatchError` before any upload."""
    if container_id not in (None, ""):
        container: dict[str, Any] = hook.get_fs_container(container_id)
        if buckets is not None:
            hook.verify_scan_container(container, config_for(container.get("region")))
        else:
            check_ai_flag(container, ai_detection)
        return container
    config = config_for(None)
    name = config.container_name(container_name) if container_name else None
    return dict(hook.ensure_scan_container(config, name=name))


def verify_container_after(
    hook: Any, cid: Any, *, container_id: Any, buckets: Any, config_for: Callable[[Any], ScanConfig],
    ai_detection: bool,
) -> None:
    """When the scan is done: does the container still scan what was asked (a configuration, or AI)?"""
    configured = container_id in (None, "") or buckets is not None
    if not configured and not ai_detection:
        return
    container = hook.get_fs_container(cid)
    if configured:
        hook.verify_scan_container(container, config_for(container.get("region")))
    else:
        check_ai_flag(container, ai_detection)


def scan_summaries(
    hook: Any, record: dict[str, Any], *, ai_detection: bool, ai_threshold: float | None,
) -> list[dict[str, Any]]:
    """The verdict of each file of a scan ``record`` (``container_id``, ``region``, ``engine``, ``files`` of
    ``{"file_id", "name", "source"}``): copyright matches, and with ``ai_detection`` the AI verdict (an
    unreadable one fails closed). A file gone from the container fails."""
    cid, region = record["container_id"], record.get("region")
    ids = [f["file_id"] for f in record["files"]]
    by_id = {str(r.get("id")): r for r in hook.get_fs_files(cid, ids, region=region)} if ids else {}
    out = []
    for item in record["files"]:
        scanned = by_id.get(item["file_id"])
        if scanned is None:
            raise JobFailedError(f"scan file {item['file_id']} is gone from container {cid}")
        summary = scan_verdict(scanned, container_id=cid, engine=record.get("engine"))
        if ai_detection:
            summary.update(ai_summary(scanned, threshold=ai_threshold))
            require_ai_verdict(summary, where=f"scan file {item['file_id']} ({item.get('source') or item['name']}) "
                                              f"in container {cid}")
            del summary["ai_problem"]
        summary.update({"container_id": cid, "source": item.get("source"), "name": item["name"],
                        **{k: record.get(k) for k in ("container_name", "buckets", "engine")}})
        out.append(summary)
    return out


def gated(out: list[dict[str, Any]], *, fail_on_match: bool, fail_on_ai: bool) -> tuple[list[Any], list[Any]]:
    """The results that fail a ``fail_on_match`` gate and those that fail a ``fail_on_ai`` gate."""
    matched = [s for s in out if s["matched"]] if fail_on_match else []
    generated = [s for s in out if s.get("ai_verdict") == "ai"] if fail_on_ai else []
    return matched, generated


def ai_rule(threshold: float | None) -> str:
    """What made a file "ai" (for messages)."""
    if threshold is None:
        return f"the service's prediction 'ai' or ai_probability >= {DEFAULT_AI_THRESHOLD:g}"
    return f"ai_probability >= {threshold:g}"


def scan_facts(summary: dict[str, Any]) -> dict[str, Any]:
    """The copyright and AI verdict of one scan result, for the lineage run facet."""
    matches = sum(len(summary.get(k) or []) for k in ("music", "custom_files", "cover_songs"))
    out = {"file_id": summary.get("file_id"), "source": summary.get("source") or summary.get("url") or summary.get("name"),
           "copyright": "match" if summary.get("matched") else "no match", "matches": matches}
    out.update({k: summary[k] for k in ("ai_verdict", "ai_probability", "ai_likely_source") if k in summary})
    return out


__all__ = [
    "AcrCloudScanFileOperator", "ai_rule", "bucket_names", "check_ai_flag", "flatten_sources", "gated", "scan_container",
    "scan_facts", "scan_summaries", "verify_container_after",
]
