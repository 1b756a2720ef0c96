"""Pure Mureka cost code: the prices useapi.net documents, in Mureka Gold (``shared/api/mureka.md``).

No I/O. Mureka reports no spend per job: there is no usage endpoint, and GET profile ``credits`` is the live
Gold balance of the account only (a before/after difference would count another task's spend on the same
account). What a task cost is therefore the documented price of the work it submitted, and "unknown" where
no price is documented - never a made-up number:

* a generation (create, create-advanced, create-instrumental) gives two songs at 12 Gold per song on V9.5 and
  V9 (blog 260814, changelog 260404): 24 Gold. Other models (V8, O2, V7.6) have no documented price. Without
  ``model`` create and create-advanced use the API default (V9.5 since Aug 2026); create-instrumental's default
  is not documented (open question 7);
* remix "costs the same Mureka Gold as POST /music/create-advanced" (24 Gold on V9.5); without ``model`` it runs
  on the account's default model, which is not known;
* edit: 20 Gold, one song, "Credits come off when the request is accepted";
* stems: 100 Gold (``all_stems``: up to 12 stems + MIDI) or 20 (vocals + instrumental), charged on every call;
* extend and regenerate: no documented price;
* lyrics and stems downloads are documented free.

The connection extra ``price_per_song`` overrides the price per song of the budget estimate only.
"""

from __future__ import annotations

import re
from typing import Any

UNIT = "Gold"
#: Gold per song of the models with a documented price (a generation, a remix, gives two songs).
GOLD_PER_SONG = {"V9.5": 12.0, "V9": 12.0}
SONGS_PER_GENERATION = 2
#: The API's default model of create and create-advanced (blog 260814: "V9.5 takes over from V9 as the default").
DEFAULT_MODEL = "V9.5"
EDIT_GOLD = 20.0
STEMS_GOLD = {True: 100.0, False: 20.0}
#: Operations that make two songs priced per song; ``edit`` and ``stems`` have fixed prices.
SONG_OPERATIONS = ("create", "advanced", "instrumental", "extend", "regenerate", "remix")
#: Operations whose default model is documented (``model`` omitted -> :data:`DEFAULT_MODEL`).
DEFAULTS_DOCUMENTED = ("create", "advanced")
#: Operations charged when the request is accepted (documented): their price holds before the job finishes.
CHARGED_ON_ACCEPT = ("edit",)
NO_SPEND = "Mureka reports no spend per job"
FREE_LYRICS = "free: useapi.net documents lyrics generation as free"
_SONG_ACCOUNT = re.compile(r"^user:\d+-mureka:(?P<account>\d+)-song:")


def song_account(song_id: Any) -> str | None:
    """The account id inside a song id (``user:<n>-mureka:<account>-song:<id>``), else None (a bare number)."""
    found = _SONG_ACCOUNT.match(song_id) if isinstance(song_id, str) else None
    return found.group("account") if found else None


def _model(value: Any) -> str | None:
    text = str(value).strip().upper() if isinstance(value, str) and value.strip() else None
    return text.replace("MUREKA-", "V") if text and text.startswith("MUREKA-") else text


def submission(operation: str, model: Any, *, all_stems: bool = True,
               override: float | None = None) -> tuple[float | None, str]:
    """``(Gold, where the price comes from)`` of one submission of ``operation`` (``create``, ``advanced``,
    ``instrumental``, ``extend``, ``regenerate``, ``edit``, ``remix``, ``stems``); ``(None, why)`` when no price is
    documented. ``override`` (extra ``price_per_song``) replaces the price per song (estimates only)."""
    if operation == "stems":
        what = "all stems" if all_stems else "vocals + instrumental"
        return STEMS_GOLD[bool(all_stems)], f"documented price: {STEMS_GOLD[bool(all_stems)]:g} Gold for {what}; {NO_SPEND}"
    if operation == "edit":
        return EDIT_GOLD, f"documented price: {EDIT_GOLD:g} Gold per edit, charged when accepted; {NO_SPEND}"
    if operation not in SONG_OPERATIONS:
        raise ValueError(f"unknown Mureka operation {operation!r}")
    if override is not None:
        return SONGS_PER_GENERATION * float(override), \
            f"connection extra price_per_song={override:g} x {SONGS_PER_GENERATION} songs"
    if operation in ("extend", "regenerate"):
        return None, f"useapi.net documents no price for {operation}; {NO_SPEND}"
    name = _model(model) or (DEFAULT_MODEL if operation in DEFAULTS_DOCUMENTED else None)
    if name is None:
        why = "the account's default model" if operation == "remix" else "its default model"
        return None, f"{operation} without model runs on {why}, whose price is not documented; {NO_SPEND}"
    per_song = GOLD_PER_SONG.get(name)
    if per_song is None:
        return None, f"useapi.net documents no price for model {name}; {NO_SPEND}"
    default = " (the API default)" if _model(model) is None else ""
    return SONGS_PER_GENERATION * per_song, (f"documented price: {per_song:g} Gold per song on {name}{default}, "
                                             f"{SONGS_PER_GENERATION} songs; {NO_SPEND}")


__all__ = ["CHARGED_ON_ACCEPT", "DEFAULT_MODEL", "EDIT_GOLD", "FREE_LYRICS", "GOLD_PER_SONG", "STEMS_GOLD", "UNIT",
           "song_account", "submission"]
