"""Pure code of the FlowMusic API of useapi.net (``https://api.useapi.net/v1/flowmusic/``).

No I/O here: argument checks, request bodies, answer parsers and job status interpretation, shared by
:mod:`~airflow_provider_music.hooks.flowmusic`, the operators, the sensor, the trigger and the emulator
(:mod:`~airflow_provider_music.testing.flowmusic`). Contract: ``shared/api/flowmusic.md``.

Open questions of the contract are answered by accepting every shape it names: a sync (200) or async
(201) job record from POST music / music/edit, stems as a job record, a list of clips or ``{"stems"}``,
``replyRef`` at the top of a job record or inside its ``request`` echo, ids raw or percent-encoded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# The answer parsers (tolerant where they describe, strict where they decide) live in flowmusic_clips and
# are re-exported: callers keep using ``fm.parse_job`` and friends.
from airflow_provider_music.contract.flowmusic_clips import (  # noqa: F401 (re-exported)
    CLIP_FIELDS,
    JOB_DONE,
    JOB_FAILED,
    JOB_RUNNING,
    MAX_ID_LENGTH,
    STEM_NAMES,
    clip_line,
    clip_summaries,
    clip_summary,
    invalid_answer,
    job_poll_result,
    job_state,
    job_summary,
    parse_job,
    parse_music_page,
    parse_stems,
    stem_name,
)
from airflow_provider_music.core.errors import InvalidInputError, redact_url
from airflow_provider_music.core.parsing import (  # noqa: F401 (re-exported)
    TEXT_LIMIT,
    format_seconds,
    parse_iso,
    seconds_of,
)
from airflow_provider_music.core.validation import (  # noqa: F401 (re-exported: the hooks and emulator call fm.*)
    check_bool,
    check_choice,
    check_number,
    check_reply_url,
    check_text,
    path_segment,
    unset,
    validate_id,
)

DEFAULT_BASE_URL = "https://api.useapi.net/v1/flowmusic/"
DOCS_URL = "https://useapi.net/docs/api-flowmusic-v1"
MODELS = ("lyria-3-pro", "lyria-3.5")
GHOSTWRITERS = ("standard", "pro")
MODES = ("sync", "async")
EDIT_OPERATIONS = ("effect", "extend", "replace", "cover", "remix", "stems")
JOB_OPERATIONS = ("effect", "extend", "replace", "cover", "remix")
EFFECTS = ("Trim", "Fade", "Gain", "Reverb", "Pan", "Equalizer")
AUDIO_SOURCES = ("wav_url", "audio_url", "mp3")
MAX_REFS = 10
PROMPT_MAX = 10_000
SHORT_PROMPT_MAX = 2_000
#: Raw-body upload types of POST files, with their size caps.
IMAGE_MAX_BYTES = 20 * 1024 * 1024
AUDIO_MAX_BYTES = 40 * 1024 * 1024
UPLOAD_TYPES = {
    "image/jpeg": IMAGE_MAX_BYTES, "image/png": IMAGE_MAX_BYTES, "image/webp": IMAGE_MAX_BYTES,
    "audio/mpeg": AUDIO_MAX_BYTES, "audio/wav": AUDIO_MAX_BYTES, "audio/mp4": AUDIO_MAX_BYTES,
    "audio/x-m4a": AUDIO_MAX_BYTES, "audio/aac": AUDIO_MAX_BYTES,
}  # fmt: skip
UPLOAD_TYPE_BY_EXTENSION = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
    "mp3": "audio/mpeg", "wav": "audio/wav", "m4a": "audio/mp4", "aac": "audio/aac",
}  # fmt: skip
_MP4 = ("MP4 audio (M4A)", "MP4")
#: The containers (names of :func:`~airflow_provider_music.core.content.sniff_container`) each declared upload
#: type must be: the API answers 400 to a "magic-byte mismatch", so the client refuses before sending.
UPLOAD_CONTAINERS = {
    "image/jpeg": ("JPEG",), "image/png": ("PNG",), "image/webp": ("WebP",),
    "audio/mpeg": ("MPEG audio (MP3)", "MP3 (ID3)"), "audio/wav": ("WAV", "WAV (RF64)", "WAV (BW64)"),
    "audio/mp4": _MP4, "audio/x-m4a": _MP4, "audio/aac": (*_MP4, "AAC (ADTS)"),
}  # fmt: skip
IMAGE_MAGIC = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",), "image/webp": (b"RIFF",)}
#: Account fields never returned by the hook (the API redacts them, but they are credentials).
ACCOUNT_SECRET_FIELDS = ("access_token", "refresh_token", "session_id")
_EMAIL = re.compile(r"^[^@\s/\\?#]+@[^@\s/\\?#]+$")


# ---- argument checks -------------------------------------------------------------------------------
def check_model(name: str, value: Any, *, allow_unknown: bool = False) -> str | None:
    """A FlowMusic model: one useapi.net documents (:data:`MODELS`), or any short text with ``allow_unknown``
    (the enum is an open question of the digest: a model added later must stay usable, a typo must not pay)."""
    if unset(value):
        return None
    if allow_unknown:
        return check_text(name, value, required=True, max_length=64)
    if value not in MODELS:
        raise InvalidInputError(
            f"{name} must be one of {', '.join(MODELS)} (the models useapi.net documents), got {value!r:.80}; "
            "for a model added since, pass allow_unknown_model=True")
    return str(value)


def check_id(name: str, value: Any) -> str:
    """An opaque FlowMusic id (job id, clip id, asset id): no separators or escapes, bounded length."""
    return validate_id(value, name, max_length=MAX_ID_LENGTH)  # type: ignore[no-any-return]


def check_email(name: str, value: Any, *, required: bool = False) -> str | None:
    """The account selector: an e-mail address (``None`` lets the API pick an account with capacity)."""
    text = check_text(name, value, required=required, max_length=254)
    if text is not None and not _EMAIL.match(text.strip()):
        raise InvalidInputError(f"{name} must be the e-mail address of a FlowMusic account, got {text[:80]!r}")
    return text.strip() if text is not None else None


def path_id(value: str, name: str = "id") -> str:
    """Validate and percent-encode an id for a URL path (``job:...@...`` -> ``job%3A...%40...``)."""
    return path_segment(value, name)


def normalize_ids(value: Any, *, argument: str) -> list[str]:
    """One id, a list of ids, or an operator result (dict with ``jobid``/``clips``) -> list of ids."""
    if isinstance(value, Mapping):
        value = value.get("jobid") or value.get("clip_ids") or value.get("id")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or isinstance(value, (bytes, bytearray)) or not value:
        raise InvalidInputError(f"{argument} must be an id or a non-empty list of ids, got {value!r}"[:300])
    return [check_id(f"{argument}[{n}]", item) for n, item in enumerate(value)]


def _ref_ids(name: str, values: Any) -> list[str]:
    if values is None:
        return []
    if isinstance(values, (str, Mapping)):
        values = [values]
    if not isinstance(values, Sequence) or len(values) > MAX_REFS:
        raise InvalidInputError(f"{name} takes at most {MAX_REFS} asset ids, got {values!r}"[:300])
    out = []
    for n, item in enumerate(values):
        if isinstance(item, Mapping):  # an upload result
            item = item.get("id")
        out.append(check_id(f"{name}[{n}]", item))
    return out


# ---- request bodies --------------------------------------------------------------------------------
def dispatch_fields(
    *, email: Any = None, reply_url: Any = None, reply_ref: Any = None, mode: Any = None, model: Any = None
) -> dict[str, Any]:
    """The optional fields shared by POST music and POST music/edit."""
    out: dict[str, Any] = {}
    if not unset(email):
        out["email"] = check_email("account_email (email)", email)
    if mode is not None:
        out["mode"] = check_choice("mode", mode, MODES)
    if not unset(model):
        out["model"] = check_text("model", model, required=True, max_length=64)
    url = check_reply_url(reply_url)
    if url:
        out["replyUrl"] = url
    ref = check_text("reply_ref (replyRef)", reply_ref, max_length=1024)
    if ref:
        out["replyRef"] = ref
    return out


def build_generate_body(
    prompt: Any,
    *,
    lyrics: Any = None,
    instrumental: Any = None,
    ghostwriter: Any = None,
    ref_images: Any = None,
    ref_audios: Any = None,
    **dispatch: Any,
) -> dict[str, Any]:
    """Validate POST music arguments and build its body (no request)."""
    body: dict[str, Any] = {"prompt": check_text("prompt", prompt, required=True, max_length=PROMPT_MAX)}
    text = check_text("lyrics", lyrics, max_length=PROMPT_MAX)
    if text is not None:
        body["lyrics"] = text
    flag = check_bool("instrumental", instrumental)
    if flag is not None:
        body["instrumental"] = flag
    if flag and text:
        raise InvalidInputError("instrumental=True and lyrics exclude each other: drop one of them")
    writer = check_choice("ghostwriter", ghostwriter, GHOSTWRITERS)
    if writer is not None:
        body["ghostwriter"] = writer
    for n, ident in enumerate(_ref_ids("ref_images", ref_images), start=1):
        body[f"refImage{n}"] = ident
    for n, ident in enumerate(_ref_ids("ref_audios", ref_audios), start=1):
        body[f"refAudio{n}"] = ident
    body.update(dispatch_fields(**dispatch))
    return body


#: Per edit operation: (required fields, optional fields) besides ``clip``, ``seed``, ``title``.
EDIT_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "effect": (("effect",), ("gain_db", "mix", "room_size", "pan", "bass_db", "mid_db", "treble_db",
                              "fade_in_s", "fade_out_s", "start_s", "end_s")),
    "extend": (("instruction",), ("extend_s", "extend_from_s")),
    "replace": (("instruction", "mask_start_s", "mask_end_s"), ()),
    "cover": ((), ("instruction", "strength")),
    "remix": (("lyrics",), ("prompt",)),
    "stems": ((), ()),
}  # fmt: skip
#: Numeric edit parameters and their ranges (None: open).
EDIT_RANGES: dict[str, tuple[float | None, float | None]] = {
    "gain_db": (-30, 30), "mix": (0, 1), "room_size": (0, 1), "pan": (-1, 1), "bass_db": (-12, 12),
    "mid_db": (-12, 12), "treble_db": (-12, 12), "fade_in_s": (0, None), "fade_out_s": (0, None),
    "start_s": (0, None), "end_s": (0, None), "extend_s": (1, 300), "extend_from_s": (0, None),
    "mask_start_s": (0, None), "mask_end_s": (0, None), "strength": (0, 1),
}  # fmt: skip
EFFECT_PARAMS = {
    "Trim": ("start_s", "end_s"), "Fade": ("fade_in_s", "fade_out_s"), "Gain": ("gain_db",),
    "Reverb": ("mix", "room_size"), "Pan": ("pan",), "Equalizer": ("bass_db", "mid_db", "treble_db"),
}  # fmt: skip


def _edit_value(name: str, value: Any) -> Any:
    if name in EDIT_RANGES:
        low, high = EDIT_RANGES[name]
        return check_number(name, value, low, high)
    if name == "effect":
        return check_choice("effect", value, EFFECTS, required=True)
    limit = PROMPT_MAX if name in ("lyrics", "prompt") else SHORT_PROMPT_MAX
    return check_text(name, value, required=True, max_length=limit)


def _check_edit_ranges(operation: str, params: Mapping[str, Any]) -> None:
    pairs = {"replace": ("mask_start_s", "mask_end_s"), "effect": ("start_s", "end_s")}
    low_name, high_name = pairs.get(operation, ("", ""))
    low, high = params.get(low_name), params.get(high_name)
    if low is not None and high is not None and high <= low:
        raise InvalidInputError(f"{high_name} ({high}) must be greater than {low_name} ({low})")
    if operation == "effect":
        wanted = EFFECT_PARAMS[params["effect"]]
        given = [name for name in wanted if params.get(name) is not None]
        if not given:
            raise InvalidInputError(f"effect {params['effect']!r} needs {' or '.join(wanted)}")
        if params["effect"] == "Fade" and not any(params.get(n) for n in wanted):
            raise InvalidInputError("effect 'Fade' needs fade_in_s or fade_out_s greater than 0")


#: Edit fields that must lie within the source clip (the service refuses them past its duration).
WITHIN_CLIP = {"effect": ("end_s",), "replace": ("mask_end_s",)}


def check_within_clip(body: Mapping[str, Any], duration: Any) -> None:
    """Trim ``end_s`` and replace ``mask_end_s`` must be <= the clip's duration (when it is known)."""
    seconds = seconds_of(duration)
    if seconds is None:
        return
    names = WITHIN_CLIP.get(str(body.get("operation")), ())
    if body.get("operation") == "effect" and body.get("effect") != "Trim":
        return
    for name in names:
        value = body.get(name)
        if isinstance(value, (int, float)) and value > seconds:
            raise InvalidInputError(f"{name} ({value:g} s) is past the end of clip {body.get('clip')!r}: it "
                                    f"must be at most the clip's duration ({seconds:g} s)")


def build_edit_body(operation: Any, clip: Any, *, seed: Any = None, title: Any = None,
                    params: Mapping[str, Any] | None = None, clip_duration: Any = None,
                    **dispatch: Any) -> dict[str, Any]:
    """Validate POST music/edit arguments for one ``operation`` and build its body (no request).

    ``clip_duration`` (seconds, when known): Trim ``end_s`` / replace ``mask_end_s`` must not pass it."""
    op = check_choice("operation", operation, EDIT_OPERATIONS, required=True)
    assert op is not None
    required, optional = EDIT_FIELDS[op]
    given = {k: v for k, v in (params or {}).items() if v is not None}
    unknown = sorted(set(given) - set(required) - set(optional))
    if unknown:
        allowed = ", ".join(required + optional) or "no extra parameters"
        raise InvalidInputError(f"operation {op!r} does not take {', '.join(unknown)} (it takes: {allowed})")
    missing = [name for name in required if name not in given]
    if missing:
        raise InvalidInputError(f"operation {op!r} needs {', '.join(missing)}")
    body: dict[str, Any] = {"operation": op, "clip": check_id("clip", clip)}
    body.update({name: _edit_value(name, value) for name, value in given.items()})
    _check_edit_ranges(op, body)
    check_within_clip(body, clip_duration)
    number = check_number("seed", seed, 0, None, integer=True)
    if number is not None:
        body["seed"] = int(number)
    name = check_text("title", title, max_length=200)
    if name is not None:
        body["title"] = name
    if op == "stems":
        dispatch = {k: v for k, v in dispatch.items() if k not in ("reply_url", "reply_ref", "mode")}
    body.update(dispatch_fields(**dispatch))
    return body


def build_lyrics_body(prompt: Any, *, structure: Any = None, email: Any = None) -> dict[str, Any]:
    """The ``POST music/lyrics`` body (``prompt``, optional ``structure`` and account ``email``), checked."""
    body: dict[str, Any] = {"prompt": check_text("prompt", prompt, required=True, max_length=SHORT_PROMPT_MAX)}
    text = check_text("structure", structure, max_length=SHORT_PROMPT_MAX)
    if text is not None:
        body["structure"] = text
    if email is not None:
        body["email"] = check_email("email", email)
    return body


def upload_content_type(name: str, content_type: str | None) -> str:
    """The Content-Type of a POST files upload, from ``content_type`` or the file extension."""
    if content_type is None:
        ext = name.rpartition(".")[2].lower() if "." in name else ""
        content_type = UPLOAD_TYPE_BY_EXTENSION.get(ext)
        if content_type is None:
            raise InvalidInputError(
                f"source: cannot tell the type of {name!r}; use a .jpg, .png, .webp, .mp3, .wav, .m4a or .aac "
                f"file or pass content_type (one of {', '.join(UPLOAD_TYPES)})"
            )
    if content_type not in UPLOAD_TYPES:
        raise InvalidInputError(f"content_type must be one of {', '.join(UPLOAD_TYPES)}, got {content_type!r}")
    return content_type


def check_upload_size(name: str, size: int | None, content_type: str) -> None:
    """Refuse an empty upload or one larger than FlowMusic accepts for ``content_type`` (``size`` in bytes)."""
    cap = UPLOAD_TYPES[content_type]
    if size is not None and size > cap:
        raise InvalidInputError(
            f"source: {name!r} is {size / 2**20:.1f} MB; FlowMusic accepts {content_type} files up to "
            f"{cap // 2**20} MB"
        )
    if size == 0:
        raise InvalidInputError(f"source: {name!r} is empty")


def check_upload_match(name: str, container: str, content_type: str) -> None:
    """Fail before sending when the detected ``container`` is not what ``content_type`` declares (names the
    detected type and the type to declare; never the file's bytes)."""
    if container in UPLOAD_CONTAINERS[content_type]:
        return
    fits = [t for t, names in UPLOAD_CONTAINERS.items() if container in names]
    hint = f"pass content_type={fits[0]!r}" if fits else "FlowMusic does not take this format"
    raise InvalidInputError(f"source: {name!r} is {container} but is declared {content_type}: {hint}")


def check_image_head(name: str, head: bytes, content_type: str) -> None:
    """Fail before sending when an image's first bytes do not match its type (the API answers 400)."""
    magic = IMAGE_MAGIC.get(content_type)
    if magic and head and not head.startswith(magic):
        raise InvalidInputError(f"source: {name!r} is not a {content_type} image (its first bytes do not match)")
    if content_type == "image/webp" and head and head[8:12] != b"WEBP":
        raise InvalidInputError(f"source: {name!r} is not a {content_type} image (its first bytes do not match)")


# ---- answers ---------------------------------------------------------------------------------------
def job_reply_ref(job: Mapping[str, Any]) -> str | None:
    """The ``replyRef`` a job was created with: top level or inside the ``request`` echo."""
    request = job.get("request")
    ref = job.get("replyRef") or (request.get("replyRef") if isinstance(request, Mapping) else None)
    return str(ref) if ref else None


def request_matches(job: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """True when a job's ``request`` echo carries the same values as ``body`` for every echoed key."""
    request = job.get("request")
    if not isinstance(request, Mapping):
        return False
    keys = [k for k in body if k in request and k not in ("mode", "replyUrl")]
    return bool(keys) and all(str(request[k]) == str(body[k]) for k in keys)


def running_jobs(body: Any) -> list[dict[str, Any]]:
    """GET jobs (``{email: {running, maxJobs, jobs[]}}``) -> ``[{jobid, email, status, created_at}]``."""
    if not isinstance(body, Mapping) or not all(isinstance(v, Mapping) for v in body.values()):
        raise invalid_answer("GET jobs", body)
    out = []
    for email, account in body.items():
        jobs = account.get("jobs")
        for job in jobs if isinstance(jobs, list) else []:
            if isinstance(job, Mapping) and job.get("jobid"):
                out.append({"jobid": str(job["jobid"]), "email": str(email), "status": job.get("status"),
                            "created_at": job.get("created_at"), "operation": job.get("operation")})
    return out


def _list_of(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def listed_jobs(body: Any) -> dict[str, Any]:
    """GET jobs -> ``{jobid: {"account": email}}`` of the jobs it shows ``pending`` (the shared poller's index).

    A job listed with another status (``completed``/``failed`` linger there), with a hostile id (``NaN``, a
    list, an object), twice under different accounts, or past :data:`~.core.poller.MAX_LISTED` entries is
    left out: its wait asks GET jobs/{jobid} itself. An answer that is not an object of accounts raises
    :class:`~.core.errors.InvalidResponseError` (every wait then asks by itself)."""
    from airflow_provider_music.core.poller import listed_running

    if not isinstance(body, Mapping):
        raise invalid_answer("GET jobs", body)
    pairs = ((job, email) for email, account in body.items() if isinstance(account, Mapping)
             for job in _list_of(account.get("jobs")))
    return listed_running(pairs, job_id="jobid", status="status", status_ok=JOB_RUNNING)


def public_account(record: Any) -> dict[str, Any]:
    """An account record without its (redacted) tokens."""
    if not isinstance(record, Mapping) or not isinstance(record.get("email"), str):
        raise invalid_answer("accounts", record)
    return {k: v for k, v in record.items() if k not in ACCOUNT_SECRET_FIELDS}


def parse_accounts(body: Any) -> dict[str, dict[str, Any]]:
    """The ``GET accounts`` answer as ``{email: account}`` with only public fields (never a token or cookie)."""
    if not isinstance(body, Mapping):
        raise invalid_answer("GET accounts", body)
    return {str(email): public_account(rec) for email, rec in body.items()}


def parse_asset(body: Any) -> dict[str, Any]:
    """POST files / files/generate -> ``{id, url (query-less), kind, email, ...}``."""
    if not isinstance(body, Mapping) or not body.get("id"):
        raise invalid_answer("files", body)
    out: dict[str, Any] = {k: v for k, v in body.items() if isinstance(v, (str, int, float, bool)) or v is None}
    url = out.get("url")
    if isinstance(url, str):
        out["url"] = redact_url(url)
    return out


def parse_lyrics(body: Any) -> dict[str, Any]:
    """POST music/lyrics -> ``{title, lyrics, sound_prompt, email, credits_burned}``."""
    if not isinstance(body, Mapping) or not isinstance(body.get("lyrics"), str):
        raise invalid_answer("music/lyrics", body)
    keys = ("email", "title", "lyrics", "sound_prompt", "source", "credits_burned")
    return {k: body.get(k) for k in keys if body.get(k) is not None}


def clip_source_url(clip: Mapping[str, Any], source: str) -> str | None:
    """The URL to fetch for ``source`` (``wav_url``/``audio_url``; ``None`` for ``mp3``: music/download)."""
    if source == "mp3":
        return None
    url = clip.get(source) or clip.get("audio_url" if source == "wav_url" else "wav_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidInputError(f"clip {clip.get('clip')!r} has no {source} to download (use source='mp3')")
    return url


def clip_ids_of(value: Any, *, argument: str = "clips") -> list[str]:
    """Clip ids from a clip id, a list of them, a job summary, a list of summaries or clip dicts."""
    items: Iterable[Any]
    if isinstance(value, Mapping):
        items = value.get("clip_ids") or [c.get("clip") for c in value.get("clips") or [] if isinstance(c, Mapping)]
        items = items or ([value["clip"]] if value.get("clip") else [])
    elif isinstance(value, str):
        items = [value]
    elif isinstance(value, Sequence):
        items = []
        for item in value:
            items = [*items, *clip_ids_of(item, argument=argument)] if isinstance(item, Mapping) else [*items, item]
    else:
        items = []
    ids = [check_id(f"{argument}[{n}]", item) for n, item in enumerate(items)]
    if not ids:
        raise InvalidInputError(f"{argument} must name at least one clip (an id, a list, or a job result)")
    return ids


def pick_clip(value: Any, index: int, *, argument: str = "clip") -> str:
    """Clip number ``index`` of an operator input (a clip id, a job result, a list of them)."""
    ids = clip_ids_of(value, argument=argument)
    if index >= len(ids):
        raise InvalidInputError(f"clip_index {index} is out of range: {argument} has {len(ids)} clip(s)")
    return ids[index]
