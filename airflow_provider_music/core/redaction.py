"""One scrubber for secrets in every encoding, applied wherever server text reaches an exception or a log.

A secret is found and replaced by ``***`` in these forms, alone or mixed inside one occurrence:

* raw, or split by whitespace / line breaks (also JSON's ``\\n`` escapes) between any two characters;
* URL-encoded: ``quote`` / ``quote_plus`` (any character may be ``%XX`` in either hex case, ``+`` for a
  space, and ``%25XX`` double encoding);
* JSON-escaped: ``\\uXXXX`` for any character (either hex case) and ``\\/``;
* base64, standard or URL-safe, padded or not, alone or embedded at any of the three byte alignments in a
  longer base64 run (so ``Basic base64(user:token)`` is caught);
* truncated: a prefix (6 characters or more) of the secret (what ``str(body)[:200]`` leaves of it at the cut).

:func:`register_secret` is THE registration point of every credential: the connection's password and
secret-named extras (``core/settings.py``) and every credential a hook method is handed (a FlowMusic refresh
token, a Riffusion cookie: declared with :func:`secret_arguments`). It feeds both this scrubber and Airflow's
log masker. :class:`~airflow_provider_music.core.errors.MusicApiError` scrubs its message with every
registered secret, so an error message built anywhere (transport, parser, operator) cannot carry one.

The HTTP libraries' own log records are scrubbed too: urllib3 logs every request line at DEBUG
(``"GET /x.wav?X-Goog-Signature=... HTTP/1.1" 200``) and every retry / redirect with its full URL, so a task
log at DEBUG would hold a usable signed link. :func:`install_log_scrubber` puts one :class:`QueryScrubber` on
each of those loggers (once; the sync driver calls it at import): queries stripped, secrets masked. The
filter runs only for records that are actually emitted, so it costs nothing while DEBUG is off.
"""

from __future__ import annotations

import base64
import functools
import inspect
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

MASK = "***"
#: Secrets shorter than this are not scrubbed (they would mask ordinary words).
MIN_SECRET_LENGTH = 4
_GAP = r"(?:\s|\\+[nrt])*"  # whitespace, or JSON's \n escapes (doubled backslashes in a repr)
_B64_GAP = r"(?:\s|\\+[nr])*"

_REGISTRY: set[str] = set()
_REGISTRY_LOCK = threading.Lock()


def register_secret(secret: Any) -> None:
    """Remember ``secret`` so every later :func:`redact` (and every provider error message) removes it, and
    hand it to Airflow's log masker. Surrounding whitespace is registered stripped as well (what is sent)."""
    if not isinstance(secret, str):
        return
    for form in dict.fromkeys((secret, secret.strip())):
        if len(form) < MIN_SECRET_LENGTH:
            continue
        with _REGISTRY_LOCK:
            new = form not in _REGISTRY
            _REGISTRY.add(form)
        if new:  # Airflow's masker once per secret (in a triggerer each call is a round trip to the supervisor)
            _mask_in_airflow_logs(form)


def secret_arguments(*names: str) -> Callable[[F], F]:
    """Declare the credential arguments of a hook method: each is :func:`register_secret`-ed before the
    method runs, so no error, log line or repr of the call can carry it (sync and ``async`` methods).

    >>> @secret_arguments("refresh_token")
    ... def add_account(self, refresh_token: str, max_jobs: int | None = None): ...
    """

    def decorate(func: F) -> F:
        signature = inspect.signature(func)
        unknown = [n for n in names if n not in signature.parameters]
        if unknown:
            raise TypeError(f"{func.__qualname__} has no argument {unknown[0]!r}")

        def register(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            try:
                bound = signature.bind_partial(*args, **kwargs).arguments
            except TypeError:  # the call itself is wrong: Python says so when the function runs
                return
            for name in names:
                register_secret(bound.get(name))

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                register(args, kwargs)
                return await func(*args, **kwargs)

            wrapper: Any = async_wrapper
        else:

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                register(args, kwargs)
                return func(*args, **kwargs)

        wrapper.__secret_arguments__ = tuple(names)
        return wrapper  # type: ignore[no-any-return]

    return decorate


def _mask_in_airflow_logs(secret: str) -> None:
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - older layouts
        try:
            from airflow.utils.log.secrets_masker import mask_secret  # type: ignore[no-redef]
        except ImportError:
            return
    try:
        mask_secret(secret)
    except Exception:  # noqa: BLE001 - masking in logs is best effort, never a failure
        return


def known_secrets() -> tuple[str, ...]:
    """Every secret registered so far (connection tokens and secret extras), for scrubbing."""
    with _REGISTRY_LOCK:
        return tuple(_REGISTRY)


def redact(text: Any, secrets: str | Iterable[str | None] | None = None) -> Any:
    """``text`` with every secret (``secrets`` plus every registered one) replaced by ``***``.

    Non-string values are returned unchanged. Longer secrets are scrubbed first.
    """
    if not isinstance(text, str) or not text:
        return text
    items = {secrets} if isinstance(secrets, str) else set(secrets or ())
    items.update(known_secrets())
    for secret in sorted((s for s in items if s and len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True):
        text = _pattern(secret).sub(MASK, text)
    return text


def redact_data(value: Any, secrets: str | Iterable[str | None] | None = None, *, _depth: int = 0) -> Any:
    """:func:`redact` applied to every string inside a JSON-like value (dicts, lists), keys included."""
    if _depth > 50:
        return MASK
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact(str(k), secrets): redact_data(v, secrets, _depth=_depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v, secrets, _depth=_depth + 1) for v in value]
    return value


def describe_body(body: Any, limit: int = 200, secrets: str | Iterable[str | None] | None = None) -> str:
    """A short, scrubbed description of an unexpected answer for an error message (scrub, then cut)."""
    text = redact(str(body), secrets)
    return text if len(text) <= limit else text[:limit] + "..."


@functools.lru_cache(maxsize=64)
def _pattern(secret: str) -> re.Pattern[str]:
    alternatives = [_char_level(secret)] + _base64_forms(secret) + _prefix_forms(secret)
    return re.compile("|".join(f"(?:{alt})" for alt in alternatives))


def _char_alternatives(ch: str) -> str:
    forms = [re.escape(ch)]
    encoded = ch.encode("utf-8")
    pct = "".join(f"%{b:02x}" for b in encoded)
    forms.append(_hex_any_case(pct))
    forms.append(_hex_any_case("".join(f"%25{b:02x}" for b in encoded)))
    if ch == " ":
        forms.append(r"\+")
    if ch == "/":
        forms.append(r"\\+/")
    if ord(ch) < 0x10000:
        forms.append(r"\\+u" + _hex_any_case(f"{ord(ch):04x}"))
    else:  # a surrogate pair in JSON
        high, low = divmod(ord(ch) - 0x10000, 0x400)
        forms.append(r"\\+u" + _hex_any_case(f"{0xD800 + high:04x}") + r"\\+u" + _hex_any_case(f"{0xDC00 + low:04x}"))
    return "(?:" + "|".join(forms) + ")"


def _hex_any_case(text: str) -> str:
    out = []
    for ch in text:
        out.append(f"[{ch.lower()}{ch.upper()}]" if ch.isalpha() else re.escape(ch))
    return "".join(out)


def _char_level(secret: str) -> str:
    return _GAP.join(_char_alternatives(ch) for ch in secret)


def _base64_forms(secret: str) -> list[str]:
    data = secret.encode("utf-8")
    if len(data) < 6:
        return []
    forms: set[str] = set()
    for align in range(3):
        encoded = base64.b64encode(b"\0" * align + data + b"\0\0").decode("ascii")
        first_bit, last_bit = 8 * align, 8 * (align + len(data))
        keep = [i for i in range(len(encoded)) if 6 * i >= first_bit and 6 * i + 6 <= last_bit]
        core = encoded[keep[0] : keep[-1] + 1] if keep else ""
        if len(core) >= 6:
            forms.add(core)
            forms.add(core.replace("+", "-").replace("/", "_"))
    full = [_B64_GAP.join(re.escape(c) for c in form) for form in sorted(forms)]
    # a cut base64 run: its secret part sits inside the run (after "user:" bytes), so no word-start check
    return full + [p for form in sorted(forms) for p in _prefix_forms(form, shortest=8, word_start=False)]


def _prefix_forms(secret: str, shortest: int = 6, *, word_start: bool = True) -> list[str]:
    """A cut-off secret: at least ``shortest`` characters of its start, then the end of the text, ``...``,
    a quote or a closing bracket (what ``str(body)[:200]`` and friends leave of it)."""
    if len(secret) <= shortest:
        return []
    tail = secret[shortest:-1]
    optional = "".join(f"(?:{re.escape(c)}" for c in tail) + ")?" * len(tail)
    # only where a cut leaves it: at the end of the text, before "..." or a closing quote/bracket; never
    # inside a word (a prefix like "emulat" of "emulator-token" must not mask the word "emulator ")
    start = r"(?<![A-Za-z0-9])" if word_start else ""
    return [start + re.escape(secret[:shortest]) + optional + r"(?=$|\.\.\.|['\")\]}])"]


# ---- the HTTP libraries' log records ---------------------------------------------------------------
#: Loggers of the HTTP stacks that put request URLs in their messages (a logger filter does not see the
#: records of its children, so each one is named).
SCRUBBED_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.util.retry",
    "urllib3.response",
    "urllib3.connection",
    "aiohttp.client",
    "aiohttp.internal",
)
#: A query string: ``?`` after a path-like character, up to whitespace, a quote or a closing bracket.
_QUERY = re.compile(r"(?<=[\w/.~%:-])\?[^\s\"'<>()\[\]{}]*")
_INSTALL_LOCK = threading.Lock()


def strip_queries(text: str) -> str:
    """``text`` with every URL query string removed (``/a.wav?sig=x HTTP/1.1`` -> ``/a.wav HTTP/1.1``)."""
    return _QUERY.sub("", text)


def scrub_text(text: str) -> str:
    """What a scrubbed record says: queries stripped, then every registered secret masked."""
    return redact(strip_queries(text))


class QueryScrubber(logging.Filter):
    """Rewrite a record in place: its rendered message (and traceback text) without queries or secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub ``record`` in place; always keep it."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a badly formatted record: scrub its parts instead
            message = " ".join(str(part) for part in (record.msg, *(record.args or ())))  # type: ignore[arg-type]
        record.msg = scrub_text(message)
        record.args = ()
        if record.exc_info:
            record.exc_text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        return True


def install_log_scrubber() -> None:
    """Attach one :class:`QueryScrubber` to every logger in :data:`SCRUBBED_LOGGERS` (idempotent)."""
    with _INSTALL_LOCK:
        for name in SCRUBBED_LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, QueryScrubber) for f in logger.filters):
                logger.addFilter(QueryScrubber())
