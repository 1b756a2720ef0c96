"""Scrub the HTTP libraries' own log records: no query string (signed URLs), no registered secret.

urllib3 logs every request line at DEBUG (``"GET /x.wav?X-Goog-Signature=... HTTP/1.1" 200``) and every
retry / redirect with its full URL. A signed download link carries its signature in the query, so a task
log at DEBUG would hold a usable link. :func:`install_log_scrubber` puts one :class:`QueryScrubber` on each
of those loggers (once; the transport calls it at import). The filter runs only for records that are
actually emitted, so it costs nothing while DEBUG is off.
"""

from __future__ import annotations

import logging
import re
import threading

from airflow_provider_music.core.redaction import redact

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
