"""Pure code of the Mureka API of useapi.net (``https://api.useapi.net/v1/mureka/``): checks and request bodies.

No I/O here: argument checks and request bodies, shared by :mod:`airflow_provider_music.hooks.mureka`, the
operators, the sensor, the trigger and the emulator (:mod:`airflow_provider_music.testing.mureka`). The answer
parsers and the job status interpretation live in :mod:`~airflow_provider_music.contract.mureka_answers` and are
re-exported here. Contract: ``shared/api/mureka.md``.

Same vendor, token and conventions as FlowMusic (the generic argument checks are FlowMusic's public ones), but
another contract: the account selector is ``account`` (a numeric Mureka id, in the body of a POST and the query
of a GET), ``async: true`` instead of ``mode``, statuses ``created -> completed | failed``, songs under
``response.songs`` and no cancel call. Open questions of the digest are answered by accepting every shape it
names: ``song_id`` as a string or a number, songs at the top of a sync answer or under ``response``, stems as a
job or a direct answer, a failed job told by ``status`` or by ``error`` or by ``response.state`` 4.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from airflow_provider_music.contract.mureka_answers import (  # noqa: F401 (re-exported)
    JOB_DONE,
    JOB_FAILED,
    JOB_RUNNING,
    MAX_ID_LENGTH,
    invalid_answer,
    job_poll_result,
    job_reply_ref,
    job_state,
    listed_jobs,
    parse_accounts,
    parse_download,
    parse_job,
    parse_lyrics,
    parse_music_page,
    parse_profile,
    parse_stems,
    parse_stems_download,
    parse_upload,
    public_account,
    request_matches,
    running_jobs,
    song_line,
    song_summary,
    songs_since,
)
from airflow_provider_music.core.errors import InvalidInputError
from airflow_provider_music.core.parsing import parse_iso  # noqa: F401 (re-exported)
from airflow_provider_music.core.validation import (  # noqa: F401 (re-exported: useapi.net form conventions)
    check_bool,
    check_choice,
    check_number,
    check_reply_url,
    check_text,
    path_segment,
    unset,
    validate_id,
)

DEFAULT_BASE_URL = "https://api.useapi.net/v1/mureka/"
DOCS_URL = "https://useapi.net/docs/api-mureka-v1"
#: Models useapi.net documents (Aug 2026: V9.5 default). Not enforced: the list changes often, the digest says
#: "pass model explicitly, do not validate against a fixed list"; any short name is sent as given.
MODELS = ("V9.5", "V9", "V8", "O2", "V7.6")
#: The three generation endpoints, by the operator's ``kind``.
CREATE_PATHS = {"create": "music/create", "advanced": "music/create-advanced",
                "instrumental": "music/create-instrumental"}
#: Edits of an existing song (each a new paid job on the song's own account), by ``operation``.
EDIT_PATHS = {"extend": "music/extend", "regenerate": "music/regenerate", "edit": "music/edit",
              "remix": "music/remix"}
VOCAL_GENDERS = ("female", "male")
DOWNLOAD_TYPES = ("stem", "license")
STEM_NAMES = ("vocal", "drums", "bass", "other")
#: Upload kinds: path, whether ``title``/``genre``/``mood`` are required.
UPLOAD_KINDS = {"reference": "files", "motif": "files/motif", "vocal": "files/vocal"}
UPLOAD_MAX_BYTES = 5 * 1024**3
PROMPT_MAX = 3_000
INSTRUMENTAL_PROMPT_MAX = 1_000
LYRICS_MAX = 5_000
TITLE_MAX = 50
DESC_MAX = 1_000
_ACCOUNT = re.compile(r"^\d{1,30}$")


# ---- argument checks -------------------------------------------------------------------------------
def check_account(name: str, value: Any, *, required: bool = False) -> str | None:
    """The account selector: the numeric Mureka user id, as a string (``None`` when optional and unset)."""
    if unset(value) and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str) or not _ACCOUNT.match(value.strip()):
        raise InvalidInputError(
            f"{name} must be the numeric id of a Mureka account (e.g. '12345678901234'), got {value!r:.80}")
    return value.strip()


def check_id(name: str, value: Any) -> str:
    """An opaque Mureka id (jobid, song_id, stems_id, motif id): a string (or a number: old song ids)."""
    return validate_id(value, name, max_length=MAX_ID_LENGTH)  # type: ignore[no-any-return]


def check_song_id(name: str, value: Any) -> str | int:
    """A ``song_id``: the string form, or the number older pages send (kept a number on the wire)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise InvalidInputError(f"{name} must be a song id, got {value!r}")
        return value
    return check_id(name, value)


def check_model(name: str, value: Any) -> str | None:
    """A model name (any short text: the list changes; see :data:`MODELS`)."""
    return check_text(name, value, max_length=32)


def path_id(value: Any, name: str = "id") -> str:
    """Validate and percent-encode an id for a URL path (``j01...-bot:mureka`` -> ``...-bot%3Amureka``)."""
    return path_segment(value, name)


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


# ---- request bodies --------------------------------------------------------------------------------
def dispatch_fields(*, account: Any = None, model: Any = None, async_: Any = True, reply_url: Any = None,
                    reply_ref: Any = None) -> dict[str, Any]:
    """The fields every generation shares: ``account``, ``model``, ``async``, ``replyUrl``, ``replyRef``."""
    out: dict[str, Any] = {}
    _put(out, "account", check_account("account", account))
    _put(out, "model", check_model("model", model))
    flag = check_bool("async", async_)
    _put(out, "async", flag)
    _put(out, "replyUrl", check_reply_url(reply_url))
    _put(out, "replyRef", check_text("reply_ref (replyRef)", reply_ref, max_length=1024))
    return out


def build_create_body(kind: Any, *, prompt: Any = None, lyrics: Any = None, title: Any = None, desc: Any = None,
                      vocal_id: Any = None, ref_id: Any = None, motif_id: Any = None, vocal_gender: Any = None,
                      character_id: Any = None, **dispatch: Any) -> dict[str, Any]:
    """Validate the arguments of POST music/create | create-advanced | create-instrumental and build the body.

    ``kind``: ``create`` (the AI writes the lyrics from ``prompt``), ``advanced`` (your ``lyrics``, with
    ``title``, ``desc``, ``vocal_id``, ``ref_id``, ``motif_id``, ``vocal_gender``, ``character_id``) or
    ``instrumental`` (``prompt``, ``title``, ``ref_id``)."""
    chosen = check_choice("kind", kind, tuple(CREATE_PATHS), required=True)
    allowed = {"create": {"prompt"}, "instrumental": {"prompt", "title", "ref_id"},
               "advanced": {"lyrics", "title", "desc", "vocal_id", "ref_id", "motif_id", "vocal_gender",
                            "character_id"}}[str(chosen)]
    given = {"prompt": prompt, "lyrics": lyrics, "title": title, "desc": desc, "vocal_id": vocal_id,
             "ref_id": ref_id, "motif_id": motif_id, "vocal_gender": vocal_gender, "character_id": character_id}
    extra = sorted(k for k, v in given.items() if not unset(v) and k not in allowed)
    if extra:
        raise InvalidInputError(f"kind {chosen!r} does not take {', '.join(extra)} (it takes: {', '.join(sorted(allowed))})")
    body: dict[str, Any] = {}
    limit = INSTRUMENTAL_PROMPT_MAX if chosen == "instrumental" else PROMPT_MAX
    _put(body, "prompt", check_text("prompt", prompt, max_length=limit))
    _put(body, "lyrics", check_text("lyrics", lyrics, required=chosen == "advanced", max_length=LYRICS_MAX))
    _put(body, "title", check_text("title", title, max_length=TITLE_MAX))
    _put(body, "desc", check_text("desc", desc, max_length=DESC_MAX))
    for name, value in (("vocal_id", vocal_id), ("ref_id", ref_id), ("motif_id", motif_id),
                        ("character_id", character_id)):
        if not unset(value):
            body[name] = _ref_of(name, value)
    _put(body, "vocal_gender", check_choice("vocal_gender", vocal_gender, VOCAL_GENDERS))
    if "motif_id" in body and {"ref_id", "vocal_id", "desc"} & set(body):
        clash = ", ".join(sorted({"ref_id", "vocal_id", "desc"} & set(body)))
        raise InvalidInputError(f"motif_id cannot be combined with {clash} (create-advanced refuses it)")
    if "ref_id" in body and "desc" in body:
        raise InvalidInputError("ref_id cannot be combined with desc (create-advanced refuses it)")
    body.update(dispatch_fields(**dispatch))
    return body


def _ref_of(name: str, value: Any) -> str | int:
    """A reference id: as given, or the ``id`` of an upload result."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return check_song_id(name, value)


def build_edit_body(operation: Any, song_id: Any, *, lyrics: Any = None, start_ms: Any = None, end_ms: Any = None,
                    keep_melody: Any = None, title: Any = None, desc: Any = None, vocal_gender: Any = None,
                    model: Any = None, **dispatch: Any) -> dict[str, Any]:
    """Validate POST music/extend | regenerate | edit | remix arguments and build the body.

    No ``account``: the song's own account runs it. ``extend`` needs ``lyrics``; ``regenerate`` needs
    ``start_ms``; ``edit`` takes ``start_ms``/``end_ms``/``lyrics``/``keep_melody``/``title`` and refuses a
    ``model`` (the API answers 400); ``remix`` takes ``desc``/``lyrics``/``title``/``model``/``vocal_gender``."""
    op = check_choice("operation", operation, tuple(EDIT_PATHS), required=True)
    allowed = {"extend": {"lyrics"}, "regenerate": {"start_ms"},
               "edit": {"lyrics", "start_ms", "end_ms", "keep_melody", "title"},
               "remix": {"desc", "lyrics", "title", "model", "vocal_gender"}}[str(op)]
    given = {"lyrics": lyrics, "start_ms": start_ms, "end_ms": end_ms, "keep_melody": keep_melody, "title": title,
             "desc": desc, "vocal_gender": vocal_gender, "model": model}
    extra = sorted(k for k, v in given.items() if not unset(v) and k not in allowed)
    if extra:
        raise InvalidInputError(f"operation {op!r} does not take {', '.join(extra)} "
                                f"(it takes: {', '.join(sorted(allowed))})")
    body: dict[str, Any] = {"song_id": check_song_id("song_id", song_id)}
    _put(body, "lyrics", check_text("lyrics", lyrics, required=op == "extend", max_length=LYRICS_MAX))
    start = check_number("start_ms (start_milliseconds)", start_ms, 0, None, integer=True)
    if op == "regenerate" and start is None:
        raise InvalidInputError("operation 'regenerate' needs start_ms (where to rewrite from, in milliseconds)")
    end = check_number("end_ms (end_milliseconds)", end_ms, 0, None, integer=True)
    if start is not None and end is not None and end <= start:
        raise InvalidInputError(f"end_ms ({end:.0f}) must be greater than start_ms ({start:.0f})")
    _put(body, "start_milliseconds", None if start is None else int(start))
    _put(body, "end_milliseconds", None if end is None else int(end))
    _put(body, "keep_melody", check_bool("keep_melody", keep_melody))
    _put(body, "title", check_text("title", title, max_length=TITLE_MAX))
    _put(body, "desc", check_text("desc", desc, max_length=DESC_MAX))
    _put(body, "vocal_gender", check_choice("vocal_gender", vocal_gender, VOCAL_GENDERS))
    dispatch.pop("account", None)
    body.update(dispatch_fields(model=model, **dispatch))
    return body


def build_stems_body(song_id: Any, *, all_stems: Any = True, **dispatch: Any) -> dict[str, Any]:
    """POST music/stems: ``all_stems`` True (up to 12 stems + MIDI, 100 Gold) or False (vocals + instrumental,
    20 Gold). Every call is a new, paid extraction."""
    body: dict[str, Any] = {"song_id": check_song_id("song_id", song_id)}
    _put(body, "all_stems", check_bool("all_stems", all_stems))
    dispatch.pop("account", None)
    dispatch.pop("model", None)
    body.update(dispatch_fields(**dispatch))
    return body


def build_stems_download_body(stems_id: Any, *, stem_name: Any = None, daw: Any = None) -> dict[str, Any]:
    """POST music/stems-download (free): both zips, one stem (``stem_name``) or a DAW session (``daw``)."""
    body: dict[str, Any] = {"stems_id": check_id("stems_id", stems_id)}
    _put(body, "stem_name", check_text("stem_name", stem_name, max_length=64))
    _put(body, "daw", check_text("daw", daw, max_length=64))
    if "stem_name" in body and "daw" in body:
        raise InvalidInputError("stem_name and daw exclude each other: ask for one stem or one DAW session")
    return body


def build_download_body(song_id: Any, kind: Any = "stem") -> dict[str, Any]:
    """POST music/download: ``type`` ``stem`` (stems ZIP, Premier plan) or ``license`` (certificate)."""
    return {"song_id": check_song_id("song_id", song_id),
            "type": check_choice("type", kind, DOWNLOAD_TYPES, required=True)}


def build_lyrics_body(prompt: Any = None, *, account: Any = None) -> dict[str, Any]:
    """POST music/lyrics-generate (free): ``prompt`` optional (random lyrics without one)."""
    body: dict[str, Any] = {}
    _put(body, "prompt", check_text("prompt", prompt, max_length=PROMPT_MAX))
    _put(body, "account", check_account("account", account))
    return body


def upload_params(kind: Any, *, title: Any = None, genre: Any = None, mood: Any = None, url: Any = None,
                  account: Any = None) -> tuple[str, dict[str, Any]]:
    """The path and query of an upload (raw MP3 body): ``reference`` (POST files: ``title``, ``genre`` and
    ``mood`` required; PUBLIC on mureka.ai), ``motif`` (POST files/motif) or ``vocal`` (POST files/vocal,
    ``title`` required)."""
    chosen = str(check_choice("kind", kind, tuple(UPLOAD_KINDS), required=True))
    params: dict[str, Any] = {}
    _put(params, "account", check_account("account", account))
    if chosen == "reference":
        for name, value in (("title", title), ("genre", genre), ("mood", mood)):
            params[name] = check_text(name, value, required=True, max_length=200)
        _put(params, "url", check_reply_url(url) if not unset(url) else None)
    elif chosen == "vocal":
        params["title"] = check_text("title", title, required=True, max_length=200)
    elif any(not unset(v) for v in (title, genre, mood, url)):
        raise InvalidInputError("kind 'motif' takes only the file (and account)")
    return UPLOAD_KINDS[chosen], params


def check_upload(name: str, size: int | None, container: str | None = None) -> None:
    """An MP3 (the only type the API takes), not empty, at most 5 GB."""
    if size == 0:
        raise InvalidInputError(f"source: {name!r} is empty")
    if size is not None and size > UPLOAD_MAX_BYTES:
        raise InvalidInputError(f"source: {name!r} is {size / 2**30:.1f} GB; Mureka takes MP3 files up to 5 GB")
    if container is not None and container not in ("MPEG audio (MP3)", "MP3 (ID3)"):
        raise InvalidInputError(f"source: {name!r} is {container}: Mureka uploads take MP3 (audio/mpeg) only")


def normalize_job(value: Any, *, argument: str = "jobid") -> str:
    """One ``jobid``, or an operator result carrying it."""
    if isinstance(value, Mapping):
        value = value.get("jobid")
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    return check_id(argument, value)


def song_ids_of(value: Any, *, argument: str = "song") -> list[str | int]:
    """Song ids from a song id, a list of them, a job result or a list of results / song dicts."""
    if isinstance(value, Mapping):
        ids = value.get("song_ids") or [s.get("song_id") for s in value.get("songs") or [] if isinstance(s, Mapping)]
        ids = ids or ([value["song_id"]] if value.get("song_id") is not None else [])
        return [check_song_id(f"{argument}[{n}]", i) for n, i in enumerate(ids)]
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [check_song_id(argument, value)]
    if isinstance(value, (list, tuple)):
        return [i for item in value for i in song_ids_of(item, argument=argument)]
    raise InvalidInputError(f"{argument} must be a song id, a job result or a list of them, got {value!r:.120}")


def pick_song(value: Any, index: int, *, argument: str = "song") -> str | int:
    """Song number ``index`` of an operator input (a song id, a job result, a list of them)."""
    ids = song_ids_of(value, argument=argument)
    if not ids:
        raise InvalidInputError(f"{argument} names no song (a job that has not completed?)")
    if index >= len(ids):
        raise InvalidInputError(f"song_index {index} is out of range: {argument} has {len(ids)} song(s)")
    return ids[index]
