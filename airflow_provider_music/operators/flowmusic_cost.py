"""Cost and budget of the FlowMusic operators (the rules: :mod:`airflow_provider_music.contract.flowmusic_cost`).

* Generation and edits (paid): the cost is the job's charge in GET accounts/usage, per song (exact when two
  tasks share an account; "unknown" when the song cannot be told apart). The budget estimate is the price per
  song of the model (extra ``price_per_song`` overrides it; ``effect`` edits are free), and the balance check reads
  GET accounts/{email} ``credits_remaining`` when the account is known before the create (``account_email`` or
  the connection's ``email`` extra; for an edit, the account inside the clip id). Without a known account the API
  picks one: the balance is then not checked (the log says so).
* Stems, downloads and lyrics: 0 credits because the vendor documents them free (lyrics: the answer's own
  ``credits_burned``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_music.contract import flowmusic_cost as price
from airflow_provider_music.core.errors import CLOCK_SKEW, MusicApiError
from airflow_provider_music.core.report import Cost
from airflow_provider_music.operators.cost import Estimate, describe, free, unknown, with_cost

if TYPE_CHECKING:
    from airflow_provider_music.core.parsing import PollResult

UNIT = "credits"
#: Why stems and downloads report 0: the vendor's launch post (contract S18).
FREE_FILES = "free: useapi.net documents downloads (mp3, wav, m4a) and stems as free"
FREE_LYRICS = "free: POST music/lyrics credits_burned"


def estimate(op: Any) -> Estimate:
    """The budget estimate of ``op``'s next create (generate or edit) and the account's credits left."""
    body = op.request(None)
    operation = body.get("operation")
    amount = price.song_price(body.get("model"), operation, op.hook.price_per_song())
    basis = f"{'free ' + operation if operation in price.FREE_OPERATIONS else 'price per song'} of model " \
            f"{body.get('model') or 'lyria-3-pro'}"
    account = price.clip_account(body.get("clip")) if body.get("clip") else op.hook.account_email(body.get("email"))
    if not account:
        return Estimate(amount, UNIT, basis + "; account picked by the API")
    return Estimate(amount, UNIT, basis, remaining=op.hook.credits_remaining(account), account=account)


def song_before(op: Any) -> dict[str, Any]:
    """For an edit: the source song and its tokens right before the create (``{}`` when unknown: the source
    clip's title is known when ``clip`` is a job result)."""
    clip_id = op.clip_id()
    clips = op.clip.get("clips") if isinstance(op.clip, Mapping) else None
    found = [c for c in clips or [] if isinstance(c, Mapping) and c.get("clip") == clip_id]
    clip_title = found[0].get("title") if found else None
    email = price.clip_account(clip_id)
    if not email or not clip_title:
        return {}
    try:
        usage = op.hook.get_usage(email)
        song = price.song_of(usage, clip_title)
        return {"song": song, "song_tokens": price.song_tokens(usage, song)} if song else {}
    except MusicApiError as exc:  # the cost is then unknown; the edit itself goes on
        op.log.warning("GET accounts/usage before the edit failed (%s): its cost will be unknown", exc)
        return {}


def job_cost(op: Any, record: Mapping[str, Any], result: PollResult | None, output: Any) -> Cost:
    """What the finished generate/edit job cost, from GET accounts/usage of its account."""
    if result is None:
        return unknown("not waited for (wait_for_completion=False): see GET accounts/usage", UNIT)
    out = output if isinstance(output, Mapping) else {}
    email = out.get("email") or record.get("email")
    if not isinstance(email, str) or not email:
        return unknown("the job names no account", UNIT)
    try:
        usage = op.hook.get_usage(email)
        if isinstance(record.get("song"), str):
            grown = price.song_tokens(usage, record["song"]) - float(record.get("song_tokens") or 0)
            return Cost(round(grown / price.TOKENS_PER_CREDIT, 4), UNIT, price.SOURCE + " (the edited song)")
        titles = [c.get("title") for c in out.get("clips") or [] if isinstance(c, Mapping)]
        sent = record.get("sent_at")
        since = float(sent) - CLOCK_SKEW if isinstance(sent, (int, float)) else None
        amount, source = price.new_song_charge(usage, titles, since)
    except MusicApiError as exc:
        return unknown(f"GET accounts/usage failed: {exc}"[:200], UNIT)
    return Cost(None if amount is None else round(amount, 4), UNIT, source)


def free_result(op: Any, output: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """``output`` of a free operation with its ``cost`` (0: documented free, ``source`` says where; default:
    what :func:`said` noted), noted in ``task_report``."""
    if source is not None or op.task_report.cost is None:
        op.task_report.cost = free(source or FREE_FILES, UNIT)
    return with_cost(output, op.task_report.cost)


def said(op: Any, free_source: str | None = None) -> str:
    """The cost for a summary line (noting a documented-free cost first when ``free_source`` is given)."""
    if free_source is not None:
        op.task_report.cost = free(free_source, UNIT)
    return describe(op.task_report.cost)


def lyrics_result(op: Any, output: dict[str, Any]) -> dict[str, Any]:
    """Lyrics: the answer's ``credits_burned`` (documented 0), else documented free."""
    burned = output.get("credits_burned")
    if isinstance(burned, (int, float)) and not isinstance(burned, bool):
        op.task_report.cost = Cost(burned, UNIT, FREE_LYRICS)
    else:
        op.task_report.cost = free("free: lyrics are documented free (no credits)", UNIT)
    return with_cost(output, op.task_report.cost)


class JobCost:
    """Cost and budget of the FlowMusic job operators (generate, edit): mixed in before ``MusicJobOperator``."""

    def estimate_cost(self, context: Any) -> Estimate:
        """Budget estimate: the model's price per song; the account's credits left when known."""
        return estimate(self)

    def work_cost(self, record: dict[str, Any], result: Any, output: Any) -> Cost | None:
        """The job's charge in GET accounts/usage, in credits (see the module doc)."""
        return job_cost(self, record, result, output)


class EditCost:
    """The edit's create with its source song's spend read just before it (the cost is what the song grows by)."""

    def submit(self, context: Any, previous: dict[str, Any] | None) -> dict[str, Any]:
        """``song_before`` + the job operator's own submit."""
        return {**song_before(self), **super().submit(context, previous)}  # type: ignore[misc]


__all__ = ["EditCost", "JobCost", "describe", "estimate", "free_result", "job_cost", "lyrics_result", "said", "song_before"]
