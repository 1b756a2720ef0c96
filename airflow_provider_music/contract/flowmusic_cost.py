"""Pure FlowMusic cost code: the price list of the budget guard and a job's charge in GET accounts/usage.

No I/O. FlowMusic reports spend per account and per song (a Flow Music "conversation"): GET accounts/usage
``per_conversation`` (``tokens``; credits = tokens / 12) and daily ``events`` rows naming the song
(``conversation_id``, ``conversation_title``, ``max_created_at``). A job record does not name its song, so a
job's charge is attributed as follows - exact when two tasks run on one account at once, "unknown" when it
cannot be told apart, never another task's spend:

* a generation makes a new song: the song charged since the create (a row with ``max_created_at`` at/after the
  create), whose whole spend lies in that window (``per_conversation`` tokens = the tokens of those rows: a new
  song), and whose title is the title of the job's clips (Flow Music names a clip after its song; the emulator
  adds `` (A)``/`` (B)``). Exactly one such song -> its credits; none or several (two jobs with the same
  title at once) -> unknown.
* an edit charges the song of its source clip: the operator reads that song's ``per_conversation`` tokens right
  before the create (kept in the job record as two small values); the cost is the growth of that song. Two
  edits of the SAME song at the same time cannot be told apart (documented limit: each reports both).

The live balance (GET accounts/{email} ``credits_remaining``) is not used for the cost: a before/after
difference would count another task's spend on the same account.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_music.contract.flowmusic import invalid_answer, parse_iso

#: GET accounts/usage: ``credits = tokens / 12``.
TOKENS_PER_CREDIT = 12
#: Credits one generation or edit costs, per model, for the budget guard's estimate. The usage example of the
#: contract charges one song 60 tokens = 5 credits; whether models differ in price is not documented (open
#: question), so both are 5. The connection extra ``price_per_song`` overrides it.
PRICE_PER_SONG = {"lyria-3-pro": 5.0, "lyria-3.5": 5.0}
DEFAULT_PRICE = 5.0
#: Edits documented (reportedly) free: ``effect``. Stems, lyrics and downloads are free too (not jobs).
FREE_OPERATIONS = ("effect",)
_CLIP_ACCOUNT = re.compile(r"^user:[0-9A-Fa-f-]{36}-(?P<email>[^\s@]+@[^\s@]+?)-clip:")
#: Where the cost comes from, as reported (``Cost.source``).
SOURCE = "GET accounts/usage per_conversation"


def song_price(model: Any, operation: str | None = None, override: float | None = None) -> float:
    """Credits one generation/edit with ``model`` is expected to cost (0 for a free edit)."""
    if operation in FREE_OPERATIONS:
        return 0.0
    if override is not None:
        return float(override)
    return PRICE_PER_SONG.get(str(model or "lyria-3-pro"), DEFAULT_PRICE)


def clip_account(clip: Any) -> str | None:
    """The account e-mail inside a clip id (``user:<uuid>-<email>-clip:<uuid>``), else None."""
    found = _CLIP_ACCOUNT.match(clip) if isinstance(clip, str) else None
    return found.group("email") if found else None


def _rows(usage: Any) -> tuple[list[Mapping[str, Any]], dict[str, float]]:
    events = usage.get("events") if isinstance(usage, Mapping) else None
    summary = usage.get("summary") if isinstance(usage, Mapping) else None
    songs = summary.get("per_conversation") if isinstance(summary, Mapping) else None
    if not isinstance(events, list) or not isinstance(songs, list):
        raise invalid_answer("GET accounts/usage", usage)
    totals = {str(s["conversation_id"]): _tokens(s.get("tokens")) for s in songs
              if isinstance(s, Mapping) and s.get("conversation_id")}
    return [e for e in events if isinstance(e, Mapping) and e.get("conversation_id")], totals


def _tokens(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def titled(song_title: Any, clip_titles: Iterable[Any]) -> bool:
    """True when a clip title is the song's title (or the song's title followed by a take or edit suffix)."""
    song = str(song_title or "").strip()
    return bool(song) and any(isinstance(t, str) and (t.strip() == song or t.startswith(song + " ("))
                              for t in clip_titles)


def song_tokens(usage: Any, song: str) -> float:
    """The tokens charged to ``song`` (``per_conversation``), 0 when it has none."""
    return _rows(usage)[1].get(song, 0.0)


def song_of(usage: Any, clip_title: Any) -> str | None:
    """The one song (``conversation_id``) whose title the clip carries, else None (none or several)."""
    events, totals = _rows(usage)
    summary = usage["summary"]["per_conversation"]
    found = {str(s["conversation_id"]) for s in summary if isinstance(s, Mapping) and s.get("conversation_id")
             and titled(s.get("title"), [clip_title])}
    found |= {str(e["conversation_id"]) for e in events if titled(e.get("conversation_title"), [clip_title])}
    return next(iter(found)) if len(found) == 1 else None


def new_song_charge(usage: Any, clip_titles: list[Any], since: float | None) -> tuple[float | None, str]:
    """Credits of the one new song titled like ``clip_titles`` charged since ``since`` (see the module doc);
    ``(None, why)`` when there is none or several."""
    events, totals = _rows(usage)
    window: dict[str, float] = {}
    for row in events:
        when = parse_iso(row.get("max_created_at"))
        if since is not None and when is not None and when < since:
            continue
        if row.get("type") in ("daily-free", "grant") or not titled(row.get("conversation_title"), clip_titles):
            continue
        song = str(row["conversation_id"])
        window[song] = window.get(song, 0.0) + _tokens(row.get("amount"))
    new = [song for song, tokens in window.items() if tokens > 0 and abs(totals.get(song, tokens) - tokens) < 1e-9]
    if len(new) == 1:
        return window[new[0]] / TOKENS_PER_CREDIT, SOURCE
    if not new:
        return None, "no charge of this song in GET accounts/usage yet"
    return None, f"{len(new)} new songs with this title were charged meanwhile: cannot tell which is this job's"
