"""Operators of the FlowMusic (useapi.net) integration: generate, edit, stems, upload, lyrics, download.

Generation and edits are paid and not idempotent. They run on the operator base's lifecycle
(:class:`~airflow_provider_music.operators.base.MusicJobOperator`): the job record goes to
``task_state_store`` (Airflow 3.3+) right after the create, and every create carries a ``replyRef``
marker of the task instance. A retried or resumed task reconnects to its job instead of paying again:
from the stored record, or (older Airflow) by finding the marker in the echoed request of the running
jobs (GET jobs, then GET jobs/{jobid}). A create whose answer was lost is looked up the same way within
its time window and never re-sent blindly: without a match the task fails, saying the song may exist.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_music.contract import flowmusic as fm
from airflow_provider_music.core import lineage
from airflow_provider_music.core.errors import (
    CLOCK_SKEW,
    InvalidInputError,
    MusicApiError,
    NotFoundError,
    answer_lost,
)
from airflow_provider_music.core.files import (
    distinct_file_name,
    ensure_writable_destination,
    output_location,
    to_storage_path,
)
from airflow_provider_music.hooks.flowmusic import FlowMusicHook, FlowMusicLostCreateError
from airflow_provider_music.operators import flowmusic_cost as cost
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
from airflow_provider_music.triggers.flowmusic import JOB_STATUS, job_target

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

EXTENSIONS = {"wav_url": "wav", "audio_url": "m4a", "mp3": "mp3"}
#: ``keep`` of :class:`FlowMusicGenerateOperator`: which clips of the A/B pair the task returns.
KEEP = ("both", "first", "second")
SONG_URL_XCOM_KEY = "flowmusic_song_url"
#: Where the link points while a job has no clip yet (Flow Music has no public page per song).
APP_URL = "https://www.flowmusic.app/"


class FlowMusicSongLink(MusicLink):
    """Opens the song: the first clip's public audio (``audio_url``, m4a, plays in a browser; no query
    string), or Flow Music's app while the job has no clip yet (Flow Music has no public page per song)."""

    name = "FlowMusic song"
    key = SONG_URL_XCOM_KEY


def song_url(clips: Any) -> str:
    """The link of a list of clip summaries: the first clip's ``audio_url`` (else ``wav_url``), else the app."""
    first = clips[0] if isinstance(clips, list) and clips and isinstance(clips[0], Mapping) else {}
    url = first.get("audio_url") or first.get("wav_url")
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else APP_URL


def _check_now(argument: str, value: Any, check: Any) -> None:
    """Check a non-templated argument when the DAG file is parsed (templated ones: after rendering)."""
    if value is not None and not is_templated(value):
        check(argument, value)


class FlowMusicBaseOperator(MusicOperator):
    """Base of every FlowMusic operator and sensor: the ``flowmusic_conn_id`` argument and the typed hook.

    :param flowmusic_conn_id: the FlowMusic connection (templated; default ``flowmusic_default``). Another
        API's connection argument, or ``conn_id=``, fails with an error naming this one.
    """

    hook_class = FlowMusicHook
    hook: FlowMusicHook

    def __init__(self, *, flowmusic_conn_id: str = FlowMusicHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(flowmusic_conn_id=flowmusic_conn_id, **kwargs)


class _FlowMusicJobOperator(cost.JobCost, FlowMusicBaseOperator, MusicJobOperator):
    """What generate and edit share: the replyRef marker, crash-safe create, the job record and output."""

    status_check = JOB_STATUS
    operator_extra_links = (FlowMusicSongLink(),)
    default_poll_interval = 15.0
    default_timeout = 1800.0

    def __init__(self, *, model: str | None = None, reply_url: str | None = None, reply_ref: str | None = None,
                 resubmit_if_lost: bool = False, allow_unknown_model: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model, self.reply_url, self.reply_ref = model, reply_url, reply_ref
        self.resubmit_if_lost = bool(resubmit_if_lost)
        self.allow_unknown_model = bool(allow_unknown_model)
        _check_now("model", model, self.check_model)

    def check_model(self, argument: str, value: Any) -> str | None:
        """``model``: a documented one unless ``allow_unknown_model`` (parse time, and after rendering)."""
        return fm.check_model(argument, value, allow_unknown=self.allow_unknown_model)

    def request(self, reply_ref: str | None) -> dict[str, Any]:
        """The checked request body (no I/O): ``reply_ref`` is None for validation only."""
        raise NotImplementedError

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST the body; return the job summary."""
        raise NotImplementedError

    def validate(self) -> None:
        self.check_model("model", self.model)
        self.request(None)

    def marker(self, context: Context) -> str:
        return f"airflow:{job_marker(context)}" if fm.unset(self.reply_ref) else str(self.reply_ref)

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
        return {"jobid": job["jobid"], "email": job.get("email"), "reply_ref": ref, "sent_at": sent_at}

    def recover(self, exc: MusicApiError, body: dict[str, Any], ref: str, sent_at: float) -> dict[str, Any]:
        """The create may have reached FlowMusic: look for its job; never re-send blindly."""
        jobid = look_for_lost_job(lambda: self.hook.find_job(ref, body, created_after=sent_at - CLOCK_SKEW))
        if jobid:
            self.log.warning("Create answer lost (%s) but job %s carries replyRef %s: using it", exc, jobid, ref)
            return {"jobid": jobid, "email": body.get("email"), "reply_ref": ref, "sent_at": sent_at}
        if self.resubmit_if_lost:
            self.log.warning("Create answer lost (%s), no job found: sending again (resubmit_if_lost=True)", exc)
            job = self.create(body)
            return {"jobid": job["jobid"], "email": job.get("email"), "reply_ref": ref, "sent_at": time.time()}
        raise FlowMusicLostCreateError.after(
            "A FlowMusic song (credits spent)", cause=exc,
            check=f"GET jobs and GET music of the account: no running job carries replyRef {ref!r}",
            note="Not re-sending automatically to avoid paying twice (set resubmit_if_lost=True to accept that risk).",
        )

    def find_existing(self, context: Context) -> dict[str, Any] | None:
        """The job of an earlier try: running (GET jobs + replyRef), or proof that none was paid for.

        An earlier try may have paid when (3.3+) its note of a create in flight is still in ``task_state_store``
        without a job record, or (older Airflow: no store) this is a retry. A finished job leaves GET jobs and
        GET music does not say which request made a clip, so then GET accounts/usage decides: no charge since
        the window opened -> nothing was created, submit; a charge -> fail with "may have been created"."""
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
        """Raise :class:`FlowMusicLostCreateError` when an account was charged since ``since``."""
        email = body.get("email") if isinstance(body.get("email"), str) else None
        charged = self.hook.charges_since(since, email)
        if not charged:
            self.log.info("No running job with replyRef %s and no charge since the window opened: submitting", ref)
            return
        where = "; ".join(f"{e} (charged at {', '.join(t[:3])})" for e, t in charged.items())
        opened = "the start of time" if since is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
        raise FlowMusicLostCreateError.after(
            "A FlowMusic song of an earlier try of this task", check=(
                f"GET music and GET accounts/usage of {where}: the earlier try's job with replyRef {ref!r} is no "
                f"longer running and finished jobs cannot be told apart after {opened}"),
            note="Pass its clips to FlowMusicDownloadOperator, or set resubmit_if_lost=True to generate again "
                 "(may pay twice).",
        )

    def target(self, record: dict[str, Any]) -> dict[str, Any]:
        return job_target(record["jobid"])

    def announce(self, record: dict[str, Any], context: Context) -> None:
        self.push(context, "jobid", record["jobid"])
        self.push_link(context, FlowMusicSongLink, APP_URL)  # the song's own link once it has clips

    def finish(self, record: dict[str, Any], result: Any, context: Context) -> dict[str, Any]:
        if result is None:
            return {"jobid": record["jobid"], "email": record.get("email"), "status": "pending", "clips": [],
                    "clip_ids": []}
        output = self.kept(dict(result.payload))
        self.push_link(context, FlowMusicSongLink, song_url(output.get("clips")))
        return output

    def kept(self, output: dict[str, Any]) -> dict[str, Any]:
        """The clips this task returns (all of them; the generate operator can keep one of the pair)."""
        return output

    def summarize(self, record: dict[str, Any], output: Any) -> Sequence[str]:
        clips = output.get("clips") if isinstance(output, Mapping) else None
        return [fm.clip_line(c) for c in clips] if isinstance(clips, list) else []

    def lineage_inputs(self) -> list[Any]:
        """The FlowMusic objects this job reads (reference assets, the edited clip) as datasets."""
        return []

    def report(self, record: dict[str, Any], output: Any) -> None:
        """Lineage: reference assets / source clip -> the clips made (the job while they are unknown)."""
        report = self.task_report
        lineage.add_datasets(report.inputs, *self.lineage_inputs())
        email = (output if isinstance(output, Mapping) else record).get("email") or record.get("email")
        report.facts.update(jobid=record["jobid"], model=self.model or "default", reply_ref=record.get("reply_ref"),
                            **({"account": email} if email else {}))
        if isinstance(output, Mapping):
            clip_ids = [*(output.get("clip_ids") or []), *(output.get("dropped_clip_ids") or [])]
            report.facts["clip_ids"] = clip_ids
            lineage.add_datasets(report.outputs, *(lineage.flowmusic_clip(c) for c in clip_ids))
            if not clip_ids:  # not waited for: the job sensor takes it from here
                lineage.add_datasets(report.outputs, lineage.flowmusic_job(record["jobid"]))


class FlowMusicGenerateOperator(_FlowMusicJobOperator):
    """Generate a song (an A/B pair of clips) with POST music and wait for it.

    Returns (XCom) the job summary ``{jobid, email, status, clip_ids, clips: [{clip, title, duration_s,
    audio_url, wav_url, image_url}]}`` (URLs without query strings); give it to
    :class:`FlowMusicDownloadOperator` or :class:`FlowMusicEditOperator`. Every call gives two takes of the
    song (A and B, both paid); ``keep`` chooses which of them the result carries (the others' ids stay in
    ``dropped_clip_ids``, they remain in the account). Extra link "FlowMusic song": the first kept clip.

    :param prompt: style, mood, genre, instruments, BPM, vocals (1-10,000 characters). Templated.
    :param lyrics: your own lyrics (``[Verse]``/``[Chorus]`` tags); excludes ``instrumental``. Templated.
    :param instrumental: force a wordless track. Templated.
    :param ghostwriter: ``standard`` or ``pro`` lyric writer (when FlowMusic writes the lyrics).
    :param model: ``lyria-3-pro`` (API default) or ``lyria-3.5``; another name is refused at parse time
        (a typo must not pay) unless ``allow_unknown_model=True`` (a model useapi.net added since). Templated.
    :param ref_images: up to 10 image asset ids (or :class:`FlowMusicUploadOperator` results). Templated.
    :param ref_audios: up to 10 audio asset ids (experimental hint). Templated.
    :param account_email: FlowMusic account (API field ``email``; default: connection extra ``email``, else
        any account with free capacity). Templated.
    :param reply_url: webhook receiving the job record; ``reply_ref`` its marker (default: the task
        instance, ``airflow:<dag>/<task>/<run>/<map>`` - keep it unique per task instance).
    :param resubmit_if_lost: when a create's answer is lost and no job is found, send it again (may pay twice).
    :param keep: ``"both"`` (default: the A and B clips, as before), ``"first"`` (the A clip) or ``"second"``
        (the B clip): what downstream download, stems and edit tasks receive. Checked at parse time.
    :param flowmusic_conn_id: connection id (default ``flowmusic_default``). Wait arguments: see the base.
    """

    state_key = "flowmusic_generate_job"
    template_fields: Sequence[str] = ("prompt", "lyrics", "instrumental", "model", "ref_images", "ref_audios",
                                      "account_email", "reply_url", "reply_ref")

    def __init__(self, *, prompt: str, lyrics: str | None = None, instrumental: Any = None,
                 ghostwriter: str | None = None, ref_images: Any = None, ref_audios: Any = None,
                 account_email: str | None = None, keep: str = "both", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keep = str(fm.check_choice("keep", keep, KEEP, required=True))
        self.prompt, self.lyrics, self.instrumental = prompt, lyrics, instrumental
        self.ghostwriter, self.ref_images, self.ref_audios = ghostwriter, ref_images, ref_audios
        self.account_email = account_email
        _check_now("ghostwriter", ghostwriter, lambda a, v: fm.check_choice(a, v, fm.GHOSTWRITERS))
        _check_now("instrumental", instrumental, fm.check_bool)
        _check_now("prompt", prompt, lambda a, v: fm.check_text(a, v, required=True, max_length=fm.PROMPT_MAX))

    def request(self, reply_ref: str | None) -> dict[str, Any]:
        """The ``POST music`` body (async mode); every argument checked, no request made."""
        return fm.build_generate_body(
            self.prompt, lyrics=self.lyrics, instrumental=self.instrumental, ghostwriter=self.ghostwriter,
            ref_images=self.ref_images, ref_audios=self.ref_audios, email=self.account_email, model=self.model,
            reply_url=self.reply_url, reply_ref=reply_ref, mode="async",
        )

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send the generate request (paid); returns the job summary."""
        return self.hook.send_generate(body)

    def lineage_inputs(self) -> list[Any]:
        """The reference assets (ids or :class:`FlowMusicUploadOperator` results)."""
        ids = [r.get("id") if isinstance(r, Mapping) else r for v in (self.ref_audios, self.ref_images)
               for r in ([v] if isinstance(v, (str, Mapping)) else v or [])]
        return [lineage.flowmusic_asset(i) for i in ids if isinstance(i, str) and i.strip()]

    def kept(self, output: dict[str, Any]) -> dict[str, Any]:
        """The clips ``keep`` asks for (all of them when the job gave fewer), ids and summary updated."""
        clips = list(output.get("clips") or [])
        chosen = {"both": clips, "first": clips[:1], "second": clips[1:2]}[self.keep]
        if not chosen:  # a job that gave one clip only: keep it rather than nothing (it was paid for)
            self.log.warning("keep=%r: the job gave %d clip(s); keeping them all", self.keep, len(clips))
            chosen = clips
        ids = [c["clip"] for c in chosen]
        dropped = [c["clip"] for c in clips if c["clip"] not in ids]
        return {**output, "clips": chosen, "clip_ids": ids, **({"dropped_clip_ids": dropped} if dropped else {})}


class FlowMusicEditOperator(cost.EditCost, _FlowMusicJobOperator):
    """Edit a clip with POST music/edit (``cover``, ``extend``, ``replace``, ``remix`` or ``effect``) and wait.

    Returns (XCom) the job summary of the new clip (as :class:`FlowMusicGenerateOperator`). For the four
    stems of a clip use :class:`FlowMusicStemsOperator` (stems are synchronous and never a job).

    :param operation: ``cover``, ``extend``, ``replace``, ``remix`` or ``effect``.
    :param clip: a clip id, or a generate/edit result (its clip number ``clip_index``). Templated.
    :param edit_params: the operation's fields, e.g. ``{"instruction": "jazz", "strength": 0.6}`` (cover),
        ``{"instruction": ..., "extend_s": 30}`` (extend), ``{"effect": "Reverb", "mix": 0.4,
        "room_size": 0.7}`` (effect). Templated.
    :param seed: pin the result (integer >= 0); ``title``: title of the new clip. Templated.
    """

    state_key = "flowmusic_edit_job"
    template_fields: Sequence[str] = ("clip", "edit_params", "seed", "title", "model", "reply_url", "reply_ref")

    def __init__(self, *, operation: str, clip: Any, edit_params: Mapping[str, Any] | None = None,
                 clip_index: int = 0, seed: Any = None, title: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if operation == "stems":
            raise InvalidInputError("operation 'stems' gives four clips synchronously: use FlowMusicStemsOperator")
        fm.check_choice("operation", operation, fm.JOB_OPERATIONS, required=True)
        self.operation, self.clip, self.edit_params, self.seed, self.title = operation, clip, edit_params, seed, title
        self.clip_index = int(fm.check_number("clip_index", clip_index, 0, 9, integer=True) or 0)

    def clip_id(self) -> str:
        """The source clip: ``clip`` itself, or clip ``clip_index`` of a job result."""
        return fm.pick_clip(self.clip, self.clip_index)

    def clip_duration(self, clip_id: str) -> Any:
        """The source clip's ``duration_s`` when the input is a job result (a bare clip id carries none)."""
        clips = self.clip.get("clips") if isinstance(self.clip, Mapping) else self.clip
        found = [c for c in clips if isinstance(c, Mapping) and c.get("clip") == clip_id] if isinstance(
            clips, list) else []
        return found[0].get("duration_s") if found else None

    def request(self, reply_ref: str | None) -> dict[str, Any]:
        """The edit body for ``operation`` (its fields checked, the clip's duration when known); no request."""
        if self.edit_params is not None and not isinstance(self.edit_params, Mapping):
            raise InvalidInputError(f"edit_params must be a dict of the operation's fields, got {self.edit_params!r}"[:200])
        clip = self.clip_id()
        return fm.build_edit_body(self.operation, clip, seed=self.seed, title=self.title, params=self.edit_params,
                                  clip_duration=self.clip_duration(clip), model=self.model,
                                  reply_url=self.reply_url, reply_ref=reply_ref, mode="async")

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send the edit request (paid); returns the job summary."""
        return self.hook.send_edit(body)

    def lineage_inputs(self) -> list[Any]:
        """The edited clip (and the operation, as a fact)."""
        return [lineage.flowmusic_clip(self.clip_id())] if self.task_report.facts.setdefault("operation", self.operation) else []


def _clip_name(clip: Mapping[str, Any], ext: str = "") -> str:
    """``<title>-<clip uuid>[.<ext>]``: distinct per clip, safe in any folder."""
    key = str(clip["clip"]).rpartition("clip:")[2] or str(clip["clip"])
    title = str(clip.get("title") or "clip")[:80]
    # the clip uuid already keeps names apart (also on case-insensitive disks): no extra hash for capitals
    return distinct_file_name(f"{title}-{key}", "clip", suffix=f".{ext}" if ext else "", case_sensitive=True)


class _FlowMusicFiles(FlowMusicBaseOperator):
    """What the operators writing clips to files share: the source choice and one download per clip."""

    def __init__(self, *, destination: Any, source: str = "wav_url", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        fm.check_choice("source", source, fm.AUDIO_SOURCES, required=True)
        self.destination, self.source = destination, source

    def fetch(self, clip: Mapping[str, Any], subfolder: str | None = None, name: str | None = None,
              live: Mapping[str, str] | None = None) -> str:
        """Download one clip; ``live`` = its current URLs with their query (signed), used and never stored."""
        folder = to_storage_path(self.destination, argument="destination")
        folder = folder / subfolder if subfolder else folder
        ext = EXTENSIONS[self.source]
        target = folder / (f"{name}.{ext}" if name else _clip_name(clip, ext))
        url = fm.clip_source_url({**clip, **(live or {})}, self.source)
        path = self.hook.download_mp3(clip["clip"], target) if url is None else self.hook.download_url(url, target)
        return output_location(path)


class FlowMusicDownloadOperator(_FlowMusicFiles):
    """Download clips: the public ``wav_url`` (lossless), ``audio_url`` (m4a) or an mp3 (GET music/download).

    Returns (XCom) ``{"files": [paths], "clip_ids": [...]}``: plain local paths for a local destination,
    URLs (without query) for object storage. Each file is written atomically; names never collide.

    :param clips: a generate/edit/sensor result, a list of them (a mapped task), clip dicts, job ids
        (``job:...``) or clip ids (clip ids alone carry no URL: they need ``source="mp3"``). Templated.
    :param destination: folder (local path or object-storage URL). Templated.
    :param source: ``wav_url`` (default), ``audio_url`` or ``mp3``.
    """

    template_fields: Sequence[str] = ("clips", "destination")
    operator_extra_links = (FlowMusicSongLink(),)

    def __init__(self, *, clips: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clips = clips

    def validate(self) -> None:
        """Bare clip ids only with ``source='mp3'`` (they carry no URLs) and a writable ``destination``."""
        for item in self._items():
            if isinstance(item, str) and not item.startswith("job:") and self.source != "mp3":
                raise InvalidInputError(f"clips: {item[:60]!r} is a bare clip id without URLs: pass the job "
                                        "result (or its jobid) or use source='mp3'")
        ensure_writable_destination(self.destination, argument="destination")

    def _items(self) -> list[Any]:
        value = self.clips  # one result, or a list of them (a mapped upstream gives a lazy sequence)
        items = [value] if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable) else list(value)
        if not items or any(not isinstance(i, (str, Mapping)) for i in items):
            raise InvalidInputError(f"clips must be a job result, clip ids or a list of them, got {value!r}"[:200])
        return items

    def resolve(self) -> list[Mapping[str, Any]]:
        """The clips to download: from job results, clip dicts, ``job:`` ids or bare clip ids."""
        out: list[Mapping[str, Any]] = []
        for item in self._items():
            if isinstance(item, Mapping) and isinstance(item.get("clips"), list):
                out.extend(c for c in item["clips"] if isinstance(c, Mapping))
            elif isinstance(item, Mapping):
                out.append({**item, "clip": fm.check_id("clips[].clip", item.get("clip"))})
            elif item.startswith("job:"):
                out.extend(self.hook.get_job(item)["clips"])
            else:
                out.append({"clip": fm.check_id("clips[]", item)})
        if not out:
            raise InvalidInputError("clips: the input names no clip (a job that has not completed?)")
        return out

    def live_urls(self) -> dict[str, dict[str, str]]:
        """Current (possibly signed) URLs of the input's jobs: XCom keeps URLs without their query."""
        jobs = {i if isinstance(i, str) else i.get("jobid") for i in self._items()}
        live: dict[str, dict[str, str]] = {}
        for jobid in sorted(j for j in jobs if isinstance(j, str) and j.startswith("job:")):
            if self.source != "mp3":
                try:
                    live.update(self.hook.clip_urls(jobid))
                except NotFoundError:  # past the job retention: the stored URLs are all there is
                    self.log.info("Job %s has expired: downloading from the URLs of its result", jobid)
        return live

    def execute(self, context: Context) -> dict[str, Any]:
        """Download every clip into ``destination``; returns ``{files, ...}`` (local paths, no URLs)."""
        self.check_rendered()
        clips = self.resolve()
        lineage.add_datasets(self.task_report.inputs, *(lineage.flowmusic_clip(c["clip"]) for c in clips))
        self.task_report.facts.update(clip_ids=[c["clip"] for c in clips], source=self.source)
        live = self.live_urls()
        files = [self.fetch(clip, live=live.get(str(clip["clip"]))) for clip in clips]
        lineage.add_paths(self.task_report.outputs, files)
        self.push_link(context, FlowMusicSongLink, song_url(clips))
        out = cost.free_result(self, {"files": files, "clip_ids": [c["clip"] for c in clips]}, cost.FREE_FILES)
        self.log.info("Downloaded %d FlowMusic clip(s): %s; %s", len(files), "; ".join(files), cost.said(self))
        return out


class FlowMusicStemsOperator(_FlowMusicFiles):
    """Split a clip into drums, bass, vocals and other (POST music/edit ``stems``) and download the four files
    to ``<destination>/<clip title>-<clip uuid>/<stem>.<ext>`` (AudioShake's layout).

    Stems are synchronous and asking again returns the same stems, so a retried task pays nothing twice.
    Returns (XCom) ``{"clip", "stems": {name: path}, "stem_clip_ids": {name: clip id}}``.

    :param clip: a clip id, or a generate/edit result (clip number ``clip_index``). Templated.
    :param destination: folder (local path or object-storage URL). Templated.
    :param source: ``wav_url`` (default), ``audio_url`` or ``mp3``.
    """

    template_fields: Sequence[str] = ("clip", "destination")

    def __init__(self, *, clip: Any, clip_index: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clip = clip
        self.clip_index = int(fm.check_number("clip_index", clip_index, 0, 9, integer=True) or 0)

    def clip_id(self) -> str:
        """The source clip: ``clip`` itself, or clip ``clip_index`` of a job result."""
        return fm.pick_clip(self.clip, self.clip_index)

    def source_title(self) -> str | None:
        """The source clip's title when ``clip`` is a job result (names the stems folder)."""
        clips = self.clip.get("clips") if isinstance(self.clip, Mapping) else None
        found = clips[self.clip_index] if isinstance(clips, list) and len(clips) > self.clip_index else None
        return found.get("title") if isinstance(found, Mapping) else None

    def validate(self) -> None:
        """A valid source clip and a writable ``destination``, before any request."""
        self.clip_id()
        ensure_writable_destination(self.destination, argument="destination")

    def execute(self, context: Context) -> dict[str, Any]:
        """Split the clip into stems and download each (signed URLs used at once, never returned);
        returns the paths per stem."""
        self.check_rendered()
        source = self.clip_id()
        lineage.add_datasets(self.task_report.inputs, lineage.flowmusic_clip(source))
        stems = self.hook.split_stems(source, live_urls=True)  # signed URLs used now, never returned
        self.task_report.facts.update(clip=source, stem_clip_ids={s["stem"]: s["clip"] for s in stems})
        folder = _clip_name({"clip": source, "title": self.source_title()})
        paths = {s["stem"]: self.fetch(s, folder, s["stem"]) for s in stems}
        lineage.add_paths(self.task_report.outputs, paths)
        listed = "; ".join(f"{k}: {v}" for k, v in paths.items())
        self.log.info("FlowMusic stems of %s: %s; %s", source, listed, cost.said(self, cost.FREE_FILES))
        return cost.free_result(self, {"clip": source, "stems": paths, "stem_clip_ids": {s["stem"]: s["clip"] for s in stems}})


class FlowMusicUploadOperator(FlowMusicBaseOperator):
    """Upload a reference image or audio file (POST files, raw body) for ``ref_images`` / ``ref_audios``.

    Type, size (images 20 MB, audio 40 MB) and first bytes are checked before sending. A retry of a
    task whose upload succeeded reuses the stored asset (Airflow 3.3+) instead of uploading again.
    Returns (XCom) ``{id, url, kind, email}``.

    :param source: local path, object-storage URL or ``ObjectStoragePath``. Templated.
    :param content_type: MIME type (default: from the extension). ``account_email``: account (assets are usable
        only there). ``strip_metadata``: strip AI-provenance metadata from images (API default True).
    """

    template_fields: Sequence[str] = ("source", "content_type", "account_email")
    state_key = "flowmusic_upload"

    def __init__(self, *, source: Any, content_type: str | None = None, account_email: str | None = None,
                 strip_metadata: bool | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source, self.content_type, self.strip_metadata = source, content_type, strip_metadata
        self.account_email = account_email
        _check_now("content_type", content_type, lambda a, v: fm.check_choice(a, v, tuple(fm.UPLOAD_TYPES)))
        _check_now("strip_metadata", strip_metadata, fm.check_bool)

    def execute(self, context: Context) -> dict[str, Any]:
        """Upload the file (an earlier try's asset reused on Airflow 3.3+); returns ``{id, url, kind, email}``."""
        self.check_rendered()
        lineage.add_datasets(self.task_report.inputs, lineage.path_dataset(self.source))
        store = self.state_store(context)  # None below Airflow 3.3 or with durable=False
        key = f"{self.source}|{self.content_type}|{self.account_email}"
        done: Any = store.get(self.state_key) if store is not None else None
        if isinstance(done, dict) and done.get("key") == key and isinstance(done.get("asset"), dict):
            self.log.info("Reusing asset %s uploaded by a previous try", done["asset"].get("id"))
            return self.reported(dict(done["asset"]))
        asset = self.hook.upload_file(self.source, content_type=self.content_type, email=self.account_email,
                                      strip_metadata=self.strip_metadata)
        if store is not None:
            store.set(self.state_key, {"key": key, "asset": asset})
        self.log.info("Uploaded %s as FlowMusic asset %s (%s)", self.source, asset.get("id"), asset.get("kind"))
        return self.reported(asset)

    def reported(self, asset: dict[str, Any]) -> dict[str, Any]:
        """``asset`` (returned), its id, kind and account noted for lineage."""
        lineage.add_datasets(self.task_report.outputs, lineage.flowmusic_asset(asset["id"]))
        self.task_report.facts.update(asset_id=asset["id"], kind=asset.get("kind"), account=asset.get("email"))
        return asset


class FlowMusicLyricsOperator(FlowMusicBaseOperator):
    """Write lyrics for free (POST music/lyrics). Returns ``{title, lyrics, sound_prompt, email}``: feed
    ``lyrics`` and ``sound_prompt`` (as ``prompt``) to :class:`FlowMusicGenerateOperator`.

    :param prompt: what the song is about (1-2,000 characters). Templated.
    :param structure: optional scaffold such as ``"Verse 1 / Chorus / Verse 2 / Chorus"``. Templated.
    :param account_email: FlowMusic account (API field ``email``). Templated.
    """

    template_fields: Sequence[str] = ("prompt", "structure", "account_email")

    def __init__(self, *, prompt: str, structure: str | None = None, account_email: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prompt, self.structure, self.account_email = prompt, structure, account_email

    def validate(self) -> None:
        """The lyrics request (prompt, structure, account) checked without sending it."""
        fm.build_lyrics_body(self.prompt, structure=self.structure, email=self.account_email)

    def execute(self, context: Context) -> dict[str, Any]:
        """Ask FlowMusic for lyrics (free); returns ``{title, lyrics, sound_prompt, email}``."""
        self.check_rendered()
        result = self.hook.write_lyrics(self.prompt, structure=self.structure, email=self.account_email)
        self.task_report.facts.update(account=result.get("email"), title=result.get("title"))
        result = cost.lyrics_result(self, result)
        self.log.info("FlowMusic wrote lyrics %r (%d chars); %s", result.get("title"), len(result["lyrics"]), cost.said(self))
        return result
