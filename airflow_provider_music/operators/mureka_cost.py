"""Cost and budget of the Mureka operators (the rules: :mod:`airflow_provider_music.contract.mureka_cost`).

* Generation, edits and stems (paid): Mureka reports no spend per job, so the cost is the price useapi.net
  documents for the submitted work, in Gold (24 a generation on V9.5/V9, 20 an edit, 100/20 stems), and
  "unknown" where none is documented (extend, regenerate, other models, a default model that is not documented).
  A job not waited for is "unknown" too, except an edit (documented: charged when the request is accepted).
* The budget estimate is the same price (extra ``price_per_song`` overrides the price per song), and the balance
  check reads GET profile ``credits`` of the account that pays: ``account`` (or the connection's ``account``
  extra; none: the API's only account) for a generation, the account inside the song id for a song-based call
  (a bare numeric song id names none: the balance is then not checked, the log says so).
* Lyrics: 0 (documented free). Uploads and MP3 downloads: "unknown" (no price documented; only stems downloads
  and lyrics are documented free).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_music.contract import mureka_cost as price
from airflow_provider_music.core.errors import MusicApiError
from airflow_provider_music.core.report import Cost
from airflow_provider_music.operators.cost import Estimate, describe, free, unknown, with_cost

UNIT = price.UNIT
NOT_WAITED = "not waited for (wait_for_completion=False): the job may still fail; Mureka reports no spend per job"
UPLOAD_UNKNOWN = "useapi.net documents no price for uploads"
DOWNLOAD_UNKNOWN = "useapi.net documents no price for MP3 downloads (only stems downloads and lyrics are free)"


def estimate(op: Any) -> Estimate:
    """The budget estimate of ``op``'s next submission and the paying account's Gold left (GET profile)."""
    body = op.request(None)
    key, model, all_stems = op.priced()
    amount, basis = price.submission(key, model, all_stems=all_stems, override=op.hook.price_per_song())
    song = body.get("song_id")
    if song is not None:  # song-based: the song's own account pays
        account = price.song_account(song)
        if account is None:
            return Estimate(amount, UNIT, basis + "; the song id names no account")
    else:
        account = op.hook.account_of(body.get("account"))
    try:
        left, named = op.hook.gold_left(account)
    except MusicApiError as exc:  # the create itself says what is wrong; the balance stays unchecked
        return Estimate(amount, UNIT, f"{basis}; GET profile failed: {exc}"[:300], account=account or "")
    return Estimate(amount, UNIT, basis, remaining=left, account=named)


def job_cost(op: Any, result: Any) -> Cost:
    """What the submitted job cost: its documented price, or unknown (see the module doc)."""
    key, model, all_stems = op.priced()
    if result is None and key not in price.CHARGED_ON_ACCEPT:
        return unknown(NOT_WAITED, UNIT)
    amount, source = price.submission(key, model, all_stems=all_stems)
    return Cost(amount, UNIT, source)


def note(op: Any, **facts: Any) -> None:
    """Add ``facts`` to ``op.task_report`` (what is not known - None - is left out)."""
    op.task_report.facts.update({k: v for k, v in facts.items() if v is not None})


def noted(op: Any, output: dict[str, Any], cost: Cost) -> dict[str, Any]:
    """``output`` with its ``cost`` key, the cost noted in ``task_report``."""
    op.task_report.cost = cost
    return with_cost(output, cost)


def lyrics_result(op: Any, output: dict[str, Any]) -> dict[str, Any]:
    """Lyrics: documented free."""
    return noted(op, output, free(price.FREE_LYRICS, UNIT))


def upload_result(op: Any, output: dict[str, Any]) -> dict[str, Any]:
    """Uploads: no price documented -> unknown."""
    return noted(op, output, unknown(UPLOAD_UNKNOWN, UNIT))


def download_result(op: Any, output: dict[str, Any]) -> dict[str, Any]:
    """MP3 downloads: no price documented -> unknown."""
    return noted(op, output, unknown(DOWNLOAD_UNKNOWN, UNIT))


def said(op: Any) -> str:
    """The cost for a summary line."""
    return describe(op.task_report.cost)


class JobCost:
    """Cost and budget of the Mureka job operators (generate, edit, stems): mixed in before ``MusicJobOperator``.

    The operator names what is priced with ``priced()``: the operation (``create``, ``advanced``,
    ``instrumental``, ``extend``, ``regenerate``, ``edit``, ``remix``, ``stems``), the model and ``all_stems``."""

    def priced(self) -> tuple[str, Any, bool]:
        """``(operation, model, all_stems)`` as :func:`~airflow_provider_music.contract.mureka_cost.submission`
        prices them."""
        raise NotImplementedError

    def estimate_cost(self, context: Any) -> Estimate:
        """Budget estimate: the documented price (or extra ``price_per_song``); the paying account's Gold left."""
        return estimate(self)

    def work_cost(self, record: Mapping[str, Any], result: Any, output: Any) -> Cost | None:
        """The documented price of the submitted work in Gold, else unknown (see the module doc)."""
        return job_cost(self, result)


__all__ = ["JobCost", "download_result", "estimate", "job_cost", "lyrics_result", "note", "said", "upload_result"]
