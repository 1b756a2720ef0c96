"""Pure parsing of the FlowMusic answers that carry clips: job records, stems answers and GET music pages.

The rule once paid work exists (a job record, stems, a listed clip): what only DESCRIBES is tolerant and what
DECIDES is strict.

* Describe-only (titles, durations, seeds, times, the cover image link, a failed job's error text): an odd
  value is converted when it can be (``"3:20"`` -> 200.0 s, ``"12.5"`` -> 12.5) or dropped, the oddity is
  logged, and the run goes on. A summary line never fails on them (:func:`format_seconds`, :func:`clip_line`).
* Decisions (clip and job ids, the job state, the ``audio_url``/``wav_url`` a download fetches, the shape of
  the clip list): an odd value is an :class:`InvalidResponseError` naming the field (``clips[1].clip``).

Every path (GET jobs/{jobid}, POST music and music/edit answers, stems, GET music, the sync and async status)
reads clips through :func:`clip_summaries`, so a summary always has its ``clip`` id. No I/O here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from airflow_provider_music.core.errors import InvalidInputError, InvalidResponseError, redact_url
from airflow_provider_music.core.parsing import PollResult, format_seconds, seconds_of, text_of, unknown_state
from airflow_provider_music.core.redaction import describe_body
from airflow_provider_music.core.validation import validate_id

log = logging.getLogger(__name__)

MAX_ID_LENGTH = 512
STEM_NAMES = ("drums", "bass", "vocals", "other")
#: Job states of the contract, plus spellings a later revision might use.
JOB_DONE = ("completed", "complete", "succeeded", "success")
JOB_FAILED = ("failed", "error", "cancelled", "canceled", "rejected", "moderated")
JOB_RUNNING = ("pending", "queued", "processing", "running", "started", "in_progress")
#: Small clip fields kept in XCom and trigger events (never lyrics timing or the request echo).
CLIP_FIELDS = ("clip", "title", "duration_s", "seed", "audio_url", "wav_url", "image_url", "created_at", "stem")
#: The clip fields a download decides on: strict.
AUDIO_URL_FIELDS = ("audio_url", "wav_url")


def invalid_answer(what: str, body: Any) -> InvalidResponseError:
    """The :class:`InvalidResponseError` for an unexpected body of FlowMusic call ``what`` (body shown shortened)."""
    return InvalidResponseError(f"FlowMusic {what} answered with an unexpected body: {describe_body(body)}")


def invalid_field(what: str, name: str, value: Any, expected: str) -> InvalidResponseError:
    """A deciding field of an answer has an unusable value: the error names the field."""
    shown = "missing" if value is None else f"{type(value).__name__} {describe_body(value, 80)}"
    return InvalidResponseError(f"FlowMusic {what} answered with an unusable {name} ({shown}): expected {expected}")


def _seed_of(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 20:
        return int(value.strip())
    return None


def clip_line(clip: Any) -> str:
    """One item of the summary line: ``<title> (<seconds> s) <wav_url>``, whatever the clip holds."""
    item = clip if isinstance(clip, Mapping) else {}
    name = text_of(item.get("title"), 120) or text_of(item.get("clip"), 200) or "clip"
    url = item.get("wav_url") if isinstance(item.get("wav_url"), str) else ""
    return f"{name} ({format_seconds(item.get('duration_s'))} s) {url}".strip()


# ---- deciding values: strict ----------------------------------------------------------------------------
def answer_id(value: Any, what: str, name: str) -> str:
    """An id the client acts on (clip id, jobid): a valid id string, else an error naming ``name``."""
    if not isinstance(value, str):
        raise invalid_field(what, name, value, "an id string")
    try:
        return validate_id(value, name, max_length=MAX_ID_LENGTH)  # type: ignore[no-any-return]
    except InvalidInputError:
        raise invalid_field(what, name, value, "an id string") from None


def _audio_url(value: Any, what: str, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise invalid_field(what, name, value, "an http(s) URL")
    return redact_url(value)


def clip_items(items: Any, what: str) -> list[Mapping[str, Any]]:
    """The clip objects of an answer's ``clips`` (``None``: none). Anything but a list of objects fails."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise invalid_field(what, "clips", items, "a list of clips")
    for n, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise invalid_field(what, f"clips[{n}]", item, "a clip object")
    return items


def clip_summary(clip: Mapping[str, Any], stem: str | None = None, *, what: str = "clip",
                 where: str = "clip") -> dict[str, Any]:
    """The XCom-safe part of a clip: its id (strict), query-less audio URLs (strict) and what describes it
    (tolerant: odd values are dropped and logged)."""
    out: dict[str, Any] = {"clip": answer_id(clip.get("clip"), what, f"{where}.clip")}
    odd: list[str] = []
    converters: tuple[tuple[str, Any], ...] = (("title", text_of), ("created_at", text_of), ("stem", text_of),
                                               ("duration_s", seconds_of), ("seed", _seed_of))
    for key, convert in converters:
        if clip.get(key) is None:
            continue
        value = convert(clip[key])
        if value is None:
            odd.append(key)
        else:
            out[key] = value
    for key in AUDIO_URL_FIELDS:
        url = _audio_url(clip.get(key), what, f"{where}.{key}")
        if url is not None:
            out[key] = url
    image = clip.get("image_url")
    if isinstance(image, str) and image.startswith(("http://", "https://")):
        out["image_url"] = redact_url(image)
    elif image not in (None, ""):
        odd.append("image_url")
    if stem:
        out["stem"] = stem
    if odd:
        log.warning("FlowMusic %s: %s of clip %s ignored (unexpected values)", what, ", ".join(odd), out["clip"])
    return out


def clip_summaries(items: Any, what: str) -> list[dict[str, Any]]:
    """THE clip parser: every path that reads clips of an answer goes through here."""
    return [clip_summary(c, what=what, where=f"clips[{n}]") for n, c in enumerate(clip_items(items, what))]


# ---- job records ------------------------------------------------------------------------------------------
def _error_of(job: Mapping[str, Any]) -> dict[str, str] | None:
    error = job.get("error")
    if isinstance(error, Mapping):
        code, message = text_of(error.get("code"), 100), text_of(error.get("message"), 500)
        return {"code": code or "unknown", "message": message or ""}
    if isinstance(error, str) and error:
        return {"code": "unknown", "message": error[:500]}
    return None


def _status_of(job: Mapping[str, Any], what: str) -> str | None:
    status = job.get("status")
    if status is not None and not isinstance(status, str):
        raise invalid_field(what, "status", status, "a job state text")
    return (status or "").strip().lower()[:100] or None


def job_summary(job: Mapping[str, Any], what: str = "job") -> dict[str, Any]:
    """The XCom-safe part of a job record (ids, state, clips; never the request echo or lyrics)."""
    clips = clip_summaries(job.get("clips"), what)
    out: dict[str, Any] = {
        "jobid": answer_id(job["jobid"], what, "jobid") if job.get("jobid") is not None else None,
        "email": job.get("email") if isinstance(job.get("email"), str) else None,
        "status": _status_of(job, what),
        "clips": clips,
        "clip_ids": [c["clip"] for c in clips],
    }
    for key in ("operation", "created_at", "completed_at"):
        text = text_of(job.get(key), 100) if isinstance(job.get(key), str) else None
        if text is not None:
            out[key] = text
    duration = seconds_of(job.get("duration_ms")) if isinstance(job.get("duration_ms"), (int, float)) else None
    if duration is not None and duration < 1e12:
        out["duration_ms"] = duration
    error = _error_of(job)
    if error:
        out["error"] = error
    return out


def parse_job(body: Any, *, what: str = "job") -> dict[str, Any]:
    """A job record (GET jobs/{jobid}, POST music 200/201, POST music/edit) -> :func:`job_summary`."""
    if not isinstance(body, Mapping) or not (body.get("jobid") or body.get("clips")):
        raise invalid_answer(what, body)
    return job_summary(body, what)


def job_state(status: Any) -> str:
    """``running``, ``success`` or ``failed`` for a job ``status`` (unknown spellings keep running)."""
    text = str(status or "").strip().lower()
    if text in JOB_DONE:
        return "success"
    if text in JOB_FAILED:
        return "failed"
    return "running"


def job_poll_result(body: Any, what: str = "GET jobs/{jobid}") -> PollResult:
    """Interpret one GET jobs/{jobid} answer for operators, the sensor and the trigger.

    Messages name neither the API nor the job: the operator, sensor and trigger name the job once around them
    (``FlowMusic job jobid=job:... failed: generation_failed: ...``)."""
    job = parse_job(body, what=what)
    state = job_state(job["status"])
    if state == "failed":
        error = job.get("error") or {"code": job["status"], "message": ""}
        if job["jobid"]:  # the caller names the job once
            error = {k: str(v).replace(job["jobid"], "{jobid}") for k, v in error.items()}
        hint = " (cancelled through DELETE jobs/{jobid})" if error["code"] == "user_cancelled" else ""
        return PollResult("failed", f"{error['code']}: {error['message']}{hint}".rstrip(": "), job)
    if state == "success":
        if not job["clips"]:
            return PollResult("failed", "completed without clips", job)
        titles = ", ".join(str(c.get("title") or c["clip"]) for c in job["clips"])
        return PollResult("success", f"completed: {len(job['clips'])} clip(s): {titles}", job)
    if job["status"] in JOB_RUNNING:
        return PollResult("running", str(job["status"]), job)
    note = unknown_state("", job["status"] or "(none)", JOB_RUNNING + JOB_DONE + JOB_FAILED)
    return PollResult("running", note, job, unknown=(note,))


# ---- stems and GET music ----------------------------------------------------------------------------------
def stem_name(clip: Mapping[str, Any], index: int) -> str:
    """``drums``/``bass``/``vocals``/``other`` from an explicit field, the title suffix, or the order."""
    for key in ("stem", "name", "type"):
        if isinstance(clip.get(key), str) and clip[key].strip().lower() in STEM_NAMES:
            return str(clip[key].strip().lower())
    title = str(clip.get("title") or "").lower() if isinstance(clip.get("title"), str) else ""
    for name in STEM_NAMES:
        if title.endswith(f"- {name}") or title.endswith(f"({name})"):
            return name
    return STEM_NAMES[index] if index < len(STEM_NAMES) else f"stem{index + 1}"


def stem_items(body: Any) -> Any:
    """The clip list of a stems answer: a job-record-like object, ``{"stems": [...]}``, a name -> clip
    object or a plain list."""
    items: Any = body
    if isinstance(body, Mapping):
        items = body.get("clips") if isinstance(body.get("clips"), list) else body.get("stems")
    if isinstance(items, Mapping):  # {"drums": {clip...}, ...}
        items = [{**v, "stem": k} if isinstance(v, Mapping) else v for k, v in items.items()]
    return items


def parse_stems(body: Any) -> list[dict[str, Any]]:
    """POST music/edit ``stems`` -> one summary per stem clip, each with ``stem``."""
    items = stem_items(body)
    if not isinstance(items, list) or not items:
        raise invalid_answer("stems", body)
    clips = clip_items(items, "POST music/edit (stems)")
    return [clip_summary(c, stem_name(c, n), what="POST music/edit (stems)", where=f"clips[{n}]")
            for n, c in enumerate(clips)]


def parse_music_page(body: Any) -> dict[str, Any]:
    """GET music -> ``{email, clips: [summaries], next}`` (``next`` is None on the last page)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("clips"), list):
        raise invalid_answer("GET music", body)
    nxt = body.get("next")
    return {
        "email": body.get("email") if isinstance(body.get("email"), str) else None,
        "clips": clip_summaries(body["clips"], "GET music"),
        "next": int(nxt) if isinstance(nxt, int) and not isinstance(nxt, bool) and nxt >= 0 else None,
    }
