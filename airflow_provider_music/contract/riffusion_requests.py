"""Pure Riffusion request code: create-prompt / create-compose bodies, and how to recognise the work a
create produced when its answer was lost (``GET scheduler`` by ``replyRef``, ``GET music`` by the recorded
request and time window).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_music.contract.riffusion import (
    COMPOSE_INT_RANGES,
    MAX_TITLE_LENGTH,
    MAX_URL_LENGTH,
    PROMPT_INT_RANGES,
    api_id,
    check_id,
    check_int,
    check_lyrics,
    check_max_jobs,
    check_prompt,
    check_reply_url,
    check_text,
    parse_started,
)
from airflow_provider_music.core.errors import InvalidInputError

CREATE_MODES = ("prompt", "compose")


def common_create_fields(
    model: Any = None, user_id: Any = None, reply_url: Any = None, reply_ref: Any = None, max_jobs: Any = None
) -> dict[str, Any]:
    """The fields create-prompt and create-compose share, checked."""
    out: dict[str, Any] = {}
    if model is not None:
        out["model"] = check_text("model", model, required=True, max_length=100)
    if user_id:
        out["user_id"] = check_id("user_id", user_id)
    url = check_reply_url(reply_url)
    if url:
        out["replyUrl"] = url
    ref = check_text("reply_ref (replyRef)", reply_ref, max_length=MAX_URL_LENGTH)
    if ref:
        out["replyRef"] = ref
    jobs = check_max_jobs(max_jobs)
    if jobs is not None:
        out["maxJobs"] = jobs
    return out


def build_prompt_body(prompt: Any, *, instrumental: Any = None, **common: Any) -> dict[str, Any]:
    """The JSON body of POST music/create-prompt (checked; no request)."""
    body: dict[str, Any] = {"prompt": check_prompt("prompt", prompt)}
    if isinstance(instrumental, str) and instrumental.strip().lower() in ("true", "false"):
        instrumental = instrumental.strip().lower() == "true"  # what a template renders
    if instrumental is not None:
        if not isinstance(instrumental, bool):
            raise InvalidInputError(f"instrumental must be true or false, got {instrumental!r}")
        body["instrumental"] = instrumental
    body.update(common_create_fields(**common))
    return body


def _prompt_fields(n: int, item: Any) -> dict[str, Any]:
    spec: Any = {"prompt": item} if isinstance(item, str) else item
    if not isinstance(spec, Mapping):
        raise InvalidInputError(f"prompt_{n} must be a string or a dict with 'prompt', got {item!r}"[:200])
    unknown = set(spec) - {"prompt", *PROMPT_INT_RANGES}
    if unknown:
        raise InvalidInputError(f"prompt_{n}: unknown key(s) {sorted(map(str, unknown))}; allowed: prompt, strength, start, end")
    out: dict[str, Any] = {f"prompt_{n}": check_prompt(f"prompt_{n}", spec.get("prompt"))}
    values = {key: check_int(f"prompt_{n}_{key}", spec.get(key), low, high) for key, (low, high) in PROMPT_INT_RANGES.items()}
    if values["start"] is not None and values["end"] is not None and values["start"] >= values["end"]:
        raise InvalidInputError(f"prompt_{n}_start ({values['start']}) must be lower than prompt_{n}_end ({values['end']})")
    out.update({f"prompt_{n}_{key}": value for key, value in values.items() if value is not None})
    return out


def build_compose_body(
    prompts: Any,
    *,
    lyrics: Any = None,
    title: Any = None,
    lyrics_strength: Any = None,
    lyrics_weirdness: Any = None,
    audio_upload_id: Any = None,
    image_id: Any = None,
    **common: Any,
) -> dict[str, Any]:
    """The JSON body of POST music/create-compose (checked; no request)."""
    if isinstance(prompts, (str, Mapping)):
        prompts = [prompts]
    if not isinstance(prompts, Sequence) or not 1 <= len(prompts) <= 3:
        raise InvalidInputError(f"prompts must hold 1 to 3 prompts (prompt_1..prompt_3), got {prompts!r}"[:300])
    body: dict[str, Any] = {}
    for n, item in enumerate(prompts, start=1):
        body.update(_prompt_fields(n, item))
    if lyrics is not None:
        body["lyrics"] = check_lyrics(lyrics)
    if title is not None:
        body["title"] = check_text("title", title, required=True, max_length=MAX_TITLE_LENGTH)
    for name, value in (("lyrics_strength", lyrics_strength), ("lyrics_weirdness", lyrics_weirdness)):
        checked = check_int(name, value, *COMPOSE_INT_RANGES[name])
        if checked is not None:
            body[name] = checked
    for name, value in (("audio_upload_id", audio_upload_id), ("image_id", image_id)):
        if value is not None:
            body[name] = check_id(name, value)
    body.update(common_create_fields(**common))
    return body


# ---- finding the work of a create whose answer was lost ---------------------------------------------
def request_markers(body: Mapping[str, Any]) -> dict[str, str]:
    """What a song created by ``body`` (a create-prompt/compose JSON body) shows in GET music."""
    markers = {}
    for key in ("prompt", "prompt_1"):
        if isinstance(body.get(key), str):
            markers["prompt"] = body[key].strip()
    for key in ("title", "lyrics", "audio_upload_id", "image_id"):
        if isinstance(body.get(key), str) and body[key].strip():
            markers[key] = body[key].strip()
    return markers


def song_matches_request(song: Mapping[str, Any], markers: Mapping[str, str], since: float, until: float) -> bool:
    """True when ``song`` was created in ``[since, until]`` and shows every marker of the request."""
    created = parse_started(song.get("created_at"))
    if created is None or not since <= created <= until:
        return False
    texts = " ".join(str(song.get(k) or "") for k in ("topic", "sound", "audio_variation", "conditions", "title"))
    for key, value in markers.items():
        if key == "prompt" and value not in texts:
            return False
        if key == "title" and not str(song.get("title") or "").startswith(value):
            return False
        if key in ("lyrics", "audio_upload_id", "image_id") and str(song.get(key) or "").strip() != value:
            return False
    return True


def scheduler_jobs_for(jobs: Iterable[Any], reply_ref: str, since: float | None) -> list[str]:
    """Job ids of ``GET scheduler`` entries carrying ``replyRef == reply_ref`` started at or after ``since``."""
    ids = []
    for job in jobs:
        if not isinstance(job, Mapping) or job.get("replyRef") != reply_ref or not isinstance(job.get("job_id"), str) or not job["job_id"]:
            continue
        started = parse_started(job.get("started"))
        if since is not None and started is not None and started < since:
            continue
        ids.append(api_id(job["job_id"], what="job id"))
    return ids
