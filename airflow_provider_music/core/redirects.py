"""Redirects, followed by the core itself (sync and async alike) so credentials never leave their origin.

``requests`` strips only ``Authorization`` on a cross-host redirect and aiohttp only its own auth; an API
key in ``x-api-key`` went along. The transports follow redirects hop by hop and ask, for every hop, whether
the target may receive the API's credentials (:meth:`MusicApiHook._same_origin`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

from airflow_provider_music.core.errors import InvalidResponseError, path_of, redact_url

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
#: Headers that carry credentials whatever the API (lower-case); a hook's ``auth_headers()`` names are added.
CREDENTIAL_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token", "x-access-token",
})  # fmt: skip


@dataclass(frozen=True)
class Hop:
    """One leg of a request: method, absolute URL and whether the request body is sent on it."""

    method: str
    url: str
    resend_body: bool = True


def next_hop(hop: Hop, status: int, location: str) -> Hop:
    """The request a redirect answer asks for (RFC 9110: 303 -> GET; 301/302 turn POST into GET)."""
    target = urljoin(hop.url, location.strip())
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidResponseError(
            f"{hop.method} {path_of(hop.url)}: redirected to an unsupported location {redact_url(target)!r}",
            method=hop.method, path=path_of(hop.url),
        )
    target = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    if (status == 303 and hop.method != "HEAD") or (status in (301, 302) and hop.method == "POST"):
        return Hop("GET", target, resend_body=False)
    return Hop(hop.method, target, resend_body=hop.resend_body)
