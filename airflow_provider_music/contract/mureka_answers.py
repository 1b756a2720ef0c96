"""Pure parsing of the Mureka answers: job records, songs, stems, accounts, listings. No I/O.

The rule of the FlowMusic parsers: what only DESCRIBES (titles, durations, covers, versions, error texts) is
tolerant - an odd value is dropped; what DECIDES (job and song ids, the job state, the ``mp3_url`` a download
fetches, the shape of the song list) is strict: an odd value is an :class:`InvalidResponseError` naming the
field (``songs[1].song_id``). Every path that reads songs goes through :func:`song_summaries`.

Shapes accepted (the digest's open questions): songs under ``response.songs`` (GET jobs/{jobid}) or at the
top (a sync 200 answer); a stems extraction as a job record (``response.stems_id``) or a direct answer
(``stems_id`` at the top); a failed job told by ``status: failed``, by ``response.state`` 4 or by an ``error``
on a job that is not completed; ``song_id`` as a string or a number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_music.core.errors import InvalidInputError, InvalidResponseError, redact_url
from airflow_provider_music.core.parsing import PollResult, format_seconds, number_of, text_of, unknown_state
from airflow_provider_music.core.redaction import describe_body
from airflow_provider_music.core.validation import validate_id

MAX_ID_LENGTH = 512
JOB_DONE = ("completed", "complete", "succeeded", "success")
JOB_FAILED = ("failed", "error", "cancelled", "canceled", "rejected", "moderated")
JOB_RUNNING = ("created", "pending", "queued", "processing", "running", "started", "in_progress")
#: ``response.state`` of Mureka: 1/2 queued/processing, 3 completed, 4 failed (third-party readers).
STATE_DONE, STATE_FAILED = 3, 4
#: Account fields never returned by the hook (credentials, even masked).
ACCOUNT_SECRET_FIELDS = ("token", "refresh_token", "password", "sessionCookie", "cookie")


def invalid_answer(what: str, body: Any) -> InvalidResponseError:
    """The error for an answer of the wrong shape (its body described, never dumped)."""
    return InvalidResponseError(f"Mureka {what} answered with an unexpected body: {describe_body(body)}")


def invalid_field(what: str, name: str, value: Any, expected: str) -> InvalidResponseError:
    """A deciding field of an answer has an unusable value: the error names the field."""
    shown = "missing" if value is None else f"{type(value).__name__} {describe_body(value, 80)}"
    return InvalidResponseError(f"Mureka {what} answered with an unusable {name} ({shown}): expected {expected}")


def answer_id(value: Any, what: str, name: str) -> str:
    """An id the client acts on (jobid, song_id, stems_id): a valid id (a number becomes its text)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise invalid_field(what, name, value, "an id")
    try:
        return validate_id(value, name, max_length=MAX_ID_LENGTH)  # type: ignore[no-any-return]
    except InvalidInputError:
        raise invalid_field(what, name, value, "an id") from None


def _url(value: Any, what: str, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise invalid_field(what, name, value, "an http(s) URL")
    return redact_url(value)


# ---- songs ----------------------------------------------------------------------------------------------
def song_summary(song: Mapping[str, Any], *, what: str = "song", where: str = "song") -> dict[str, Any]:
    """The XCom-safe part of a song: ``song_id`` and ``mp3_url`` (strict, URL without query), and what
    describes it (tolerant): ``title``, ``version``, ``duration_s``, ``cover``, ``generate_at``."""
    out: dict[str, Any] = {"song_id": answer_id(song.get("song_id"), what, f"{where}.song_id")}
    url = _url(song.get("mp3_url"), what, f"{where}.mp3_url")
    if url:
        out["mp3_url"] = url
    for key in ("title", "version"):
        text = text_of(song.get(key), 200) if isinstance(song.get(key), (str, int)) else None
        if text:
            out[key] = str(text)
    millis = number_of(song.get("duration_milliseconds"))
    if millis is not None and 0 <= millis < 1e10:
        out["duration_s"] = round(millis / 1000.0, 3)
    generated = number_of(song.get("generate_at"))
    if generated is not None and 0 <= generated < 1e11:
        out["generate_at"] = int(generated)
    cover = song.get("cover")
    if isinstance(cover, str) and cover.startswith(("http://", "https://")):
        out["cover"] = redact_url(cover)
    return out


def song_items(items: Any, what: str) -> list[Mapping[str, Any]]:
    """The song objects of an answer's ``songs`` (``None``: none); anything but a list of objects fails."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise invalid_field(what, "songs", items, "a list of songs")
    for n, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise invalid_field(what, f"songs[{n}]", item, "a song object")
    return items


def song_summaries(items: Any, what: str) -> list[dict[str, Any]]:
    """THE song parser: every path that reads songs of an answer goes through here."""
    return [song_summary(s, what=what, where=f"songs[{n}]") for n, s in enumerate(song_items(items, what))]


def song_line(song: Any) -> str:
    """One item of the summary line: ``<title> v<version> (<seconds> s) <mp3_url>``."""
    item = song if isinstance(song, Mapping) else {}
    name = text_of(item.get("title"), 120) or text_of(item.get("song_id"), 200) or "song"
    version = f" v{item['version']}" if item.get("version") else ""
    url = item.get("mp3_url") if isinstance(item.get("mp3_url"), str) else ""
    return f"{name}{version} ({format_seconds(item.get('duration_s'))} s) {url}".strip()


# ---- stems ----------------------------------------------------------------------------------------------
def _stem_entries(stems: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(stems, Mapping):
        return ((str(k), v) for k, v in stems.items())
    if isinstance(stems, list):
        return ((str(s.get("name") or s.get("stem_name") or s.get("type") or f"stem{n + 1}"), s)
                for n, s in enumerate(stems) if isinstance(s, Mapping))
    return ()


def stems_summary(holder: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``{stems_id, bpm?, stems: {name: {wav, mp3}}}`` of a stems answer (URLs without query)."""
    out: dict[str, Any] = {"stems_id": answer_id(holder.get("stems_id"), what, "stems_id")}
    bpm = number_of(holder.get("bpm"))
    if bpm is not None and 0 < bpm < 1000:
        out["bpm"] = bpm
    stems: dict[str, dict[str, str]] = {}
    for name, stem in _stem_entries(holder.get("stems")):
        links = {k: u for k in ("wav", "mp3", "midi") if isinstance(stem, Mapping)
                 and (u := _url(stem.get(k), what, f"stems.{name}.{k}")) is not None}
        stems[text_of(name, 64) or "stem"] = links
    if stems:
        out["stems"] = stems
    return out


# ---- job records ----------------------------------------------------------------------------------------
def _status_of(job: Mapping[str, Any], what: str) -> str | None:
    status = job.get("status")
    if status is not None and not isinstance(status, str):
        raise invalid_field(what, "status", status, "a job state text")
    return (status or "").strip().lower()[:100] or None


def _error_of(job: Mapping[str, Any]) -> str | None:
    parts = [text_of(job.get(k), 300) for k in ("error", "errorDetails") if isinstance(job.get(k), str)]
    error = job.get("error")
    if isinstance(error, Mapping):
        parts = [text_of(error.get("message") or error.get("code"), 300)]
    return ": ".join(p for p in parts if p) or None


def job_summary(job: Mapping[str, Any], what: str = "job") -> dict[str, Any]:
    """The XCom-safe part of a job record or a direct answer (ids, state, songs; never the request echo)."""
    response: Mapping[str, Any] = job["response"] if isinstance(job.get("response"), Mapping) else {}
    songs = song_summaries(response.get("songs") if "songs" in response else job.get("songs"), what)
    request: Mapping[str, Any] = job["request"] if isinstance(job.get("request"), Mapping) else {}
    account = request.get("account")
    state = number_of(response.get("state") if "state" in response else job.get("state"))
    out: dict[str, Any] = {
        "jobid": answer_id(job["jobid"], what, "jobid") if job.get("jobid") is not None else None,
        "account": str(account) if isinstance(account, (str, int)) and not isinstance(account, bool) else None,
        "status": _status_of(job, what),
        "songs": songs,
        "song_ids": [s["song_id"] for s in songs],
    }
    if state is not None:
        out["state"] = int(state)
    for key in ("verb", "created", "updated"):
        if isinstance(job.get(key), str):
            out[key] = text_of(job[key], 100)
    holder = response if response.get("stems_id") is not None else job
    if holder.get("stems_id") is not None:
        out.update(stems_summary(holder, what))
    feed = number_of(response.get("feed_id") if "feed_id" in response else job.get("feed_id"))
    if feed is not None:
        out["feed_id"] = int(feed)
    error = _error_of(job)
    if error:
        out["error"] = error
    return out


def parse_job(body: Any, *, what: str = "job") -> dict[str, Any]:
    """A job record (GET jobs/{jobid}, a 201 async answer) or a direct answer (sync 200 with ``songs``, stems
    with ``stems_id``) -> :func:`job_summary`."""
    if not isinstance(body, Mapping) or not (body.get("jobid") or body.get("songs") or body.get("stems_id")):
        raise invalid_answer(what, body)
    return job_summary(body, what)


def job_state(job: Mapping[str, Any]) -> str:
    """``running``, ``success`` or ``failed`` for a job summary (unknown states keep running)."""
    status, state = job.get("status"), job.get("state")
    if status in JOB_FAILED or state == STATE_FAILED:
        return "failed"
    if status in JOB_DONE or (status is None and (state == STATE_DONE or job.get("songs") or job.get("stems_id"))):
        return "success"
    if job.get("error") and status not in JOB_RUNNING:
        return "failed"
    return "running"


def job_poll_result(body: Any, what: str = "GET jobs/{jobid}") -> PollResult:
    """Interpret one GET jobs/{jobid} answer (or a direct answer) for operators, the sensor and the trigger.

    Messages name neither the API nor the job: the callers name the job once around them."""
    job = parse_job(body, what=what)
    state = job_state(job)
    if state == "failed":
        message = job.get("error") or job.get("status") or "failed"
        if job["jobid"]:
            message = str(message).replace(job["jobid"], "{jobid}")
        return PollResult("failed", str(message), job)
    if state == "success":
        if job.get("stems_id"):
            return PollResult("success", f"completed: stems {job['stems_id']} ({len(job.get('stems') or {})})", job)
        if not job["songs"]:
            return PollResult("failed", "completed without songs", job)
        titles = ", ".join(str(s.get("title") or s["song_id"]) for s in job["songs"])
        return PollResult("success", f"completed: {len(job['songs'])} song(s): {titles}", job)
    if job["status"] in JOB_RUNNING or job["status"] is None:
        return PollResult("running", str(job["status"] or "created"), job)
    note = unknown_state("", job["status"], JOB_RUNNING + JOB_DONE + JOB_FAILED)
    return PollResult("running", note, job, unknown=(note,))


def job_reply_ref(job: Mapping[str, Any]) -> str | None:
    """The ``replyRef`` a job was created with: inside the ``request`` echo, or at the top."""
    request = job.get("request")
    ref = (request.get("replyRef") if isinstance(request, Mapping) else None) or job.get("replyRef")
    return str(ref) if ref else None


def request_matches(job: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """True when a job's ``request`` echo carries the same values as ``body`` for every echoed key."""
    request = job.get("request")
    if not isinstance(request, Mapping):
        return False
    keys = [k for k in body if k in request and k not in ("async", "replyUrl")]
    return bool(keys) and all(str(request[k]) == str(body[k]) for k in keys)


# ---- GET jobs -------------------------------------------------------------------------------------------
def _accounts_of(body: Any) -> Mapping[str, Any]:
    accounts = body.get("accounts") if isinstance(body, Mapping) else None
    if not isinstance(accounts, Mapping):
        raise invalid_answer("GET jobs", body)
    return accounts


def _list_of(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def running_jobs(body: Any) -> list[dict[str, Any]]:
    """GET jobs (``{total, accounts: {account: {jobs: [{jobid, verb, elapsed}]}}}``) -> running jobs."""
    out = []
    for account, entry in _accounts_of(body).items():
        jobs = entry.get("jobs") if isinstance(entry, Mapping) else None
        for job in jobs if isinstance(jobs, list) else []:
            if isinstance(job, Mapping) and isinstance(job.get("jobid"), str) and job["jobid"]:
                out.append({"jobid": job["jobid"], "account": str(account), "verb": job.get("verb"),
                            "elapsed": job.get("elapsed")})
    return out


def listed_jobs(body: Any) -> dict[str, Any]:
    """GET jobs -> ``{jobid: {"account": id}}`` (the shared poller's index): every listed job is running (the
    list has no status). Hostile entries are skipped; a body without ``accounts`` raises."""
    from airflow_provider_music.core.poller import listed_running

    pairs = ((job, str(account)) for account, entry in _accounts_of(body).items() if isinstance(entry, Mapping)
             for job in _list_of(entry.get("jobs")))
    return listed_running(pairs, job_id="jobid")


# ---- accounts, profile, music, lyrics, uploads, downloads -----------------------------------------------
def public_account(record: Any) -> dict[str, Any]:
    """An account record without its credentials (token, refresh token, password, session cookie)."""
    if not isinstance(record, Mapping) or not isinstance(record.get("account"), (str, int)):
        raise invalid_answer("accounts", record)
    return {k: v for k, v in record.items() if k not in ACCOUNT_SECRET_FIELDS and k != "user"} | (
        {"user": {k: v for k, v in record["user"].items() if k in ("id", "name", "gold", "vip_type")}}
        if isinstance(record.get("user"), Mapping) else {})


def parse_accounts(body: Any) -> dict[str, dict[str, Any]]:
    """GET accounts (``{account: record}``) or POST accounts rev A (the same) -> records without credentials."""
    if not isinstance(body, Mapping):
        raise invalid_answer("GET accounts", body)
    return {str(k): public_account(v) for k, v in body.items()}


def parse_profile(body: Any) -> dict[str, Any]:
    """GET profile -> ``{credits (Gold), credits_silver, account, vip_name, ...}`` (small; no models list)."""
    if not isinstance(body, Mapping) or number_of(body.get("credits")) is None:
        raise invalid_answer("GET profile", body)
    user: Mapping[str, Any] = body["user"] if isinstance(body.get("user"), Mapping) else {}
    out: dict[str, Any] = {"credits": number_of(body["credits"])}
    for key in ("credits_silver", "feed_list_count", "country_code", "free_download_mp3_models"):
        if body.get(key) is not None:
            out[key] = body[key]
    for key in ("id", "vip_name", "vip_level", "is_vip", "vip_end_UTC"):
        if user.get(key) is not None:
            out["account" if key == "id" else key] = str(user[key]) if key == "id" else user[key]
    return out


def parse_music_page(body: Any) -> dict[str, Any]:
    """GET music -> ``{songs: [summaries], last_id, more}`` (each generation holds two songs)."""
    items = body.get("list") if isinstance(body, Mapping) else None
    if not isinstance(items, list):
        raise invalid_answer("GET music", body)
    songs = [s for feed in items if isinstance(feed, Mapping) for s in song_summaries(feed.get("songs"), "GET music")]
    return {"songs": songs, "last_id": body.get("last_id"), "more": body.get("more") is True}


def songs_since(page: Mapping[str, Any], since: float | None) -> list[str]:
    """Song ids of a :func:`parse_music_page` made at/after ``since`` (epoch s). A song without a readable
    ``generate_at`` counts as inside the window: a lookup must fail closed."""
    return [s["song_id"] for s in page.get("songs", [])
            if since is None or s.get("generate_at") is None or s["generate_at"] >= since]


def parse_lyrics(body: Any) -> dict[str, Any]:
    """POST music/lyrics-generate -> ``{"lyrics": ...}``."""
    if not isinstance(body, Mapping) or not isinstance(body.get("lyrics"), str):
        raise invalid_answer("music/lyrics-generate", body)
    return {"lyrics": body["lyrics"], **({"title": body["title"]} if isinstance(body.get("title"), str) else {})}


def parse_upload(body: Any) -> dict[str, Any]:
    """POST files | files/motif | files/vocal -> ``{id, url (query-less), duration_s, ...}``."""
    if not isinstance(body, Mapping) or body.get("id") in (None, ""):
        raise invalid_answer("files", body)
    out: dict[str, Any] = {"id": answer_id(body["id"], "files", "id")}
    url = _url(body.get("url"), "files", "url")
    if url:
        out["url"] = url
    millis = number_of(body.get("duration_milliseconds"))
    if millis is not None and millis >= 0:
        out["duration_s"] = millis / 1000.0
    for key in ("title", "mood", "genre"):
        if isinstance(body.get(key), str):
            out[key] = text_of(body[key], 200)
    return out


def parse_stems_download(body: Any) -> dict[str, str]:
    """POST music/stems-download -> the live links it gives (``audio_zip``/``midi_zip``, ``wav``/``midi`` or
    ``url``), WITH their query: for an immediate download only, never stored."""
    if not isinstance(body, Mapping):
        raise invalid_answer("music/stems-download", body)
    links = {k: v for k in ("audio_zip", "midi_zip", "wav", "mp3", "midi", "url")
             if isinstance(v := body.get(k), str) and v.startswith(("http://", "https://"))}
    if not links:
        raise invalid_answer("music/stems-download", body)
    return links


def parse_download(body: Any) -> dict[str, Any]:
    """POST music/download -> ``{"url": <oss_key>, "paid_state"}`` (live link: for an immediate download)."""
    url = body.get("oss_key") if isinstance(body, Mapping) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise invalid_answer("music/download", body)
    return {"url": url, "paid_state": body.get("paid_state")}


def parse_stems(body: Any) -> dict[str, Any]:
    """POST music/stems: a job record (async) or the stems themselves (``stems_id``) -> :func:`job_summary`."""
    return parse_job(body, what="POST music/stems")
