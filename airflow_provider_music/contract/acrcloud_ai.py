"""ACRCloud AI-music detection in file scanning: the per-file ``ai_detection[]`` results (pure).

A container created with ``ai_detection`` adds ``results.ai_detection`` to every scanned file: a list of
``{prediction, likely_source, ai_probability, duration, source_probabilities[{source, probability}]}``
(third-party clients also read ``start``, ``end``, ``stem`` and ``segments[]``). What DECIDES is read
strictly: ``ai_probability`` must be a finite number in [0, 1] and ``prediction`` one of the spellings in
:data:`AI_PREDICTIONS`, or the file's verdict is ``"unreadable"`` - never "not AI". What only DESCRIBES
(source, durations, offsets, stem, segments) is converted when usable and dropped with a warning otherwise.

A file's verdict is ``"ai"`` when the service itself predicts ``ai`` for any item (stems, parts) or its highest
``ai_probability`` reaches 0.5 - a prediction and a probability that disagree never make a file "human". With
an explicit threshold, the highest probability decides against it (a disagreeing ``ai`` prediction is logged).
The likely source is the deciding item's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_music.contract.acrcloud import record_key
from airflow_provider_music.core.errors import InvalidResponseError
from airflow_provider_music.core.parsing import describe_only, number_of, seconds_of, text_of
from airflow_provider_music.core.validation import validate_number

log = logging.getLogger(__name__)
DEFAULT_AI_THRESHOLD = 0.5
#: The spellings of ``prediction`` read as a verdict (case and separators ignored); anything else is unreadable.
AI_PREDICTIONS: dict[str, str] = {
    "ai": "ai", "aigenerated": "ai", "generated": "ai", "aigc": "ai", "synthetic": "ai",
    "human": "human", "humanmade": "human", "notai": "human", "real": "human", "natural": "human",
}
AI_VERDICTS = ("ai", "human", "unreadable")
#: Describe-only lists are cut to this many entries (XCom holds small dicts).
MAX_AI_ENTRIES = 20

_ITEM_FIELDS: dict[str, Callable[[Any], Any]] = {"likely_source": text_of, "duration": seconds_of, "start": seconds_of, "end": seconds_of, "stem": text_of}
_SEGMENT_FIELDS: dict[str, Callable[[Any], Any]] = {"start": seconds_of, "end": seconds_of, "prediction": text_of, "ai_probability": number_of}


def check_ai_threshold(value: Any, argument: str = "ai_threshold") -> float | None:
    """A probability threshold in [0, 1], or ``None`` (the service's prediction or 0.5 decides);
    ``InvalidInputError`` naming ``argument`` otherwise."""
    return None if value is None else float(validate_number(value, argument, minimum=0.0, maximum=1.0))


def probability_of(value: Any) -> float | None:
    """A deciding probability: an int or float (not a bool, not a text), finite, in [0, 1]; else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and 0.0 <= number <= 1.0 else None


def prediction_of(value: Any) -> str | None:
    """``"ai"`` or ``"human"`` from the API's spelling (``"AI"``, ``"ai-generated"``, ``"Human made"``...)."""
    if not isinstance(value, str):
        return None
    return AI_PREDICTIONS.get("".join(ch for ch in value.lower() if ch.isalnum()))


def _sources(raw: Any, what: str) -> list[dict[str, Any]]:
    """``source_probabilities`` (describe-only): readable ``{source, probability}`` entries, highest first."""
    if raw is None:
        return []
    entries = raw if isinstance(raw, list) else [raw]
    out = []
    for entry in entries[:MAX_AI_ENTRIES]:
        fields = describe_only(entry, {"source": text_of, "probability": probability_of}, what=f"{what} source")
        if "source" in fields:
            out.append({"source": fields["source"], "probability": fields.get("probability")})
    return sorted(out, key=lambda e: -(e["probability"] or 0.0))


def _segments(raw: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        return []
    return [describe_only(s, _SEGMENT_FIELDS, what=f"{what} segment") for s in raw[:MAX_AI_ENTRIES]
            if isinstance(s, dict)]


def read_ai_item(item: Any, what: str) -> tuple[dict[str, Any] | None, str | None]:
    """One ``ai_detection`` entry -> (normalised item, None) or (None, why it is no verdict)."""
    if not isinstance(item, dict):
        return None, f"an ai_detection entry is {type(item).__name__}, not an object"
    probability = probability_of(item.get("ai_probability"))
    if probability is None:
        return None, f"ai_probability is {str(item.get('ai_probability'))[:40]!r}, not a finite number in [0, 1]"
    prediction = prediction_of(item.get("prediction"))
    if prediction is None:
        return None, f"prediction is {str(item.get('prediction'))[:40]!r}, not one of ai / human"
    out: dict[str, Any] = {"prediction": prediction, "ai_probability": probability,
                           **describe_only(item, _ITEM_FIELDS, what=what)}
    out["source_probabilities"] = _sources(item.get("source_probabilities"), what)
    if item.get("segments") is not None:
        out["segments"] = _segments(item.get("segments"), what)
    return out, None


def ai_detection_of(record: Mapping[str, Any]) -> Any:
    """The raw ``ai_detection`` of a scanned file (``results.ai_detection``; some answers put it beside
    ``results``); ``None`` when absent."""
    results = record.get("results")
    if isinstance(results, dict) and results.get("ai_detection") is not None:
        return results["ai_detection"]
    return record.get("ai_detection")


def ai_summary(record: Mapping[str, Any], *, threshold: float | None = None) -> dict[str, Any]:
    """``{ai_verdict, ai_probability, ai_likely_source, ai_prediction, ai_detection, ai_problem}`` of a scanned
    file. ``ai_verdict`` is ``"unreadable"`` (with ``ai_problem`` naming the field) when the answer holds no
    readable ``ai_detection``: missing, not a list, empty, or an entry without a usable deciding field."""
    what = f"scan file {record_key(record.get('id'))} ai_detection"
    raw = ai_detection_of(record)
    items = [raw] if isinstance(raw, dict) else raw
    problem = None
    if raw is None:
        problem = "the result holds no ai_detection"
    elif not isinstance(items, list):
        problem = f"ai_detection is {type(raw).__name__}, not a list"
    elif not items:
        problem = "ai_detection is empty"
    read: list[dict[str, Any]] = []
    for item in items if problem is None else ():
        parsed, problem = read_ai_item(item, what)
        if parsed is None:
            break
        read.append(parsed)
    if problem is not None:
        return {"ai_verdict": "unreadable", "ai_probability": None, "ai_likely_source": None, "ai_prediction": None,
                "ai_detection": [], "ai_problem": problem}
    top = max(read, key=lambda i: i["ai_probability"])
    said_ai = [i for i in read if i["prediction"] == "ai"]
    if threshold is None:  # the default: the service's own prediction OR a probability >= 0.5 says AI
        if said_ai and top["ai_probability"] < DEFAULT_AI_THRESHOLD:
            top = max(said_ai, key=lambda i: i["ai_probability"])
        verdict = "ai" if said_ai or top["ai_probability"] >= DEFAULT_AI_THRESHOLD else "human"
    else:  # a threshold the user chose: the probability decides, a disagreeing prediction is said aloud
        verdict = "ai" if top["ai_probability"] >= threshold else "human"
        if verdict == "human" and said_ai:
            log.warning("%s: the service predicts 'ai' at probability %.3f, under ai_threshold=%g: verdict "
                        "'human' as asked", what, max(i["ai_probability"] for i in said_ai), threshold)
    return {
        "ai_verdict": verdict,
        "ai_probability": top["ai_probability"], "ai_likely_source": top.get("likely_source"),
        "ai_prediction": top["prediction"], "ai_detection": read[:MAX_AI_ENTRIES], "ai_problem": None,
    }


def require_ai_verdict(summary: Mapping[str, Any], *, where: str) -> None:
    """Fail closed: an ``"unreadable"`` AI verdict is :class:`InvalidResponseError` naming the file and field."""
    if summary.get("ai_verdict") != "unreadable":
        return
    raise InvalidResponseError(
        f"{where}: {summary.get('ai_problem')}; the AI detection result is no verdict (not reported as 'not AI')",
        request_may_have_been_processed=False,
    )


__all__ = [
    "AI_PREDICTIONS", "AI_VERDICTS", "DEFAULT_AI_THRESHOLD", "MAX_AI_ENTRIES", "ai_detection_of", "ai_summary",
    "check_ai_threshold", "prediction_of", "probability_of", "read_ai_item", "require_ai_verdict",
]
