"""Operators of the Mureka (useapi.net) integration: generate, edit (extend/regenerate/edit/remix), stems,
lyrics, upload, download.

Generation, edits and stems extractions are paid and not idempotent. They run on the operator base's lifecycle
(:class:`~airflow_provider_music.operators.base.MusicJobOperator`), always with ``async: true``: the job record
goes to ``task_state_store`` (Airflow 3.3+) right after the create, and every create carries a ``replyRef``
marker of the task instance. A retried or resumed task reconnects to its job instead of paying again: from the
stored record, or (older Airflow) by finding the marker in the echoed request of the running jobs (GET jobs,
then GET jobs/{jobid}). A create whose answer was lost is looked up the same way and never re-sent blindly;
a finished job has left GET jobs, so then GET music decides: no song made since the window opened -> nothing
was paid, submit; a song -> fail with "may have been created".
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_music.contract import mureka as mk
from airflow_provider_music.contract.mureka_cost import SONG_OPERATIONS, song_account
from airflow_provider_music.core import lineage
from airflow_provider_music.core.errors import CLOCK_SKEW, InvalidInputError, MusicApiError, answer_lost
from airflow_provider_music.core.files import (
    distinct_file_name,
    ensure_writable_destination,
    output_location,
    to_storage_path,
)
from airflow_provider_music.core.parsing import PollResult
from airflow_provider_music.hooks.mureka import MurekaHook, MurekaLostCreateError
from airflow_provider_music.operators import mureka_cost as cost
from airflow_provider_music.operators.base import (
    MusicJobOperator,
    MusicLink,
    MusicOperator,
    created_after,
    is_retry,
    is_templated,
    job_marker,
)
from airflow_provider_music.operators.resume import look_for_lost_job
from airflow_provider_music.triggers.mureka import JOB_STATUS, job_target

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

SONG_URL_XCOM_KEY = "mureka_song_url"
APP_URL = "https://www.mureka.ai/"


class MurekaSongLink(MusicLink):
    """Opens the song: the first song's public ``mp3_url`` (no query string), or mureka.ai while none exists."""

    name = "Mureka song"
    key = SONG_URL_XCOM_KEY


def song_url(songs: Any) -> str:
    """The link of a list of song summaries: the first song's ``mp3_url``, else mureka.ai."""
    first = songs[0] if isinstance(songs, list) and songs and isinstance(songs[0], Mapping) else {}
    url = first.get("mp3_url")
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else APP_URL


def _check_now(argument: str, value: Any, check: Any) -> None:
    """Check a non-templated argument when the DAG file is parsed (templated ones: after rendering)."""
    if value is not None and not is_templated(value):
        check(argument, value)


class MurekaBaseOperator(MusicOperator):
    """Base of every Mureka operator and sensor: the ``mureka_conn_id`` argument and the typed hook.

    :param mureka_conn_id: the Mureka connection (templated; default ``mureka_default``). Another API's
        connection argument, or ``conn_id=``, fails with an error naming this one.
    """

    hook_class = MurekaHook
    hook: MurekaHook

    def __init__(self, *, mureka_conn_id: str = MurekaHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(mureka_conn_id=mureka_conn_id, **kwargs)


class _MurekaJobOperator(cost.JobCost, MurekaBaseOperator, MusicJobOperator):
    """What generate, edit and stems share: the replyRef marker, crash-safe create, the job record and output."""

    status_check = JOB_STATUS
    operator_extra_links = (MurekaSongLink(),)
    default_poll_interval = 15.0
    default_timeout = 1800.0
    #: how a "may have been created" error names the work
    work = "A Mureka song (Gold spent)"

    def __init__(self, *, reply_url: str | None = None, reply_ref: str | None = None,
                 resubmit_if_lost: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reply_url, self.reply_ref = reply_url, reply_ref
        self.resubmit_if_lost = bool(resubmit_if_lost)

    def request(self, reply_ref: str | None) -> dict[str, Any]:
        """The checked request body (no I/O): ``reply_ref`` is None for validation only."""
        raise NotImplementedError

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST the body; return the job summary."""
        raise NotImplementedError

    def validate(self) -> None:
        self.request(None)

    def marker(self, context: Context) -> str:
        return f"airflow:{job_marker(context)}" if mk.unset(self.reply_ref) else str(self.reply_ref)

    def record_of(self, job: Mapping[str, Any], ref: str, sent_at: float) -> dict[str, Any]:
        return {"jobid": job.get("jobid"), "account": job.get("account"), "reply_ref": ref, "sent_at": sent_at}

    def submit(self, context: Context, previous: dict[str, Any] | None) -> dict[str, Any]:
        ref = self.marker(context)
        body = self.request(ref)
        sent_at = time.time()
        try:  # 3.3+: the note is kept until the next create, so a later try knows one was sent
            job = self.attempts(context).send(lambda: self.create(body), keep_on_answer=True, reply_ref=ref)
        except MusicApiError as exc:
            if not answer_lost(exc):
                raise  # the API refused the request: nothing was created (the journal cleared its note)
            return self.recover(exc, body, ref, sent_at)
        return self.record_of(job, ref, sent_at)

    def recover(self, exc: MusicApiError, body: dict[str, Any], ref: str, sent_at: float) -> dict[str, Any]:
        """The create may have reached Mureka: look for its job; never re-send blindly."""
        jobid = look_for_lost_job(lambda: self.hook.find_job(ref, body, created_after=sent_at - CLOCK_SKEW))
        if jobid:
            self.log.warning("Create answer lost (%s) but job %s carries replyRef %s: using it", exc, jobid, ref)
            return {"jobid": jobid, "account": body.get("account"), "reply_ref": ref, "sent_at": sent_at}
        if self.resubmit_if_lost:
            self.log.warning("Create answer lost (%s), no job found: sending again (resubmit_if_lost=True)", exc)
            return self.record_of(self.create(body), ref, time.time())
        raise MurekaLostCreateError.after(
            self.work, cause=exc, check=f"GET jobs and GET music of the account: no running job carries replyRef {ref!r}",
            note="Not re-sending automatically to avoid paying twice (set resubmit_if_lost=True to accept that risk).",
        )

    def find_existing(self, context: Context) -> dict[str, Any] | None:
        """The job of an earlier try: running (GET jobs + replyRef), or proof that none was paid for.

        An earlier try may have paid when (3.3+) its note of a create in flight is still in ``task_state_store``
        without a job record, or (older Airflow: no store) this is a retry. A finished job leaves GET jobs, so
        then GET music decides: no song since the window opened -> submit; a song -> "may have been created"."""
        ref, journal = self.marker(context), self.attempts(context)
        note = journal.earlier()
        at = (note or {}).get("at")
        since = float(at) - CLOCK_SKEW if isinstance(at, (int, float)) else created_after(context)
        body = self.request(ref)
        jobid = self.hook.find_job(ref, body, created_after=since)
        if jobid:
            return {"jobid": jobid, "reply_ref": ref}
        earlier = note is not None if journal.store is not None else is_retry(context)
        if earlier and not self.resubmit_if_lost:
            self.check_nothing_paid(body, ref, since)
        return None

    def check_nothing_paid(self, body: dict[str, Any], ref: str, since: float | None) -> None:
        """Raise :class:`MurekaLostCreateError` when an account made a song since ``since``."""
        account = body.get("account") if isinstance(body.get("account"), str) else None
        made = self.hook.songs_since(since, account)
        if not made:
            self.log.info("No running job with replyRef %s and no song since the window opened: submitting", ref)
            return
        where = "; ".join(f"account {a} (songs {', '.join(ids[:3])})" for a, ids in made.items())
        raise MurekaLostCreateError.after(
            f"{self.work} of an earlier try of this task", check=(
                f"GET music of {where}: the earlier try's job with replyRef {ref!r} is no longer running and "
                "finished jobs cannot be told apart"),
            note="Pass its songs to MurekaDownloadOperator, or set resubmit_if_lost=True to submit again "
                 "(may pay twice).",
        )

    def target(self, record: dict[str, Any]) -> dict[str, Any]:
        return job_target(record["jobid"])

    def announce(self, record: dict[str, Any], context: Context) -> None:
        self.push(context, "jobid", record.get("jobid"))
        self.push_link(context, MurekaSongLink, APP_URL)  # the song's own link once it exists

    def finish(self, record: dict[str, Any], result: PollResult | None, context: Context) -> dict[str, Any]:
        if result is None:
            return {"jobid": record["jobid"], "account": record.get("account"), "status": "created", "songs": [],
                    "song_ids": []}
        output = dict(result.payload)
        self.push_link(context, MurekaSongLink, song_url(output.get("songs")))
        return output

    def summarize(self, record: dict[str, Any], output: Any) -> Sequence[str]:
        songs = output.get("songs") if isinstance(output, Mapping) else None
        return [mk.song_line(s) for s in songs] if isinstance(songs, list) else []

    def source_song(self) -> str | int | None:
        """The song a song-based call reads (edit, stems), else None."""
        return None

    def lineage_inputs(self) -> list[Any]:
        """The Mureka objects this job reads (uploads, the source song) as datasets."""
        song = self.source_song()
        return [] if song is None else [lineage.mureka_song(song)]

    def report(self, record: dict[str, Any], output: Any) -> None:
        """Lineage: uploads / source song -> the songs made (the job while they are unknown); facts: job id,
        model, account (the job's, else the one inside the song ids), the replyRef marker."""
        report, out = self.task_report, output if isinstance(output, Mapping) else {}
        lineage.add_datasets(report.inputs, *self.lineage_inputs())
        key, model, all_stems = self.priced()
        song_ids = [*(out.get("song_ids") or [])]
        account = out.get("account") or record.get("account") or next(
            (a for a in map(song_account, [self.source_song(), *song_ids]) if a), None)
        report.facts.update(jobid=record.get("jobid"), reply_ref=record.get("reply_ref"), operation=key,
                            **({"model": model or "default"} if key in SONG_OPERATIONS else {"all_stems": all_stems}),
                            **({"account": account} if account else {}))
        if output is not None:
            self.report_output(record, out)

    def report_output(self, record: dict[str, Any], output: Mapping[str, Any]) -> None:
        """The songs made, or the stems zips written; else the stems object (no ``destination``), else the job
        while nothing is known (the job sensor takes it from there)."""
        report, song_ids, stems_id = self.task_report, [*(output.get("song_ids") or [])], output.get("stems_id")
        report.facts.update({"song_ids": song_ids} if song_ids else {}, **({"stems_id": stems_id} if stems_id else {}))
        lineage.add_datasets(report.outputs, *(lineage.mureka_song(s) for s in song_ids))
        lineage.add_paths(report.outputs, output.get("files") or [])
        if not report.outputs and (stems_id or record.get("jobid")):
            lineage.add_datasets(report.outputs, lineage.mureka_stems(stems_id) if stems_id
                                 else lineage.mureka_job(record["jobid"]))


class MurekaGenerateOperator(_MurekaJobOperator):
    """Generate two songs (``version`` 1 and 2, both paid: 24 Gold on V9.5) and wait for them.

    ``kind``: ``create`` (POST music/create: Mureka writes lyrics from ``prompt``), ``advanced``
    (POST music/create-advanced: your ``lyrics`` with ``title``, ``desc``, ``vocal_id``, ``ref_id``,
    ``motif_id``, ``vocal_gender``, ``character_id``) or ``instrumental`` (POST music/create-instrumental:
    ``prompt``, ``title``, ``ref_id``). Returns (XCom) ``{jobid, account, status, song_ids, songs: [{song_id,
    title, version, duration_s, mp3_url, cover}]}`` (URLs without query). Extra link "Mureka song".

    :param kind: ``create`` (default), ``advanced`` or ``instrumental``. Templated.
    :param prompt: style/topic (create: 3,000 characters; instrumental: 1,000). Templated.
    :param lyrics: your lyrics (advanced; 5,000 characters). Templated.
    :param model: e.g. ``V9.5`` (API default), ``V9``, ``V8``, ``O2``; sent as given (the list changes).
    :param account: the Mureka account id (default: the connection's ``account`` extra). Templated.
    :param resubmit_if_lost: when a create's answer was lost and no job carries the marker, send again
        (may pay twice). Default False: fail with "may have been created".
    """

    state_key = "mureka_generate_job"
    template_fields: Sequence[str] = ("kind", "prompt", "lyrics", "title", "desc", "vocal_id", "ref_id",
                                      "motif_id", "character_id", "account", "model", "reply_url", "reply_ref")

    def __init__(self, *, kind: str = "create", prompt: str | None = None, lyrics: str | None = None,
                 title: str | None = None, desc: str | None = None, vocal_id: Any = None, ref_id: Any = None,
                 motif_id: Any = None, vocal_gender: str | None = None, character_id: Any = None,
                 account: str | None = None, model: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _check_now("kind", kind, lambda a, v: mk.check_choice(a, v, tuple(mk.CREATE_PATHS), required=True))
        self.kind, self.prompt, self.lyrics, self.title, self.desc = kind, prompt, lyrics, title, desc
        self.vocal_id, self.ref_id, self.motif_id, self.character_id = vocal_id, ref_id, motif_id, character_id
        self.vocal_gender, self.account, self.model = vocal_gender, account, model
        _check_now("account", account, mk.check_account)
        _check_now("vocal_gender", vocal_gender, lambda a, v: mk.check_choice(a, v, mk.VOCAL_GENDERS))
        _check_now("model", model, mk.check_model)

    def request(self, reply_ref: str | None) -> dict[str, Any]:
        """The generation body for ``kind`` (every field checked); no request."""
        fields = {"prompt": self.prompt, "lyrics": self.lyrics, "title": self.title, "desc": self.desc,
                  "vocal_id": self.vocal_id, "ref_id": self.ref_id, "motif_id": self.motif_id,
                  "vocal_gender": self.vocal_gender, "character_id": self.character_id}
        return mk.build_create_body(self.kind, **fields, account=self.account, model=self.model, async_=True,
                                    reply_url=self.reply_url, reply_ref=reply_ref)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send the generation (paid); returns the job summary."""
        return self.hook.send_create(self.kind, body)

    def priced(self) -> tuple[str, Any, bool]:
        """The generation ``kind`` and ``model`` (24 Gold on V9.5/V9)."""
        return str(self.kind), self.model, True

    def lineage_inputs(self) -> list[Any]:
        """The uploads the generation reads: ``ref_id``, ``motif_id``, ``vocal_id`` (ids or upload results)."""
        ids = [v.get("id") if isinstance(v, Mapping) else v for v in (self.ref_id, self.motif_id, self.vocal_id)]
        return [lineage.mureka_upload(i) for i in ids
                if isinstance(i, (str, int)) and not isinstance(i, bool) and str(i).strip()]


class MurekaEditOperator(_MurekaJobOperator):
    """Extend, regenerate, edit or remix a song (POST music/<operation>, a paid job on the song's account).

    ``extend`` (new ``lyrics`` from the end; two songs), ``regenerate`` (from ``start_ms``; two songs; paid
    plan), ``edit`` (``start_ms``/``end_ms``/``lyrics``/``keep_melody``/``title``; one song, 20 Gold; paid
    plan; no model) or ``remix`` (``desc``/``lyrics``/``title``/``model``/``vocal_gender``; two songs).
    Returns the job summary of the new song(s).

    :param song: a song id, or a generate/edit result (song number ``song_index``). Templated.
    """

    state_key = "mureka_edit_job"
    template_fields: Sequence[str] = ("song", "lyrics", "start_ms", "end_ms", "title", "desc", "model",
                                      "reply_url", "reply_ref")
    work = "A Mureka edit (Gold spent)"

    def __init__(self, *, operation: str, song: Any, song_index: int = 0, lyrics: str | None = None,
                 start_ms: Any = None, end_ms: Any = None, keep_melody: Any = None, title: str | None = None,
                 desc: str | None = None, vocal_gender: str | None = None, model: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        mk.check_choice("operation", operation, tuple(mk.EDIT_PATHS), required=True)
        self.operation, self.song, self.lyrics, self.title, self.desc = operation, song, lyrics, title, desc
        self.start_ms, self.end_ms, self.keep_melody = start_ms, end_ms, keep_melody
        self.vocal_gender, self.model = vocal_gender, model
        self.song_index = int(mk.check_number("song_index", song_index, 0, 9, integer=True) or 0)

    def request(self, reply_ref: str | None) -> dict[str, Any]:
        """The edit body for ``operation`` (its fields checked); no request."""
        song = mk.pick_song(self.song, self.song_index)
        return mk.build_edit_body(self.operation, song, lyrics=self.lyrics, start_ms=self.start_ms,
                                  end_ms=self.end_ms, keep_melody=self.keep_melody, title=self.title, desc=self.desc,
                                  vocal_gender=self.vocal_gender, model=self.model, async_=True,
                                  reply_url=self.reply_url, reply_ref=reply_ref)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send the edit (paid); returns the job summary."""
        return self.hook.send_edit(self.operation, body)

    def priced(self) -> tuple[str, Any, bool]:
        """The ``operation`` and ``model`` (edit 20 Gold; remix as a generation; extend/regenerate: no price)."""
        return str(self.operation), self.model, True

    def source_song(self) -> str | int | None:
        """The edited song."""
        return mk.pick_song(self.song, self.song_index)


def _safe(text: Any, fallback: str) -> str:
    return distinct_file_name(str(text or fallback)[:80], fallback, case_sensitive=True)


class MurekaStemsOperator(_MurekaJobOperator):
    """Extract stems of a song (POST music/stems: ``all_stems`` True = up to 12 stems + MIDI, 100 Gold; False =
    vocals + instrumental, 20 Gold; every call is charged) and, with ``destination``, download the audio and
    MIDI zips (POST music/stems-download, free) to ``<destination>/<stems_id>/``.

    Crash-safe as generation (the extraction is a job with a ``replyRef``). Mureka may also answer with the
    stems at once (no job): that answer is used as is. Returns ``{jobid, stems_id, bpm, stems: {name: {wav,
    mp3}}, files: {audio_zip, midi_zip}}`` (URLs without query).

    :param song: a song id, or a generate/edit result (song number ``song_index``). Templated.
    :param destination: folder for the zips (local path or object-storage URL); None: no download. Templated.
    """

    state_key = "mureka_stems_job"
    template_fields: Sequence[str] = ("song", "destination", "reply_url", "reply_ref")
    work = "A Mureka stems extraction (Gold spent)"

    def __init__(self, *, song: Any, song_index: int = 0, all_stems: bool = True, destination: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.song, self.destination = song, destination
        self.all_stems = mk.check_bool("all_stems", all_stems) is not False
        self.song_index = int(mk.check_number("song_index", song_index, 0, 9, integer=True) or 0)

    def validate(self) -> None:
        """The stems request checked and a writable ``destination`` (when given), before any request."""
        super().validate()
        if self.destination is not None:
            ensure_writable_destination(self.destination, argument="destination")

    def request(self, reply_ref: str | None) -> dict[str, Any]:
        """The stems body (``song_id``, ``all_stems``, ``async: true``, marker); no request."""
        return mk.build_stems_body(mk.pick_song(self.song, self.song_index), all_stems=self.all_stems,
                                   async_=True, reply_url=self.reply_url, reply_ref=reply_ref)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send the extraction (paid); returns the job summary (or the stems themselves)."""
        return self.hook.send_stems(body)

    def priced(self) -> tuple[str, Any, bool]:
        """Stems: 100 Gold (``all_stems``) or 20."""
        return "stems", None, self.all_stems

    def source_song(self) -> str | int | None:
        """The song whose stems are extracted."""
        return mk.pick_song(self.song, self.song_index)

    def record_of(self, job: Mapping[str, Any], ref: str, sent_at: float) -> dict[str, Any]:
        """The job record; a direct answer (stems, no job) is kept in it as ``answer``."""
        record = super().record_of(job, ref, sent_at)
        if job.get("stems_id") and not job.get("jobid"):  # the stems at once, no job to wait for
            record["answer"] = {k: job[k] for k in ("stems_id", "bpm", "stems", "status") if k in job}
        return record

    def resume_or_submit(self, context: Context) -> tuple[dict[str, Any], PollResult | None]:
        """The base's resume or submit, plus the direct answer (no job): it is the result."""
        store = self.state_store(context)
        stored = store.get(self.state_key) if store is not None else None
        if isinstance(stored, dict) and isinstance(stored.get("answer"), dict):
            return stored, PollResult("success", "stems of an earlier try", dict(stored["answer"]))
        record, result = super().resume_or_submit(context)
        if result is None and isinstance(record.get("answer"), dict):
            return record, PollResult("success", "stems answered at once", dict(record["answer"]))
        return record, result

    def finish(self, record: dict[str, Any], result: PollResult | None, context: Context) -> dict[str, Any]:
        """The stems summary, and with ``destination`` the audio and MIDI zips downloaded (fresh links)."""
        output = {"jobid": record.get("jobid"), **(dict(result.payload) if result else {"status": "created"})}
        if result is not None and self.destination is not None and output.get("stems_id"):
            folder = to_storage_path(self.destination, argument="destination") / _safe(output["stems_id"], "stems")
            links = self.hook.download_stems_links(output["stems_id"])  # live links: used now, never stored
            output["files"] = {name: output_location(self.hook.download_url(url, folder / f"{name}.zip"))
                               for name, url in links.items() if name.endswith("_zip") or name == "url"}
        return output

    def summarize(self, record: dict[str, Any], output: Any) -> Sequence[str]:
        """``stems <id>: <names>``."""
        return [f"stems {output.get('stems_id')}: {', '.join(output.get('stems') or {})}"]


class MurekaDownloadOperator(MurekaBaseOperator):
    """Download songs' MP3 (the public ``mp3_url``; Mureka gives no WAV of a whole song: use stems).

    Returns (XCom) ``{"files": [paths], "song_ids": [...]}``: plain local paths for a local destination, URLs
    (without query) for object storage. URLs are read fresh from the job (or song) at download time.

    :param songs: a generate/edit/sensor result, a list of them (a mapped task), song dicts, job ids or
        song ids. Templated.
    :param destination: folder (local path or object-storage URL). Templated.
    """

    template_fields: Sequence[str] = ("songs", "destination")
    operator_extra_links = (MurekaSongLink(),)

    def __init__(self, *, songs: Any, destination: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.songs, self.destination = songs, destination

    def _items(self) -> list[Any]:
        value = self.songs
        items = [value] if isinstance(value, (str, int, Mapping)) or not isinstance(value, Iterable) else list(value)
        if not items or any(isinstance(i, bool) or not isinstance(i, (str, int, Mapping)) for i in items):
            raise InvalidInputError(f"songs must be a job result, song ids or a list of them, got {value!r}"[:200])
        return items

    def validate(self) -> None:
        """Every item readable and a writable ``destination``, before any request."""
        for item in self._items():
            if not isinstance(item, Mapping):
                mk.check_song_id("songs[]", item)
        ensure_writable_destination(self.destination, argument="destination")

    def resolve(self) -> list[dict[str, Any]]:
        """The songs to download, each ``{song_id, title, version, mp3_url (live)}``."""
        out: list[dict[str, Any]] = []
        for item in self._items():
            if isinstance(item, Mapping) and isinstance(item.get("songs"), list):
                live = self.hook.get_job_record(str(item["jobid"])) if item.get("jobid") else {}
                urls = _live_urls(live)
                out += [{**s, "mp3_url": urls.get(str(s.get("song_id")), s.get("mp3_url"))}
                        for s in item["songs"] if isinstance(s, Mapping)]
            elif isinstance(item, Mapping):
                out.append({**item, "song_id": mk.check_song_id("songs[].song_id", item.get("song_id"))})
            elif isinstance(item, str) and item.endswith("bot:mureka"):
                record = self.hook.get_job_record(item)
                urls = _live_urls(record)
                out += [{**s, "mp3_url": urls.get(s["song_id"], s.get("mp3_url"))}
                        for s in mk.parse_job(record)["songs"]]
            else:
                out.append(self.hook.live_song(item))
        if not out:
            raise InvalidInputError("songs: the input names no song (a job that has not completed?)")
        return out

    def execute(self, context: Context) -> dict[str, Any]:
        """Download every song's MP3 into ``destination``; returns ``{files, song_ids}``."""
        self.check_rendered()
        songs = self.resolve()
        song_ids = [str(s["song_id"]) for s in songs]
        lineage.add_datasets(self.task_report.inputs, *(lineage.mureka_song(s) for s in song_ids))
        self.task_report.facts["song_ids"] = song_ids
        folder = to_storage_path(self.destination, argument="destination")
        files = []
        for song in songs:
            if not isinstance(song.get("mp3_url"), str):
                raise InvalidInputError(f"song {song.get('song_id')!r} has no mp3_url to download")
            key = str(song["song_id"]).rpartition("song:")[2] or str(song["song_id"])
            name = distinct_file_name(f"{str(song.get('title') or 'song')[:80]}-v{song.get('version') or 1}-{key}",
                                      "song", suffix=".mp3", case_sensitive=True)
            files.append(output_location(self.hook.download_url(song["mp3_url"], folder / name)))
        lineage.add_paths(self.task_report.outputs, files)
        self.push_link(context, MurekaSongLink, song_url(songs))
        out = cost.download_result(self, {"files": files, "song_ids": song_ids})
        self.log.info("Downloaded %d Mureka song(s): %s; %s", len(files), "; ".join(files), cost.said(self))
        return out


def _live_urls(record: Mapping[str, Any]) -> dict[str, str]:
    """``{song_id: mp3_url WITH query}`` of a raw job record (for a download now; never stored)."""
    response = record.get("response") if isinstance(record.get("response"), Mapping) else record
    songs = response.get("songs") if isinstance(response, Mapping) else None
    return {str(s["song_id"]): s["mp3_url"] for s in songs if isinstance(s, Mapping)
            and isinstance(s.get("mp3_url"), str) and s.get("song_id") is not None} if isinstance(songs, list) else {}


class MurekaUploadOperator(MurekaBaseOperator):
    """Upload an MP3: a reference track (``kind="reference"``, POST files: ``title``, ``genre``, ``mood``
    required; PUBLIC on mureka.ai), a melody motif (``motif``) or a singing voice (``vocal``, ``title``).

    A retry of a task whose upload succeeded reuses the stored result (Airflow 3.3+). Returns (XCom) ``{id, url,
    duration_s, ...}``: pass it as ``ref_id`` / ``motif_id`` / ``vocal_id``.
    """

    template_fields: Sequence[str] = ("source", "title", "genre", "mood", "account")
    state_key = "mureka_upload"

    def __init__(self, *, source: Any, kind: str = "reference", title: str | None = None, genre: str | None = None,
                 mood: str | None = None, url: str | None = None, account: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        mk.check_choice("kind", kind, tuple(mk.UPLOAD_KINDS), required=True)
        self.source, self.kind, self.title, self.genre, self.mood, self.url = source, kind, title, genre, mood, url
        self.account = account
        _check_now("account", account, mk.check_account)

    def validate(self) -> None:
        """The upload's query (kind, required fields, account) checked before anything is read or sent."""
        mk.upload_params(self.kind, title=self.title, genre=self.genre, mood=self.mood, url=self.url,
                         account=self.account)

    def execute(self, context: Context) -> dict[str, Any]:
        """Upload the file (an earlier try's upload reused on Airflow 3.3+); returns ``{id, url, ...}``."""
        self.check_rendered()
        lineage.add_datasets(self.task_report.inputs, lineage.path_dataset(self.source))
        store = self.state_store(context)
        key = f"{self.source}|{self.kind}|{self.title}|{self.account}"
        done: Any = store.get(self.state_key) if store is not None else None
        if isinstance(done, dict) and done.get("key") == key and isinstance(done.get("upload"), dict):
            self.log.info("Reusing upload %s of a previous try", done["upload"].get("id"))
            return self.reported(dict(done["upload"]))
        upload = self.hook.upload(self.source, self.kind, title=self.title, genre=self.genre, mood=self.mood,
                                  url=self.url, account=self.account)
        if store is not None:
            store.set(self.state_key, {"key": key, "upload": upload})
        self.log.info("Uploaded %s as Mureka %s %s", self.source, self.kind, upload.get("id"))
        return self.reported(upload)

    def reported(self, upload: dict[str, Any]) -> dict[str, Any]:
        """``upload`` (returned, with its cost), its id, kind and account noted for lineage."""
        lineage.add_datasets(self.task_report.outputs, lineage.mureka_upload(upload["id"]))
        cost.note(self, upload_id=upload["id"], kind=self.kind, account=self.hook.account_of(self.account))
        return cost.upload_result(self, upload)


class MurekaLyricsOperator(MurekaBaseOperator):
    """Generate lyrics for free (POST music/lyrics-generate). Returns ``{lyrics}``: feed it to
    :class:`MurekaGenerateOperator` (``kind="advanced"``).

    :param prompt: what the song is about (optional: random lyrics without one). Templated.
    :param account: the Mureka account id. Templated.
    """

    template_fields: Sequence[str] = ("prompt", "account")

    def __init__(self, *, prompt: str | None = None, account: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prompt, self.account = prompt, account
        _check_now("account", account, mk.check_account)

    def validate(self) -> None:
        """The lyrics request checked without sending it."""
        mk.build_lyrics_body(self.prompt, account=self.account)

    def execute(self, context: Context) -> dict[str, Any]:
        """Ask Mureka for lyrics (free); returns ``{lyrics}``."""
        self.check_rendered()
        result = self.hook.generate_lyrics(self.prompt, account=self.account)
        account = self.hook.account_of(self.account)
        self.task_report.facts.update({"operation": "lyrics", **({"account": account} if account else {})})
        result = cost.lyrics_result(self, result)
        self.log.info("Mureka wrote lyrics (%d characters); %s", len(result["lyrics"]), cost.said(self))
        return result
